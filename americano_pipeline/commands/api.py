"""``americano api serve|openapi|token``: run the research API, print its OpenAPI schema, issue a user's token.

Why the secret is loaded (and created) here and not by the app: the token command and the server must sign and
check with the same file, and neither prints it.

Why ``--processes`` (several uvicorn workers, each built by ``application`` from the same settings, each with its
own worker pool, research cache, warehouse connection and recorder; the recorder's journal is shared safely,
``api.journal``: atomic claims): the computations are Python bound by the GIL, so one process used about 1.2 of 2
cores under 16 concurrent clients, two use 1.8 and answer about 1.6 times as many requests (issue #15,
``bench/api.py``), so two is the default. Each process compiles the ITS models before it serves
(``research.warm_up``, about 50 s): compiled by the first requests instead, under load, they made those requests
wait up to 25 s, beyond the 30 s timeout (504) in one bench run. Each process holds its own memory (about 0.85 GB
under the bench).
"""

from __future__ import annotations

import json

from americano_pipeline import settings

WORKERS = 2  # threads per process: CPU-bound fits on the 2-core machines this runs on; more only queue on the GIL
QUEUE = 32  # requests that may wait for a worker (per process) before the API answers 503


def _config():
    from americano_pipeline.api.app import ApiConfig
    from americano_pipeline.api.tokens import load_secret
    from americano_pipeline.api.users import api_database_url

    return ApiConfig(secret=load_secret(settings.api_secret_path()), database_url=api_database_url(),
                     analysis_root=settings.analysis_dir(), cors_origins=settings.api_cors_origins(),
                     workers=WORKERS, queue=QUEUE, warm_up=True)


def application():
    """The app of one server process, configured from the settings (uvicorn's factory for each worker)."""
    from americano_pipeline.api.app import create_app

    return create_app(_config())


def serve(host: str, port: int, processes: int) -> None:
    import uvicorn

    from americano_pipeline.api.tokens import load_secret

    if not settings.external_database_url():
        from americano_pipeline.source.cluster import LocalCluster

        LocalCluster.default().start()
    # created here, once: a process reading it while another one creates it would read an empty secret
    load_secret(settings.api_secret_path())
    uvicorn.run(f"{__name__}:application", factory=True, workers=processes, host=host, port=port, access_log=True,
                log_level="info")


def openapi() -> None:
    from americano_pipeline.api.app import ApiConfig, create_app

    app = create_app(ApiConfig(secret=b"", database_url="", analysis_root=settings.analysis_dir()))
    print(json.dumps(app.openapi(), indent=2))


def token(user_id: str, days: float) -> None:
    from americano_pipeline.api.tokens import issue, load_secret

    print(issue(load_secret(settings.api_secret_path()), user_id, lifetime_seconds=days * 86400))

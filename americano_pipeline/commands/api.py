"""``americano api serve|openapi|token``: run the research API, print its OpenAPI schema, issue a user's token.

Why the secret is loaded (and created) here and not by the app: the token command and the server must sign and
check with the same file, and neither prints it.
"""

from __future__ import annotations

import json

from americano_pipeline import settings

WORKERS = 2  # CPU-bound fits on the 2-core machines this runs on; more threads only queue behind the GIL
QUEUE = 32  # requests that may wait for a worker before the API answers 503


def _config():
    from americano_pipeline.api.app import ApiConfig
    from americano_pipeline.api.tokens import load_secret
    from americano_pipeline.api.users import api_database_url

    return ApiConfig(secret=load_secret(settings.api_secret_path()), database_url=api_database_url(),
                     analysis_root=settings.analysis_dir(), cors_origins=settings.api_cors_origins(),
                     workers=WORKERS, queue=QUEUE)


def serve(host: str, port: int) -> None:
    import uvicorn

    from americano_pipeline.api.app import create_app

    if not settings.external_database_url():
        from americano_pipeline.source.cluster import LocalCluster

        LocalCluster.default().start()
    uvicorn.run(create_app(_config()), host=host, port=port, access_log=True, log_level="info")


def openapi() -> None:
    from americano_pipeline.api.app import ApiConfig, create_app

    app = create_app(ApiConfig(secret=b"", database_url="", analysis_root=settings.analysis_dir()))
    print(json.dumps(app.openapi(), indent=2))


def token(user_id: str, days: float) -> None:
    from americano_pipeline.api.tokens import issue, load_secret

    print(issue(load_secret(settings.api_secret_path()), user_id, lifetime_seconds=days * 86400))

"""The research API's routes: the study app's four seed endpoints and the published results, as the token's user.

Why this shape: every route depends on ``caller`` (the bearer token's user), the on-demand routes run their
computation in the bounded pool (``pool``) on the shared warehouse connection (``warehouse``), refuse a body
naming another user (403), and hand what they answered to the recorder (``recording``); the published
routes read the database as the caller under row-level security, so another user's protocol is a 404, never
data. ``create_app`` takes its configuration as an argument, so tests start it with their own secret, database
and warehouse; ``americano api serve`` builds it from the settings.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from americano_pipeline.api import errors, models, published, recording, research, users
from americano_pipeline.api.pool import BoundedPool
from americano_pipeline.api.tokens import InvalidToken, verify
from americano_pipeline.api.warehouse import IDLE_SECONDS, NotFound, Warehouse

PREFIX = "/api/analytics/research"
RESULTS_PATH = PREFIX + "/protocols/{protocolId}/results"
QUIET_SECONDS = 0.5  # how long the pool must have been idle before the recorder records (``pool.quiet``)
log = logging.getLogger("uvicorn.error")  # where uvicorn says the server started, so the warm-up shows beside it


@dataclass(frozen=True)
class ApiConfig:
    secret: bytes
    database_url: str
    analysis_root: Path  # <data dir>/analysis: the published results
    cors_origins: tuple[str, ...] = ()
    workers: int = 2
    queue: int = 32
    timeout_seconds: float = 30.0
    database_connections: int = 4
    warehouse: Path | None = None  # the published DuckDB file; None: settings.duckdb_path() at start
    writer_url: str | None = None  # the analysis_runs writer login; None: source.database.writer_url()
    tracking_uri: str | None = None  # the MLflow store; None: settings.mlflow_tracking_uri()
    warm_up: bool = False  # compile the ITS models before serving (``research.warm_up``); tests start cold


_bearer = HTTPBearer(auto_error=False, description="a token from `americano api token <userId>`")


async def caller(request: Request,
                 credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
    """The user the bearer token names; 401 without a valid one. Async although it never waits: a plain function
    would run in a thread of its own per request (a hand-off costing more than the HMAC it checks)."""
    if credentials is None:
        raise InvalidToken("missing bearer token (Authorization: Bearer <token>)")
    return verify(request.app.state.config.secret, credentials.credentials)


User = Annotated[str, Depends(caller)]


def _same_user(user: str, body_user: str) -> None:
    if body_user != user:
        raise errors.Forbidden("userId must be the user the bearer token names")


def _recorder(config: ApiConfig, pool: BoundedPool) -> recording.Recorder:
    """The recorder of on-demand computations into the configured (else the pipeline's) MLflow store and writer,
    through the data dir's journal (``journal.journal_path``)."""
    from functools import partial

    from americano_pipeline import settings
    from americano_pipeline.api.journal import Journal, journal_path
    from americano_pipeline.lineage.tracking import Tracker
    from americano_pipeline.source.connection import WRITER_ROLE, connect
    from americano_pipeline.source.database import writer_url

    tracker = Tracker(config.tracking_uri or settings.mlflow_tracking_uri(), settings.mlflow_artifact_dir())
    return recording.Recorder(tracker, partial(connect, config.writer_url or writer_url(), role=WRITER_ROLE),
                              idle=lambda: pool.quiet(QUIET_SECONDS), journal=Journal(journal_path()))


async def _close_idle(warehouse: Warehouse) -> None:
    """Let the warehouse connection go when the API is quiet or the file was replaced (``warehouse``)."""
    while True:
        await asyncio.sleep(IDLE_SECONDS / 2)
        warehouse.close_idle()


def create_app(config: ApiConfig) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from americano_pipeline import settings

        app.state.config = config
        app.state.pool = BoundedPool(config.workers, config.queue, config.timeout_seconds)
        app.state.warehouse = Warehouse(config.warehouse or settings.duckdb_path())
        app.state.recorder = _recorder(config, app.state.pool)
        app.state.database = users.UserDatabase(config.database_url, max_size=config.database_connections)
        app.state.database.open()
        if config.warm_up:
            log.info("opening the MLflow store and compiling the ITS models before serving")
            await asyncio.to_thread(app.state.recorder.connect)
            log.info("ITS models compiled in %.1f s", await asyncio.to_thread(research.warm_up))
        app.state.recorder.start()
        closer = asyncio.create_task(_close_idle(app.state.warehouse))
        try:
            yield
        finally:
            closer.cancel()
            with suppress(asyncio.CancelledError):
                await closer
            app.state.pool.shutdown()
            app.state.recorder.close()
            app.state.warehouse.close()
            app.state.database.close()

    app = FastAPI(title="americano research API", version="1.0.0", lifespan=lifespan,
                  description=__doc__.splitlines()[0])
    if config.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(config.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    errors.install(app)
    _research_routes(app)
    _published_routes(app)
    return app


async def _computed(request: Request, endpoint: str, user: str, function: Callable[..., dict], *args) -> dict:
    """``function(*args)`` in the pool; the answer, queued for recording as one exploratory computation, says
    under which id (``provenance.computationId``)."""
    started = recording.now()
    answer = await request.app.state.pool.run(function, *args)
    done = recording.computation(endpoint, user, answer, started)
    request.app.state.recorder.submit(done)
    return {**answer, "provenance": {**answer["provenance"], "computationId": done.id}}


def _research_routes(app: FastAPI) -> None:
    @app.post(PREFIX + "/bayesian-its", response_model=models.BayesianITSResponse)
    async def bayesian_its(body: models.BayesianITSRequest, user: User, request: Request) -> dict:
        _same_user(user, body.userId)
        return await _computed(request, "bayesian-its", user, research.bayesian_its, request.app.state.warehouse,
                               user, body)

    @app.post(PREFIX + "/abab-randomization-test", response_model=models.RandomizationResponse)
    async def randomization_test(body: models.RandomizationRequest, user: User, request: Request) -> dict:
        _same_user(user, body.userId)
        return await _computed(request, "abab-randomization-test", user, research.randomization_test,
                               request.app.state.warehouse, user, body)

    @app.post(PREFIX + "/change-points", response_model=models.ChangePointsResponse)
    async def change_points(body: models.ChangePointsRequest, user: User, request: Request) -> dict:
        _same_user(user, body.userId)
        return await _computed(request, "change-points", user, research.change_points,
                               request.app.state.warehouse, user, body)

    @app.post(PREFIX + "/sequential-boundaries", response_model=models.SequentialResponse)
    async def sequential_boundaries(body: models.SequentialRequest, user: User, request: Request) -> dict:
        return await _computed(request, "sequential-boundaries", user, research.sequential_boundaries, body)

    @app.get(PREFIX + "/metrics", response_model=models.Metrics)
    def metrics(user: User) -> dict:
        from americano_pipeline.analysis.protocol import metric_catalogue

        return {"metrics": list(metric_catalogue())}


def _owned_protocol(request: Request, user: str, protocol_id: str) -> tuple[dict, dict]:
    with request.app.state.database.as_user(user) as conn:
        protocol = users.protocol(conn, protocol_id)
        if protocol is None:
            raise NotFound(f"protocol {protocol_id} is not one of your protocols")
        return protocol, users.latest_runs(conn, protocol_id)


def _published_routes(app: FastAPI) -> None:
    @app.get(PREFIX + "/protocols", response_model=list[models.ProtocolSummary])
    def protocols(user: User, request: Request) -> list[dict]:
        with request.app.state.database.as_user(user) as conn:
            return users.protocols(conn)

    @app.get(RESULTS_PATH, response_model=models.ProtocolResults)
    def results(protocolId: str, user: User, request: Request) -> dict:
        protocol, runs = _owned_protocol(request, user, protocolId)
        found = published.results(request.app.state.config.analysis_root, protocolId, runs)
        return {"protocol": protocol, "results": found}

    @app.get(RESULTS_PATH + "/{asset}/figures/{name}", response_class=FileResponse,
             responses={200: {"content": {"image/png": {}}}})
    def figure(protocolId: str, asset: str, name: str, user: User, request: Request) -> FileResponse:
        _owned_protocol(request, user, protocolId)
        path = published.figure(request.app.state.config.analysis_root, protocolId, asset, name)
        if path is None or not path.is_file():
            raise NotFound(f"no published figure {name!r} of {asset} for protocol {protocolId}")
        return FileResponse(path, media_type="image/png")

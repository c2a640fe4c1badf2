"""The research API's routes: the study app's four seed endpoints and the published results, as the token's user.

Why this shape: every route depends on ``caller`` (the bearer token's user), the on-demand routes run their
computation in the bounded pool (``pool``) and refuse a body naming another user (403), and the published
routes read the database as the caller under row-level security, so another user's protocol is a 404, never
data. ``create_app`` takes its configuration as an argument, so tests start it with their own secret, database
and warehouse; ``americano api serve`` builds it from the settings.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from americano_pipeline.api import errors, models, published, research, users
from americano_pipeline.api.pool import BoundedPool
from americano_pipeline.api.tokens import InvalidToken, verify
from americano_pipeline.api.warehouse import NotFound

PREFIX = "/api/analytics/research"
RESULTS_PATH = PREFIX + "/protocols/{protocolId}/results"


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


_bearer = HTTPBearer(auto_error=False, description="a token from `americano api token <userId>`")


def caller(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
    """The user the bearer token names; 401 without a valid one."""
    if credentials is None:
        raise InvalidToken("missing bearer token (Authorization: Bearer <token>)")
    return verify(request.app.state.config.secret, credentials.credentials)


User = Annotated[str, Depends(caller)]


def _same_user(user: str, body_user: str) -> None:
    if body_user != user:
        raise errors.Forbidden("userId must be the user the bearer token names")


def create_app(config: ApiConfig) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.config = config
        app.state.pool = BoundedPool(config.workers, config.queue, config.timeout_seconds)
        app.state.database = users.UserDatabase(config.database_url, max_size=config.database_connections)
        app.state.database.open()
        try:
            yield
        finally:
            app.state.pool.shutdown()
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


def _research_routes(app: FastAPI) -> None:
    @app.post(PREFIX + "/bayesian-its", response_model=models.BayesianITSResponse)
    async def bayesian_its(body: models.BayesianITSRequest, user: User, request: Request) -> dict:
        _same_user(user, body.userId)
        return await request.app.state.pool.run(research.bayesian_its, user, body)

    @app.post(PREFIX + "/abab-randomization-test", response_model=models.RandomizationResponse)
    async def randomization_test(body: models.RandomizationRequest, user: User, request: Request) -> dict:
        _same_user(user, body.userId)
        return await request.app.state.pool.run(research.randomization_test, user, body)

    @app.post(PREFIX + "/change-points", response_model=models.ChangePointsResponse)
    async def change_points(body: models.ChangePointsRequest, user: User, request: Request) -> dict:
        _same_user(user, body.userId)
        return await request.app.state.pool.run(research.change_points, user, body)

    @app.post(PREFIX + "/sequential-boundaries", response_model=models.SequentialResponse)
    async def sequential_boundaries(body: models.SequentialRequest, user: User, request: Request) -> dict:
        return await request.app.state.pool.run(research.sequential_boundaries, body)

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

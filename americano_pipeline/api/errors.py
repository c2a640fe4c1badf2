"""How failures become HTTP answers: one JSON shape ``{"detail": message}`` with the status the cause deserves.

Why a table: the causes are the API's vocabulary (not yours -> 404, bad input -> 422, busy -> 503 with
Retry-After, slow -> 504), and an unexpected error must answer 500 without leaking its internals while the log
keeps its traceback (never a token: the Authorization header is not logged).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from americano_pipeline.api.inputs import InvalidInput
from americano_pipeline.api.pool import ComputeTimeout, Saturated
from americano_pipeline.api.tokens import InvalidToken
from americano_pipeline.api.warehouse import NotFound, UnknownMetric, WarehouseBusy

RETRY_AFTER_SECONDS = 1


class Forbidden(PermissionError):
    """The body names another user than the token."""


def _statuses() -> dict[type[BaseException], int]:
    from psycopg import OperationalError
    from psycopg_pool import PoolTimeout

    from americano_pipeline.lineage.warehouse_release import WarehouseNotReleased
    from americano_pipeline.source.connection import DatabaseUnavailable

    return {InvalidToken: 401, Forbidden: 403, NotFound: 404, UnknownMetric: 404, InvalidInput: 422,
            Saturated: 503, WarehouseBusy: 503, WarehouseNotReleased: 503, DatabaseUnavailable: 503,
            FileNotFoundError: 503, PoolTimeout: 503, OperationalError: 503, ComputeTimeout: 504}


def install(app: FastAPI) -> None:
    for cause, status in _statuses().items():
        app.add_exception_handler(cause, _handler(status))


def _handler(status: int):
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        headers = {}
        if status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        if status == 503:
            headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)

    return handle

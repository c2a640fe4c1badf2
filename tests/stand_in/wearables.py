"""A stand-in for the Oura and WHOOP APIs: real HTTP on loopback, the vendors' documented response shapes, and the
failures their clients must survive.

What it serves, from documents given to it (``americano_pipeline.demo.wearable_fixtures`` makes them):
- Oura (https://cloud.ouraring.com/v2/docs): GET /v2/usercollection/{sleep,daily_sleep,daily_activity}, filtered on
  ``day`` by ``start_date``/``end_date`` (both included), paged as ``{"data": [...], "next_token": <str|null>}``
  with ``next_token`` as query parameter; POST /oauth/token.
- WHOOP (https://developer.whoop.com/docs/developing/): GET /developer/v2/{cycle,recovery,activity/sleep}, filtered
  on the record's (for a recovery, its sleep's) ``start`` by ``start`` (included) and ``end`` (excluded), newest
  first, ``limit`` at most 25, paged as ``{"records": [...], "next_token": <str>}`` (no token on the last page) with
  ``nextToken`` as query parameter; POST /oauth/oauth2/token, which wants ``scope=offline`` with a refresh.
- The token endpoints take form-encoded client_id/client_secret, exchange authorization codes registered with
  ``authorization_code`` (once, and only with the same redirect URI) and rotate refresh tokens: each refresh issues a
  new one and retires the one used. Access tokens expire after ``access_lifetime`` seconds or ``expire_access_tokens``;
  the data endpoints answer 401 for a missing, unknown or expired one.

Faults (``fail``): the next ``times`` requests for page ``page`` of ``path`` get the given status, headers and body
instead (a 429 with Retry-After, a 503, a page that is not JSON...). The paths the stand-in serves are written from
the vendors' documentation, not imported from the clients, so a client asking for the wrong path fails.

``running(stand_in)`` serves it with uvicorn in a thread on 127.0.0.1 and a port the system picks; ``authorize``
does what a user's consent would, so a test starts with stored tokens, and ``SignedIn`` adds a sync of that user
that records the waits it would sleep.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from americano_pipeline.context.http import FetchPolicy, SyncResult
from americano_pipeline.context.oauth import OAuthClient, Tokens, TokenStore, VendorConfig, exchange_code
from tests.support import serving

CLIENT_ID = "stand-in-client"
CLIENT_SECRET = "stand-in-client-secret-5e9d"
OURA_PATHS = {"sleep": "/v2/usercollection/sleep", "daily_sleep": "/v2/usercollection/daily_sleep",
              "daily_activity": "/v2/usercollection/daily_activity"}
WHOOP_PATHS = {"cycle": "/developer/v2/cycle", "recovery": "/developer/v2/recovery",
               "sleep": "/developer/v2/activity/sleep"}
TOKEN_PATHS = {"oura": "/oauth/token", "whoop": "/oauth/oauth2/token"}
WHOOP_MAX_LIMIT = 25


@dataclass
class Fault:
    """An answer given instead of a page, ``times`` times (None: every time)."""

    status: int
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    times: int | None = 1

    def response(self) -> Response:
        if isinstance(self.body, (dict, list)):
            return JSONResponse(self.body, self.status, headers=self.headers)
        return Response(self.body, self.status, headers=self.headers, media_type="text/html")


@dataclass
class Grant:
    """What an authorization code was issued for."""

    vendor: str
    redirect_uri: str


class WearableStandIn:
    """The ASGI app. ``oura`` and ``whoop`` map collection names (as in ``OURA_PATHS``/``WHOOP_PATHS``) to
    documents; ``page_size`` keeps pages small so that a handful of days spans several."""

    def __init__(self, *, oura: dict[str, list[dict]] | None = None, whoop: dict[str, list[dict]] | None = None,
                 page_size: int = 4, access_lifetime: float = 3600.0):
        self.page_size = page_size
        self.access_lifetime = access_lifetime
        self.served: list[tuple[str, int]] = []
        self.token_requests: list[dict[str, str]] = []
        self.unauthorized = 0
        self._documents = {**{path: (oura or {}).get(name, []) for name, path in OURA_PATHS.items()},
                           **{path: (whoop or {}).get(name, []) for name, path in WHOOP_PATHS.items()}}
        self._sleep_starts = {record["id"]: record["start"] for record in (whoop or {}).get("sleep", [])}
        self._faults: dict[tuple[str, int], list[Fault]] = {}
        self._codes: dict[str, Grant] = {}
        self._access: dict[str, tuple[str, float]] = {}
        self._refresh: dict[str, str] = {}
        self._lock = threading.Lock()
        routes = [Route(path, self._collection) for path in self._documents]
        routes += [Route(path, self._token, methods=["POST"]) for path in TOKEN_PATHS.values()]
        self._app = Starlette(routes=routes)

    async def __call__(self, scope, receive, send):
        await self._app(scope, receive, send)

    # --- Test controls -------------------------------------------------------------------------------------------

    def authorization_code(self, vendor: str, redirect_uri: str) -> str:
        """A code as the consent redirect would carry it, good for one exchange with ``redirect_uri``."""
        code = f"{vendor}-code-{secrets.token_urlsafe(12)}"
        with self._lock:
            self._codes[code] = Grant(vendor, redirect_uri)
        return code

    def expire_access_tokens(self) -> None:
        """Every access token issued so far stops working (the clients still think them valid)."""
        with self._lock:
            self._access = {token: (vendor, 0.0) for token, (vendor, _) in self._access.items()}

    def refresh_token_valid(self, vendor: str, token: str | None) -> bool:
        with self._lock:
            return self._refresh.get(token) == vendor

    def fail(self, path: str, *, status: int, page: int = 1, body: Any = b"", headers: dict[str, str] | None = None,
             times: int | None = 1) -> None:
        """Answer the next ``times`` requests (None: all) for page ``page`` of ``path`` with this instead."""
        with self._lock:
            self._faults.setdefault((path, page), []).append(Fault(status, body, headers or {}, times))

    # --- Token endpoints -----------------------------------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        vendor = next(name for name, path in TOKEN_PATHS.items() if path == request.url.path)
        form = dict(parse_qsl((await request.body()).decode()))
        with self._lock:
            self.token_requests.append({key: form.get(key, "") for key in ("grant_type", "scope")})
            if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
                return JSONResponse({"error": "invalid_client"}, 401)
            grant_type = form.get("grant_type")
            if grant_type == "authorization_code":
                grant = self._codes.pop(form.get("code", ""), None)
                if grant is None or grant.vendor != vendor or grant.redirect_uri != form.get("redirect_uri"):
                    return JSONResponse({"error": "invalid_grant"}, 400)
            elif grant_type == "refresh_token":
                if self._refresh.get(form.get("refresh_token", "")) != vendor:
                    return JSONResponse({"error": "invalid_grant", "error_description": "unknown refresh token"}, 400)
                if vendor == "whoop" and "offline" not in form.get("scope", "").split():
                    return JSONResponse({"error": "invalid_scope"}, 400)
                del self._refresh[form["refresh_token"]]
            else:
                return JSONResponse({"error": "unsupported_grant_type"}, 400)
            return JSONResponse(self._issue(vendor))

    def _issue(self, vendor: str) -> dict[str, Any]:
        access, refresh = (f"{vendor}-{kind}-{secrets.token_urlsafe(16)}" for kind in ("access", "refresh"))
        self._access[access] = (vendor, time.monotonic() + self.access_lifetime)
        self._refresh[refresh] = vendor
        return {"access_token": access, "refresh_token": refresh, "expires_in": int(self.access_lifetime),
                "token_type": "bearer", "scope": "daily" if vendor == "oura" else "offline read:cycles"}

    # --- Collections ---------------------------------------------------------------------------------------------

    async def _collection(self, request: Request) -> Response:
        path = request.url.path
        vendor = "oura" if path in OURA_PATHS.values() else "whoop"
        query = request.query_params
        with self._lock:
            if not self._authorized(request, vendor):
                self.unauthorized += 1
                return JSONResponse({"detail": "Unauthorized"}, 401)
            size = self.page_size
            if vendor == "whoop" and "limit" in query:
                if not query["limit"].isdigit() or not 1 <= int(query["limit"]) <= WHOOP_MAX_LIMIT:
                    return JSONResponse({"message": f"limit must be 1-{WHOOP_MAX_LIMIT}"}, 400)
                size = min(size, int(query["limit"]))
            token = query.get("next_token" if vendor == "oura" else "nextToken")
            offset = _offset(token)
            if offset is None:
                return JSONResponse({"message": "invalid next token"}, 400)
            page = offset // size + 1
            fault = self._fault(path, page)
            if fault is not None:
                return fault.response()
            selected = self._select(vendor, path, query)
            chunk, rest = selected[offset:offset + size], offset + size < len(selected)
            self.served.append((path, page))
        following = _token(offset + size) if rest else None
        if vendor == "oura":
            return JSONResponse({"data": chunk, "next_token": following})
        return JSONResponse({"records": chunk, **({"next_token": following} if following else {})})

    def _authorized(self, request: Request, vendor: str) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        issued = self._access.get(token) if scheme.lower() == "bearer" else None
        return issued is not None and issued[0] == vendor and issued[1] > time.monotonic()

    def _fault(self, path: str, page: int) -> Fault | None:
        queue = self._faults.get((path, page), [])
        if not queue:
            return None
        fault = queue[0]
        if fault.times is not None:
            fault.times -= 1
            if fault.times == 0:
                queue.pop(0)
        return fault

    def _select(self, vendor: str, path: str, query) -> list[dict]:
        documents = self._documents[path]
        if vendor == "oura":
            first = date.fromisoformat(query.get("start_date", "0001-01-01"))
            last = date.fromisoformat(query.get("end_date", "9999-12-31"))
            return [doc for doc in documents if first <= date.fromisoformat(doc["day"]) <= last]
        first = _instant(query.get("start"), datetime.min)
        last = _instant(query.get("end"), datetime.max)
        chosen = [(self._start(record), record) for record in documents]
        chosen = [pair for pair in chosen if first <= pair[0] < last]
        return [record for _, record in sorted(chosen, key=lambda pair: pair[0], reverse=True)]

    def _start(self, record: dict) -> datetime:
        start = record["start"] if "start" in record else self._sleep_starts.get(record["sleep_id"],
                                                                                record["created_at"])
        return _instant(start, datetime.min)


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(token: str | None) -> int | None:
    if not token:
        return 0
    try:
        kind, _, number = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
    except ValueError:
        return None
    return int(number) if kind == "offset" and number.isdigit() else None


def _instant(text: str | None, default: datetime) -> datetime:
    if not text:
        return default.replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(text).astimezone(timezone.utc)


def running(app):
    """Serve ``app`` on http://127.0.0.1:<port the system picks> in a thread; a context manager yielding its URL."""
    return serving(app, "the wearable stand-in server", lifespan="off")


def authorize(stand_in: WearableStandIn, client: OAuthClient, store: TokenStore, user_id: str,
              http: httpx.Client) -> Tokens:
    """What the consent step leaves behind: ``user_id``'s tokens at the client's vendor, exchanged from a fresh
    authorization code and saved in ``store``."""
    redirect_uri = "http://127.0.0.1/wearables/callback"
    code = stand_in.authorization_code(client.vendor.lower(), redirect_uri)
    tokens = exchange_code(client, code, redirect_uri, http=http)
    store.save(user_id, client.vendor, tokens)
    return tokens


class SignedIn:
    """A user who has authorized ``vendor`` (the ``oura`` or ``whoop`` module) at the stand-in served at
    ``base_url``; ``fetch`` syncs them, recording in ``waits`` what it would have slept."""

    def __init__(self, vendor, stand_in: WearableStandIn, base_url: str, store: TokenStore, user_id: str):
        self.vendor = vendor
        self.stand_in = stand_in
        self.config = VendorConfig(base_url, CLIENT_ID, CLIENT_SECRET)
        self.store = store
        self.user_id = user_id
        self.waits: list[float] = []
        with httpx.Client() as http:
            self.tokens = authorize(stand_in, vendor.oauth_client(self.config), store, user_id, http)

    def fetch(self, start: date, end: date, **policy) -> SyncResult:
        return self.vendor.fetch_days(self.user_id, start, end, config=self.config, token_store=self.store,
                                      policy=FetchPolicy(**policy), sleep=self.waits.append)

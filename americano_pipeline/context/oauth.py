"""OAuth 2.0 for the wearable vendors: the authorization-code exchange, refresh-token rotation, and the encrypted
store the tokens live in between syncs.

The flow (RFC 6749 §4.1) as Oura (https://cloud.ouraring.com/docs/authentication) and WHOOP
(https://developer.whoop.com/docs/developing/oauth) document it:
1. Interactive, out of scope here: the user opens ``authorization_url(...)`` in a browser (Oura:
   https://cloud.ouraring.com/oauth/authorize, WHOOP: https://api.prod.whoop.com/oauth/oauth2/auth), consents, and the
   vendor redirects to ``<redirect_uri>?code=...&state=...``. Whatever receives that redirect compares ``state`` with
   the one it sent (against cross-site request forgery) and hands the code to ``exchange_code``.
2. ``exchange_code`` posts ``grant_type=authorization_code`` with the code, the same redirect URI and this
   deployment's client id and secret to the token endpoint (Oura: https://api.ouraring.com/oauth/token, WHOOP:
   https://api.prod.whoop.com/oauth/oauth2/token) and gets ``access_token``, ``expires_in`` (seconds) and
   ``refresh_token`` (WHOOP issues one only when the ``offline`` scope was granted). The caller stores them.
3. ``TokenSession`` hands out the access token and refreshes it (``grant_type=refresh_token``; WHOOP also wants
   ``scope=offline``) when it is about to expire or the API answered 401. WHOOP rotates refresh tokens: the one sent
   stops working, so the new pair is written to the store *before* the new access token is used, and a crash after a
   refresh never leaves only a spent refresh token on disk. A refresh whose answer is lost on the way (a timeout)
   cannot be repeated with the spent token: the user then authorizes again. One sync per (user, vendor) at a time.

Why encrypted at rest: the tokens read a person's health data for months. ``TokenStore`` keeps one Fernet token
(AES-128-CBC with HMAC-SHA256, from ``cryptography``) per (user, vendor) file; the key lives in a separate file,
created at first use with mode 0600 in a directory of mode 0700, so token files alone (a backup, a copied data
directory) reveal nothing. Every write goes to a temporary file that os.replace moves into place, so a reader sees
the old file or the new one, never half of one.

Secrets (client secret, authorization codes, access and refresh tokens) stay out of reprs, log lines and exception
messages; errors name the vendor, the endpoint, the HTTP status and the OAuth ``error`` code only.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote, unquote, urlencode

import httpx
from cryptography.fernet import Fernet, InvalidToken

from americano_pipeline.context import http as api
from americano_pipeline.context.http import WearableApiError

log = logging.getLogger(__name__)

KEY_FILE = "fernet.key"
REFRESH_MARGIN = timedelta(seconds=60)
_OAUTH_ERROR_CODE = re.compile(r"[a-z_]{1,40}")
_HINTS = {"invalid_grant": "; the user must authorize again",
          "invalid_client": "; check this deployment's client id and secret (<VENDOR>_CLIENT_ID, _CLIENT_SECRET)",
          "invalid_scope": "; the scopes asked for were not granted"}


class OAuthError(WearableApiError):
    """A token could not be obtained or refreshed, or none is stored; says which vendor, user and endpoint."""


class TokenStoreError(RuntimeError):
    """The token store's key or a token file cannot be used; names the file and what to do."""


@dataclass(frozen=True)
class VendorConfig:
    """Where a vendor's API is and this deployment's OAuth client there (from the vendor's developer portal)."""

    base_url: str
    client_id: str
    client_secret: str = field(repr=False)


def vendor_config_from_env(prefix: str, base_url_variable: str, default_base_url: str,
                           environ: Mapping[str, str] | None = None) -> VendorConfig:
    """``<prefix>_CLIENT_ID``, ``<prefix>_CLIENT_SECRET`` and the base URL variable (default the vendor's own);
    ValueError naming whichever credential variable is unset."""
    environ = os.environ if environ is None else environ
    names = (f"{prefix}_CLIENT_ID", f"{prefix}_CLIENT_SECRET")
    missing = [name for name in names if not environ.get(name, "").strip()]
    if missing:
        raise ValueError(f"{' and '.join(missing)} must be set to sync {prefix} data (the OAuth client registered in "
                         "the vendor's developer portal)")
    base_url = (environ.get(base_url_variable) or default_base_url).strip().rstrip("/")
    if not base_url.startswith(("https://", "http://")):
        raise ValueError(f"{base_url_variable} must be an http(s) URL, got {base_url!r}")
    return VendorConfig(base_url, environ[names[0]].strip(), environ[names[1]].strip())


@dataclass(frozen=True)
class OAuthClient:
    """A vendor's token endpoint and this deployment's client there. ``refresh_scope`` is sent with refreshes
    (WHOOP: ``offline``, without which no new refresh token comes back)."""

    vendor: str
    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    refresh_scope: str | None = None


@dataclass(frozen=True)
class Tokens:
    """One user's tokens at one vendor; ``expires_at`` is when the access token stops working (UTC)."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime
    scope: str | None = None

    def expires_within(self, margin: timedelta) -> bool:
        return self.expires_at - margin <= datetime.now(timezone.utc)


def authorization_url(authorize_url: str, client_id: str, redirect_uri: str, scopes: list[str], state: str) -> str:
    """The page that asks the user for consent (step 1 above); ``state`` must be unguessable and checked on return."""
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
             "scope": " ".join(scopes), "state": state}
    return f"{authorize_url}?{urlencode(query, quote_via=quote)}"


def exchange_code(client: OAuthClient, code: str, redirect_uri: str, *, http: httpx.Client) -> Tokens:
    """The tokens for an authorization code from the consent redirect (step 2 above)."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    return _token_request(client, form, "the authorization-code exchange", http)


def refresh(client: OAuthClient, refresh_token: str, *, http: httpx.Client) -> Tokens:
    """New tokens for a refresh token; when the vendor sends no new refresh token the old one stays in use."""
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if client.refresh_scope:
        form["scope"] = client.refresh_scope
    tokens = _token_request(client, form, "the refresh", http)
    return tokens if tokens.refresh_token else replace(tokens, refresh_token=refresh_token)


def _token_request(client: OAuthClient, form: dict[str, str], what: str, http: httpx.Client) -> Tokens:
    where = f"{client.vendor} token endpoint {httpx.URL(client.token_url).path}"
    form = {**form, "client_id": client.client_id, "client_secret": client.client_secret}
    try:
        response = http.post(client.token_url, data=form, headers={"Accept": "application/json"})
    except httpx.TransportError as exc:
        raise OAuthError(f"{where}: {what} failed: {type(exc).__name__}: {exc}") from None
    if response.status_code != 200:
        code = _error_code(response)
        raise OAuthError(f"{where}: {what} was refused with HTTP {response.status_code}"
                         f"{f' ({code})' if code else ''}{_HINTS.get(code, '')}")
    try:
        body = response.json()
    except ValueError:
        raise OAuthError(f"{where}: {what} answered with a body that is not JSON") from None
    access, refresh_token, expires_in = (body.get(key) if isinstance(body, dict) else None
                                         for key in ("access_token", "refresh_token", "expires_in"))
    if not isinstance(access, str) or not access:
        raise OAuthError(f"{where}: {what} answered without an access_token")
    if refresh_token is not None and (not isinstance(refresh_token, str) or not refresh_token):
        raise OAuthError(f"{where}: {what} answered with a refresh_token that is not a string")
    if isinstance(expires_in, bool) or not isinstance(expires_in, (int, float)) or expires_in <= 0:
        raise OAuthError(f"{where}: {what} answered without a positive expires_in")
    scope = body.get("scope")
    return Tokens(access, refresh_token, datetime.now(timezone.utc) + timedelta(seconds=expires_in),
                  scope if isinstance(scope, str) else None)


def _error_code(response: httpx.Response) -> str:
    """The RFC 6749 §5.2 ``error`` code (invalid_grant, ...) if the body has one; never its free-text description."""
    try:
        code = response.json().get("error")
    except (ValueError, AttributeError):
        return ""
    return code if isinstance(code, str) and _OAUTH_ERROR_CODE.fullmatch(code) else ""


class TokenStore:
    """One encrypted file per (user, vendor) under ``directory``; the Fernet key in ``key_path`` (default
    ``<directory>/fernet.key``), created at first use. Put the key elsewhere to keep it out of the tokens' backups."""

    def __init__(self, directory: Path, *, key_path: Path | None = None):
        self.directory = Path(directory)
        self.key_path = Path(key_path) if key_path is not None else self.directory / KEY_FILE
        self._fernet: Fernet | None = None

    def __repr__(self) -> str:
        return f"TokenStore({str(self.directory)!r})"

    def path(self, user_id: str, vendor: str) -> Path:
        """The token file of ``user_id`` at ``vendor``; the user id is percent-encoded, so it can name no other path."""
        if not user_id:
            raise ValueError("the user id of stored tokens must not be empty")
        return self.directory / f"{vendor.lower()}-{quote(user_id, safe='')}.token"

    def users(self, vendor: str) -> list[str]:
        """The users who have a token file for ``vendor``, sorted: the file names of ``path``, un-quoted. Empty when
        the store's directory does not exist yet (nobody has authorized)."""
        prefix, suffix = f"{vendor.lower()}-", ".token"
        if not self.directory.is_dir():
            return []
        return sorted(unquote(path.name[len(prefix):-len(suffix)])
                      for path in self.directory.glob(f"{prefix}*{suffix}"))

    def load(self, user_id: str, vendor: str) -> Tokens | None:
        """The stored tokens, or None when the user has not authorized ``vendor``."""
        path = self.path(user_id, vendor)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            data = json.loads(self._cipher().decrypt(blob))
            return Tokens(data["access_token"], data["refresh_token"], datetime.fromisoformat(data["expires_at"]),
                          data["scope"])
        except InvalidToken:
            raise TokenStoreError(f"{path} cannot be decrypted with the key in {self.key_path} (the key was replaced "
                                  f"or the file is damaged): {vendor} must be authorized again for user "
                                  f"{user_id!r}") from None
        except (ValueError, KeyError, TypeError):
            raise TokenStoreError(f"{path} decrypts to something other than stored tokens: {vendor} must be "
                                  f"authorized again for user {user_id!r}") from None

    def save(self, user_id: str, vendor: str, tokens: Tokens) -> None:
        """Replace the stored tokens atomically (temporary file, fsync, os.replace)."""
        path = self.path(user_id, vendor)
        payload = json.dumps({"access_token": tokens.access_token, "refresh_token": tokens.refresh_token,
                              "expires_at": tokens.expires_at.isoformat(), "scope": tokens.scope}).encode()
        _private_directory(self.directory)
        _write_atomically(path, self._cipher().encrypt(payload))

    def _cipher(self) -> Fernet:
        if self._fernet is None:
            self._fernet = Fernet(self._key())
        return self._fernet

    def _key(self) -> bytes:
        """The key in ``key_path``, created when missing. It is written to a temporary file and hard-linked into
        place, so of two processes creating it at once, one key wins and both use it."""
        _private_directory(self.key_path.parent)
        if not self.key_path.exists():
            staged = _staged(self.key_path, Fernet.generate_key())
            try:
                os.link(staged, self.key_path)
            except FileExistsError:
                pass
            finally:
                staged.unlink()
            _sync_directory(self.key_path.parent)
        mode = stat.S_IMODE(self.key_path.stat().st_mode)
        if mode & 0o077:
            raise TokenStoreError(f"{self.key_path} has mode {mode:04o}; it must be readable by its owner only "
                                  f"(chmod 600 {self.key_path})")
        return self.key_path.read_bytes().strip()


def _private_directory(directory: Path) -> None:
    """Create ``directory`` with mode 0700 when missing (an existing one keeps the mode its owner gave it)."""
    if not directory.is_dir():
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        directory.chmod(0o700)


def _staged(path: Path, data: bytes) -> Path:
    """A new file (mode 0600, unique name) beside ``path`` holding ``data``, flushed to disk."""
    descriptor, staged = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(staged).unlink(missing_ok=True)
        raise
    return Path(staged)


def _write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` (mode 0600) with ``data``: readers see the old content or the new, never a mix."""
    staged = _staged(path, data)
    try:
        os.replace(staged, path)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    """Flush a rename or link in ``directory`` to disk, so it survives a crash."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class TokenSession:
    """The access token of one user at one vendor for the duration of a sync: loaded from the store, refreshed
    ahead of its expiry or after a 401, and persisted before use. It is what ``http.send`` calls ``credentials``."""

    def __init__(self, user_id: str, client: OAuthClient, store: TokenStore, http: httpx.Client, *,
                 margin: timedelta = REFRESH_MARGIN):
        self.user_id = user_id
        self.client = client
        self.store = store
        self.refreshes = 0
        self._http = http
        self._margin = margin
        self._tokens: Tokens | None = None

    def __repr__(self) -> str:
        return f"TokenSession({self.client.vendor}, user {self.user_id!r})"

    def header(self) -> dict[str, str]:
        """The Authorization header, with a token valid for at least the margin."""
        tokens = self._current()
        if tokens.expires_within(self._margin):
            tokens = self.renew()
        return {"Authorization": f"Bearer {tokens.access_token}"}

    def renew(self) -> Tokens:
        """Refresh now, store the new tokens, then hand them out."""
        tokens = self._current()
        if not tokens.refresh_token:
            raise OAuthError(f"{self.client.vendor}: the access token of user {self.user_id!r} expired and no refresh "
                             "token is stored (WHOOP issues one only with the offline scope): authorize again")
        fresh = refresh(self.client, tokens.refresh_token, http=self._http)
        self.store.save(self.user_id, self.client.vendor, fresh)
        self._tokens = fresh
        self.refreshes += 1
        log.info("%s: refreshed the access token of user %r", self.client.vendor, self.user_id)
        return fresh

    def _current(self) -> Tokens:
        if self._tokens is None:
            self._tokens = self.store.load(self.user_id, self.client.vendor)
        if self._tokens is None:
            raise OAuthError(f"no {self.client.vendor} tokens are stored for user {self.user_id!r} in "
                             f"{self.store.directory}: the user must authorize first (oauth.exchange_code)")
        return self._tokens


def fetch_signed(user_id: str, client: OAuthClient, store: TokenStore, collection: api.Collection, base_url: str,
                 endpoints: Mapping[str, tuple[str, api.Check]], params: Mapping[str, str], *,
                 http: httpx.Client | None, policy: api.FetchPolicy,
                 sleep: api.Sleep) -> tuple[dict[str, list[dict]], api.SyncStats]:
    """Every page of each of ``endpoints`` (name -> (path, record check)) for ``user_id``, signed with the user's
    stored tokens (``TokenSession``): the records by endpoint name, and the sync's counters."""
    stats = api.SyncStats()
    with api.open_client(http, policy) as session_http:
        session = TokenSession(user_id, client, store, session_http)
        records = {name: api.fetch_collection(session_http, collection, base_url + path, params, check=check,
                                              policy=policy, stats=stats, sleep=sleep, credentials=session)
                   for name, (path, check) in endpoints.items()}
    stats.refreshes = session.refreshes
    return records, stats

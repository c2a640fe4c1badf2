"""Bearer tokens that name the user a request acts as: ``<payload>.<signature>``, the payload base64url JSON
``{"sub": userId, "exp": unix seconds}`` and the signature HMAC-SHA256 over it with a secret of this deployment.

Why HMAC and not a user database: the study app already authenticates its users; it (or ``americano api token``)
mints a short-lived token for one user, and the API needs only to check that this deployment signed it and that
it has not expired. The secret is generated at first use into a file only its owner can read (mode 0600), and
never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path

DEFAULT_LIFETIME_DAYS = 30


class InvalidToken(ValueError):
    """The bearer token is malformed, not signed with this deployment's secret, or expired."""


def load_secret(path: Path) -> bytes:
    """The signing secret in ``path``, created (32 random bytes, hex, mode 0600) when missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip().encode()
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    return path.read_text().strip().encode()


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: bytes, payload: str) -> str:
    return _encode(hmac.new(secret, payload.encode(), hashlib.sha256).digest())


def issue(secret: bytes, user_id: str, *, lifetime_seconds: float = DEFAULT_LIFETIME_DAYS * 86400,
          now: float | None = None) -> str:
    """A token for ``user_id`` valid for ``lifetime_seconds`` from ``now``."""
    if not user_id:
        raise ValueError("the user id of a token must not be empty")
    expires = int((time.time() if now is None else now) + lifetime_seconds)
    payload = _encode(json.dumps({"sub": user_id, "exp": expires}, separators=(",", ":")).encode())
    return f"{payload}.{_signature(secret, payload)}"


def verify(secret: bytes, token: str, *, now: float | None = None) -> str:
    """The user id ``token`` names; ``InvalidToken`` (saying why, never echoing the token) otherwise."""
    payload, _, signature = token.partition(".")
    if not payload or not signature:
        raise InvalidToken("the bearer token is not of the form <payload>.<signature>")
    if not hmac.compare_digest(signature, _signature(secret, payload)):
        raise InvalidToken("the bearer token's signature does not match this deployment's secret")
    try:
        claims = json.loads(_decode(payload))
        user_id, expires = claims["sub"], claims["exp"]
    except (ValueError, KeyError, TypeError):
        raise InvalidToken("the bearer token's payload is not {sub, exp} JSON") from None
    if not isinstance(user_id, str) or not isinstance(expires, int) or not user_id:
        raise InvalidToken("the bearer token's payload is not {sub, exp} JSON")
    if expires <= (time.time() if now is None else now):
        raise InvalidToken("the bearer token has expired; issue a new one (americano api token <userId>)")
    return user_id

"""What the Oura and WHOOP clients share: a paginated GET that survives what those APIs do under load, the checks
that tell a malformed page from a good one, and the counters a sync reports.

Why one loop for both: the two vendors page the same way (a cursor in the body, sent back as a query parameter) and
fail the same way (429 over the rate limit, 5xx when busy, 401 once the access token has expired), so each vendor
module only says where its records are and what they must look like.

Rules of ``send`` (one request):
- 429: wait what ``Retry-After`` says (delta-seconds or an HTTP date, RFC 9110 §10.2.3; without it WHOOP's
  ``X-RateLimit-Reset`` seconds, else the backoff below), at most ``FetchPolicy.max_retry_after``, then retry.
- 5xx and transport errors (timeouts, refused connections): exponential backoff from ``backoff`` seconds, doubling
  up to ``max_backoff``.
- Both use up ``attempts`` (the first try included); when they are spent the error says how many attempts were made.
- 401: the credentials are renewed once (an OAuth refresh) and the request repeated; a second 401 is an error.
- Any other status: an error naming vendor, endpoint, page and status.
Rules of ``fetch_collection`` (every page of one collection): a body that is not JSON, a page without its list of
records, a next-page token that is not a string or repeats, a record whose fields do not have the documented types:
``MalformedPageError`` naming vendor, endpoint, page number and the problem. Records are returned only once every
page was read, so a partial sync is never taken for a complete one.

Secrets stay out: request headers and bodies are never logged or put into messages.

Documented sources: WHOOP pagination (https://developer.whoop.com/docs/developing/pagination: ``records`` and
``next_token`` in the body, sent back as the ``nextToken`` query parameter, absent on the last page) and rate limiting
(https://developer.whoop.com/docs/developing/rate-limiting: 100 requests a minute, 10,000 a day, X-RateLimit-Limit/
-Remaining/-Reset headers); Oura API v2 (https://cloud.ouraring.com/v2/docs: ``data`` and ``next_token`` in the body,
``next_token`` as query parameter, 429 when the per-token limit of 5,000 requests per 5 minutes is exceeded).
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple, Protocol

import httpx

from americano_pipeline.context.records import WearableDay

log = logging.getLogger(__name__)

Sleep = Callable[[float], None]
Check = Callable[[Mapping[str, Any]], None]


class WearableApiError(RuntimeError):
    """A vendor API call failed; the message names vendor, endpoint and what went wrong, never a credential."""


class MalformedPageError(WearableApiError):
    """A page answered 2xx but is not what the vendor documents (not JSON, no list of records, wrong field types)."""


@dataclass(frozen=True)
class FetchPolicy:
    """How long to wait and how often to retry. By default a request is tried 5 times, 1+2+4+8 s apart when the
    vendor is failing (plus up to 30 s of timeout each), and a rate limit's wait is cut to 2 minutes; tests inject
    ``sleep`` to record the waits instead of waiting."""

    attempts: int = 5
    backoff: float = 1.0
    max_backoff: float = 30.0
    max_retry_after: float = 120.0
    timeout: float = 30.0
    max_pages: int = 10_000

    def __post_init__(self):
        if self.attempts < 1:
            raise ValueError(f"FetchPolicy.attempts must be at least 1, got {self.attempts}")


@dataclass
class SyncStats:
    """Counters of one sync, for the import's metadata. ``skipped`` counts records the mapping left out (see the
    vendor modules: records the vendor has not scored, and the shorter-sleeping of two WHOOP cycles of one day)."""

    pages: int = 0
    records: int = 0
    retries: int = 0
    refreshes: int = 0
    skipped: int = 0


class SyncResult(NamedTuple):
    """What ``fetch_days`` of a vendor returns: the user's days and how they were fetched."""

    days: list[WearableDay]
    stats: SyncStats


@dataclass(frozen=True)
class Collection:
    """How a vendor pages its collections: the body's list of records, and the query parameter that asks for the
    page after the one whose ``token_key`` it echoes."""

    vendor: str
    items_key: str
    token_param: str
    token_key: str = "next_token"


class Credentials(Protocol):
    """What ``send`` needs of an OAuth session (``oauth.TokenSession``)."""

    def header(self) -> dict[str, str]: ...

    def renew(self) -> object: ...


@contextmanager
def open_client(http: httpx.Client | None, policy: FetchPolicy) -> Iterator[httpx.Client]:
    """The caller's client, left open, or a new one with the policy's timeout, closed afterwards."""
    if http is not None:
        yield http
        return
    with httpx.Client(timeout=httpx.Timeout(policy.timeout), headers={"Accept": "application/json"}) as client:
        yield client


def send(client: httpx.Client, method: str, url: str, *, what: str, policy: FetchPolicy, stats: SyncStats,
         sleep: Sleep = time.sleep, credentials: Credentials | None = None, **request: Any) -> httpx.Response:
    """One request with the retry rules above; returns the 2xx response. ``what`` names the request in messages
    (vendor, endpoint, page)."""
    renewed = False
    attempt = 0
    while True:
        attempt += 1
        headers = credentials.header() if credentials is not None else {}
        try:
            response = client.request(method, url, headers=headers, **request)
        except httpx.TransportError as exc:
            problem, wait = f"{type(exc).__name__}: {exc}", _backoff(policy, attempt)
        else:
            status = response.status_code
            if status < 300:
                return response
            if status == 401 and credentials is not None and not renewed:
                log.info("%s: HTTP 401, refreshing the access token and asking again", what)
                renewed = True
                attempt -= 1
                credentials.renew()
                continue
            problem = f"HTTP {status} {response.reason_phrase}".rstrip()
            if status == 429:
                wait = _retry_after(response, policy, attempt)
            elif status >= 500:
                wait = _backoff(policy, attempt)
            else:
                raise WearableApiError(f"{what}: {problem}{_refusal_detail(response, renewed)}")
        if attempt >= policy.attempts:
            raise WearableApiError(f"{what}: gave up after {attempt} attempts (last: {problem})")
        stats.retries += 1
        log.warning("%s: %s; retrying in %.1f s (attempt %d of %d)", what, problem, wait, attempt + 1,
                    policy.attempts)
        sleep(wait)


def fetch_collection(client: httpx.Client, collection: Collection, url: str, params: Mapping[str, str], *,
                     check: Check, policy: FetchPolicy, stats: SyncStats, sleep: Sleep = time.sleep,
                     credentials: Credentials | None = None) -> list[dict[str, Any]]:
    """Every record of the collection at ``url`` for ``params``, each page checked (``check`` raises ValueError
    saying what is wrong with one record); raises instead of returning part of them."""
    endpoint = httpx.URL(url).path
    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    token = None
    for page in range(1, policy.max_pages + 1):
        where = f"{collection.vendor} {endpoint} page {page}"
        query = {**params, collection.token_param: token} if token else dict(params)
        response = send(client, "GET", url, what=where, policy=policy, stats=stats, sleep=sleep,
                        credentials=credentials, params=query)
        items, token = _read_page(response, collection, where, check)
        stats.pages += 1
        stats.records += len(items)
        records.extend(items)
        if token is None:
            log.info("%s %s: %d records in %d pages", collection.vendor, endpoint, len(records), page)
            return records
        if token in seen:
            raise MalformedPageError(f"{where}: {collection.token_key} repeats an earlier page's, which would loop "
                                     "forever")
        seen.add(token)
    raise WearableApiError(f"{collection.vendor} {endpoint}: more than {policy.max_pages} pages; stopped rather than "
                           "paging without end")


def _read_page(response: httpx.Response, collection: Collection, where: str,
               check: Check) -> tuple[list[dict[str, Any]], str | None]:
    try:
        body = response.json()
    except ValueError:
        kind = response.headers.get("content-type", "no content type")
        raise MalformedPageError(f"{where}: the body is not JSON ({kind}, {len(response.content)} bytes)") from None
    if not isinstance(body, dict):
        raise MalformedPageError(f"{where}: the body is {_a('JSON ' + _json_type(body))}, not an object")
    items = body.get(collection.items_key)
    if not isinstance(items, list):
        found = "missing" if collection.items_key not in body else _a(_json_type(items))
        raise MalformedPageError(f"{where}: {collection.items_key!r} should be a list of records, it is {found}")
    token = body.get(collection.token_key)
    if token is not None and not isinstance(token, str):
        raise MalformedPageError(f"{where}: {collection.token_key!r} should be a string or null, it is "
                                 f"{_a(_json_type(token))}")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise MalformedPageError(f"{where}: record {index} is {_a(_json_type(item))}, not an object")
        try:
            check(item)
        except ValueError as exc:
            raise MalformedPageError(f"{where}: record {index}: {exc}") from None
    return items, token or None


def _backoff(policy: FetchPolicy, attempt: int) -> float:
    return min(policy.max_backoff, policy.backoff * 2 ** (attempt - 1))


def _retry_after(response: httpx.Response, policy: FetchPolicy, attempt: int) -> float:
    seconds = _seconds(response.headers.get("retry-after"))
    if seconds is None:
        seconds = _seconds(response.headers.get("x-ratelimit-reset"))
    if seconds is None:
        return _backoff(policy, attempt)
    return min(max(seconds, 0.0), policy.max_retry_after)


def _seconds(value: str | None) -> float | None:
    """Delta-seconds or an HTTP date (seconds from now); None when absent or unreadable."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return (when - datetime.now(timezone.utc)).total_seconds()


def _refusal_detail(response: httpx.Response, renewed: bool) -> str:
    """What to add to a refused request's message: a hint for 401/403, else the start of the vendor's explanation
    (never for 401/403, whose bodies are about credentials)."""
    if response.status_code == 401:
        return " (the access token was refused even after a refresh)" if renewed else ""
    if response.status_code == 403:
        return " (the user did not grant the scope this endpoint needs)"
    text = " ".join(response.text.split())[:200]
    return f": {text}" if text else ""


# --- Record checks ------------------------------------------------------------------------------------------------

def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_date(value: Any) -> bool:
    try:
        return isinstance(value, str) and len(value) == 10 and bool(date.fromisoformat(value))
    except ValueError:
        return False


def _is_datetime(value: Any) -> bool:
    try:
        return isinstance(value, str) and datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


_UTC_OFFSET = re.compile(r"Z|[+-](0\d|1[0-4]):[0-5]\d")

_KINDS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "str": ("a string", lambda value: isinstance(value, str) and value != ""),
    "int": ("an integer", lambda value: isinstance(value, int) and not isinstance(value, bool)),
    "number": ("a number", _is_number),
    "bool": ("true or false", lambda value: isinstance(value, bool)),
    "date": ("an ISO date (YYYY-MM-DD)", _is_date),
    "datetime": ("an ISO date-time with a UTC offset", _is_datetime),
    "offset": ("a UTC offset ('Z' or ±hh:mm)", lambda value: isinstance(value, str) and bool(
        _UTC_OFFSET.fullmatch(value))),
    "object": ("an object", lambda value: isinstance(value, dict)),
}


def check_fields(record: Mapping[str, Any], spec: Mapping[str, str]) -> None:
    """Raise ValueError naming the first field of ``spec`` that ``record`` lacks or holds with another type.

    ``spec`` maps dotted paths (``"score.stage_summary.total_in_bed_time_milli"``) to a kind: str (non-empty), int,
    number, bool, date, datetime (with offset), offset ('Z' or ±hh:mm), object; a trailing ``?`` lets the field be
    null or absent.
    """
    for path, kind in spec.items():
        name = kind.rstrip("?")
        if name not in _KINDS:
            raise KeyError(f"check_fields: unknown kind {kind!r} for {path!r}; known: {', '.join(_KINDS)}")
        value = _lookup(record, path)
        if value is None:
            if kind.endswith("?"):
                continue
            raise ValueError(f"{path!r} is missing or null")
        description, matches = _KINDS[name]
        if not matches(value):
            raise ValueError(f"{path!r} should be {description}, it is {_describe(value)}")


def _lookup(record: Mapping[str, Any], path: str) -> Any:
    value: Any = record
    walked = []
    for part in path.split("."):
        if value is None:
            return None
        if not isinstance(value, dict):
            raise ValueError(f"{'.'.join(walked)!r} should be an object, it is {_describe(value)}")
        value = value.get(part)
        walked.append(part)
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def _a(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{_a(_json_type(value))} {text[:40] + '...' if len(text) > 40 else text}"


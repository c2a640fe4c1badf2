"""One calendar day of Oura and WHOOP data for every user who authorized this deployment: what the asset
``context/wearable_days`` lands for its partition.

Who is synced: for each vendor whose OAuth client is configured (``<SOURCE>_CLIENT_ID`` and ``_CLIENT_SECRET``), every
user with a token file for it in the token store (``oauth.TokenStore.users``). A vendor with neither variable set is
not in use and is listed in ``DaySync.unconfigured``; a vendor with one of them, or with an unusable base URL, is
misconfigured and reported as a failure of the whole vendor.

Why a failure is collected instead of raised: one user who revoked consent (``invalid_grant``), or one vendor that is
down, must not lose what every other user's sync fetched. ``sync_day`` returns the days it got and names each failure
(vendor, user, the client's message); the caller decides. The asset lands the days it got and then fails, naming
every failure: the day is incomplete, so the run must say so, and a re-run fetches the whole day again (the
vendors' APIs are read, never written; the landing file is replaced; the upsert into ``context_metadata`` is
idempotent). Only the errors a sync is expected to meet are collected: the vendor API's (HTTP, paging, OAuth), an
unreadable token file, a record the mapping refuses. Anything else is a bug and propagates with its traceback.

Why nothing is fetched unless ENABLE_WEARABLES_SYNC is set (``settings.wearables_sync_enabled``): the flag is the one
switch that lets this deployment call the vendors with people's tokens; it is checked here, so no caller can forget
it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date

import httpx

from americano_pipeline import settings
from americano_pipeline.context import oura, whoop
from americano_pipeline.context.http import FetchPolicy, Sleep, SyncStats, WearableApiError
from americano_pipeline.context.oauth import TokenStore, TokenStoreError
from americano_pipeline.context.records import WearableDay

log = logging.getLogger(__name__)

# The vendor modules: each has SOURCE, VENDOR, config_from_env(environ) and fetch_days(user, start, end, ...).
VENDORS = (oura, whoop)
CREDENTIAL_SUFFIXES = ("_CLIENT_ID", "_CLIENT_SECRET")
FLAG = "ENABLE_WEARABLES_SYNC"


class SyncDisabled(RuntimeError):
    """ENABLE_WEARABLES_SYNC is not on, so no vendor may be called."""


@dataclass(frozen=True)
class SyncFailure:
    """A user's sync that failed (``user_id`` None: the whole vendor, e.g. its configuration)."""

    source: str
    user_id: str | None
    message: str

    def __str__(self) -> str:
        who = f"{self.source} user {self.user_id!r}" if self.user_id is not None else self.source
        return f"{who}: {self.message}"


@dataclass
class VendorStats(SyncStats):
    """One vendor's part of a day's sync: users with stored tokens, how many of them failed, the days fetched and
    the clients' counters (``http.SyncStats``) summed over the users that succeeded."""

    users: int = 0
    failed: int = 0
    days: int = 0

    def add(self, stats: SyncStats, days: int) -> None:
        self.days += days
        for counter in fields(SyncStats):
            setattr(self, counter.name, getattr(self, counter.name) + getattr(stats, counter.name))


@dataclass(frozen=True)
class DaySync:
    """What ``sync_day`` fetched for ``day``: the days (every vendor's, in vendor then user order), the counters per
    configured vendor (keyed by source), the failures, and the vendors left out because they are not configured."""

    day: date
    days: list[WearableDay]
    stats: dict[str, VendorStats]
    failures: list[SyncFailure] = field(default_factory=list)
    unconfigured: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.failures


def configured(vendor, environ: Mapping[str, str]) -> bool:
    """Whether either of the vendor's OAuth client variables is set (both are needed; ``config_from_env`` says
    which is missing)."""
    return any(environ.get(f"{vendor.SOURCE}{suffix}", "").strip() for suffix in CREDENTIAL_SUFFIXES)


def sync_day(day: date, *, token_store: TokenStore, environ: Mapping[str, str] | None = None,
             http: httpx.Client | None = None, policy: FetchPolicy = FetchPolicy(),
             sleep: Sleep = time.sleep) -> DaySync:
    """Every authorized user's ``day`` at every configured vendor (module doc); ``SyncDisabled`` when the flag is
    off. ``http``, ``policy`` and ``sleep`` are passed to the vendor clients (tests record the waits)."""
    environ = os.environ if environ is None else environ
    if not settings.wearables_sync_enabled(environ):
        raise SyncDisabled(f"{FLAG} is not set to true, so the Oura and WHOOP APIs are not called; set "
                           f"{FLAG}=true where the pipeline runs to sync wearable data")
    days: list[WearableDay] = []
    stats: dict[str, VendorStats] = {}
    failures: list[SyncFailure] = []
    unconfigured: list[str] = []
    for vendor in VENDORS:
        if not configured(vendor, environ):
            unconfigured.append(vendor.SOURCE)
            continue
        try:
            config = vendor.config_from_env(environ)
        except ValueError as exc:
            failures.append(SyncFailure(vendor.SOURCE, None, str(exc)))
            continue
        counts = stats[vendor.SOURCE] = VendorStats()
        for user_id in token_store.users(vendor.VENDOR):
            counts.users += 1
            try:
                result = vendor.fetch_days(user_id, day, day, config=config, token_store=token_store, http=http,
                                           policy=policy, sleep=sleep)
            except (WearableApiError, TokenStoreError, ValueError) as exc:
                counts.failed += 1
                failures.append(SyncFailure(vendor.SOURCE, user_id, str(exc)))
                log.error("%s sync of user %r for %s failed: %s", vendor.VENDOR, user_id, day, exc)
                continue
            counts.add(result.stats, len(result.days))
            days.extend(result.days)
    return DaySync(day, days, stats, failures, unconfigured)

"""`americano context import-apple-health --user USER [--timezone TZ] FILE`: a user's Apple Health export into
``context_metadata``.

Why a command and not an asset: an export is a file a participant hands over now and then, not a feed the pipeline
can pull on a schedule (Apple has no server API). It goes the way the Oura and WHOOP days go, in three steps:
1. read (``context.apple_health.read_export``): a record that cannot be read is refused naming file, line and value;
2. check (``checks.wearables``, the rules of the sync's blocking asset check, without a partition day): any problem
   refuses the whole file, every problem named by its row, and nothing is written;
3. write (``context.store.store_days``) through the writer login, idempotently: a re-import of the same export
   changes nothing, a newer export updates the days whose values changed.
The embedded cluster is started first when it is the database in use (as ``americano api serve`` does).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from americano_pipeline import settings
from americano_pipeline.commands.refusal import refused


def _writer():
    """A connection as americano_writer: AMERICANO_WRITER_DATABASE_URL's login, else the embedded cluster's."""
    from americano_pipeline.source.connection import WRITER_ROLE, connect
    from americano_pipeline.source.database import writer_url

    if not settings.external_database_url():
        from americano_pipeline.source.cluster import LocalCluster

        LocalCluster.default().start()
    return connect(writer_url(), role=WRITER_ROLE)


def _counts(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    kinds = ", ".join(f"{kind.removeprefix('HKQuantityTypeIdentifier').removeprefix('HKCategoryTypeIdentifier')} "
                      f"{n:,}" for kind, n in counts.items())
    return f"{total:,}" + (f" ({kinds})" if kinds else "")


def import_apple_health(path: str, *, user_id: str, timezone: str | None) -> bool:
    """Read, check and store ``path`` for ``user_id``; False (after naming every problem on stderr) when refused."""
    from americano_pipeline.checks.wearables import wearable_problems
    from americano_pipeline.context.apple_health import read_export
    from americano_pipeline.context.landing import frame_of
    from americano_pipeline.context.store import store_days

    export = read_export(Path(path), user_id=user_id, timezone=timezone)
    problems = wearable_problems(frame_of(export.days))
    if problems:
        return refused(f"americano context import-apple-health: {path}", problems, "nothing written")
    with _writer() as conn:
        stored = store_days(conn, export.days)
    summary = export.summary
    span = f", {summary.first_date}..{summary.last_date}" if summary.days else ""
    for line in (f"{summary.file}: {summary.records:,} records; used {_counts(summary.used)}; ignored "
                 f"{_counts(summary.ignored)}",
                 f"{summary.days:,} days of user {user_id}{span}: {stored.inserted:,} inserted, {stored.updated:,} "
                 f"updated, {stored.unchanged:,} unchanged (context_metadata, source APPLE_HEALTH)"):
        print(textwrap.fill(line, width=120, subsequent_indent="  ", break_on_hyphens=False))
    return True

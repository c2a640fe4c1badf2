"""The protocol partitions: every analysis asset is partitioned by protocol id (a dynamic set, since protocols are
registered in the study app at any time).

Why a function that registers from the database: the demo, the ``nightly_schedule``, the ``new_phase_sensor`` and
the tests all need the same rule (every protocol in ``experiment_protocols``, in start order, added once), read
through the read-only role like every other read of the source.

Why ids are validated first: a partition key is part of result paths (``analysis/<asset>/<id>``), run tags and the
``first...last`` range string of a backfill, and a registered key cannot be taken back by a rerun. An id that is
not a CUID (``../../../tmp/x``, ``a,b [c]*``) would escape the results directory or break the range; it is
reported with its row (``rejected_protocol``) and never registered. The Pandera checks of the snapshot hold every
id to the same pattern.
"""

import logging
import re
from collections.abc import Callable

import dagster as dg

from americano_pipeline import settings
from americano_pipeline.resources.postgres import PostgresResource
from americano_pipeline.source.schema import CUID_PATTERN

protocols = dg.DynamicPartitionsDefinition(name="protocols")
# The wearable sync: one partition per calendar day in AMERICANO_TIMEZONE (the key is the date a vendor files a day
# and its night under), the last one yesterday. From 2025-01-01, before the study's first day, so a backfill can
# import an authorized user's history from the start; a day before anyone wore a device is only an empty run.
wearable_day_partition = dg.DailyPartitionsDefinition(start_date="2025-01-01", timezone=settings.timezone_name())

_log = logging.getLogger(__name__)


def protocol_ids(conn) -> list[str]:
    """Every registered protocol id, by start date (then id), from a reader connection."""
    return [row[0] for row in conn.execute('SELECT id FROM experiment_protocols ORDER BY "startDate", id')]


def rejected_protocol(protocol_id) -> str | None:
    """Why ``protocol_id`` cannot be a partition key (None when it is a CUID), naming the row."""
    if isinstance(protocol_id, str) and re.fullmatch(CUID_PATTERN, protocol_id):
        return None
    return (f"experiment_protocols row with id {protocol_id!r}: not a CUID ('c' + 24 lowercase letters or digits), "
            "so it is not registered as a protocol partition; fix the id in the study database")


def valid_protocol_ids(ids, report: Callable[[str], None]) -> list[str]:
    """The ids that can be partition keys, in order; ``report`` is called with the reason for each other one."""
    valid = []
    for protocol_id in ids:
        reason = rejected_protocol(protocol_id)
        if reason is None:
            valid.append(protocol_id)
        else:
            report(reason)
    return valid


def register_protocols(instance: dg.DagsterInstance, postgres: PostgresResource,
                       report: Callable[[str], None] = _log.warning) -> list[str]:
    """Add a partition for every protocol the instance does not know yet; returns the keys added, in order. An id
    that is not a CUID is passed to ``report`` and skipped (module doc)."""
    with postgres.reader() as conn:
        ids = valid_protocol_ids(protocol_ids(conn), report)
    known = set(instance.get_dynamic_partitions(protocols.name))
    added = [protocol_id for protocol_id in ids if protocol_id not in known]
    if added:
        instance.add_dynamic_partitions(protocols.name, added)
    return added


def partition_range_tags(keys: list[str]) -> dict[str, str]:
    """Run tags that make one run materialize the partitions ``keys[0]`` .. ``keys[-1]`` (a single-run backfill,
    as the UI launches it); the keys must be contiguous in the instance's partition order."""
    if not keys:
        raise ValueError("no partition keys: register protocols first (register_protocols)")
    return {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}

"""The protocol partitions: every analysis asset is partitioned by protocol id (a dynamic set, since protocols are
registered in the study app at any time).

Why a function that registers from the database: the demo, the ``new_phase_sensor`` and the tests all need the
same rule (every protocol in ``experiment_protocols``, in start order, added once), read through the read-only
role like every other read of the source.
"""

import dagster as dg

from americano_pipeline.resources.postgres import PostgresResource

protocols = dg.DynamicPartitionsDefinition(name="protocols")


def protocol_ids(conn) -> list[str]:
    """Every registered protocol id, by start date (then id), from a reader connection."""
    return [row[0] for row in conn.execute('SELECT id FROM experiment_protocols ORDER BY "startDate", id')]


def register_protocols(instance: dg.DagsterInstance, postgres: PostgresResource) -> list[str]:
    """Add a partition for every protocol the instance does not know yet; returns the keys added, in order."""
    with postgres.reader() as conn:
        ids = protocol_ids(conn)
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

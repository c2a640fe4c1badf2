"""`americano runs recover`: runs of the local Dagster instance whose process was killed, put right."""

from __future__ import annotations

from americano_pipeline import settings


def recover() -> None:
    """Mark the dead runs of DAGSTER_HOME's instance failed, free their pool slots, end their leftovers; say what."""
    settings.use_dagster_home()
    import dagster as dg

    from americano_pipeline.automation.recovery import recover_dead_runs

    with dg.DagsterInstance.get() as instance:
        recovered = recover_dead_runs(instance)
    for run in recovered:
        print(run)
    if not recovered:
        print("no dead runs: every run in progress still has its process")

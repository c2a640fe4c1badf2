"""The warehouse layer in Dagster: every dbt model of ``dbt_project/`` is an asset, every dbt test an asset check.

Why this shape:
- Lineage is one graph: the dbt sources declare the Dagster keys ``raw/<table>`` of the snapshot assets, the
  models land in the group ``warehouse``.
- Error-severity dbt tests become BLOCKING asset checks (dagster-dbt derives ``blocking`` from the test's
  severity; ``enable_asset_checks`` turns tests into checks), so a broken invariant stops everything downstream;
  warn-severity tests are recorded but do not block.
- DuckDB allows one writer process, so the dbt assets run in the concurrency pool ``duckdb`` (limit it to 1 in
  the Dagster instance); every other reader opens the file ``read_only``. Waiting for a lock held by another
  process is dbt's job (profiles.yml, AMERICANO_DUCKDB_LOCK_TIMEOUT), so plain ``dbt build`` behaves the same.
- Importing this module never runs dbt: the manifest is prepared once by ``dbt parse`` (``make manifest``), and
  a missing manifest is an error that says so, instead of a silent parse on every code-location load.
- dbt runs from this project's virtual environment (next to ``sys.executable``), never whatever is on PATH.
- Each build is an MLflow run (experiment ``warehouse``: models built, tests passed/failed, with the git and DVC
  tags), logged whether the build passed or not, so a result's lineage can be followed in MLflow alone.
- A build writes a staging copy of the warehouse and replaces the published file only when it passed; a failed
  build leaves the published marts and their data version as they were and records its failure beside them, so the
  analyses refuse to run until a build passes (``lineage.warehouse_release``).
"""

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliInvocation,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from americano_pipeline import settings
from americano_pipeline.assets.provenance import run_name, run_tags
from americano_pipeline.resources.mlflow_tracking import MlflowTrackingResource

DBT_PROJECT_DIR = settings.PROJECT_ROOT / "dbt_project"
WAREHOUSE_GROUP = "warehouse"
DUCKDB_POOL = "duckdb"
DUCKDB_PATH_VARIABLE = "AMERICANO_DUCKDB_PATH"  # the warehouse file dbt writes (profiles.yml)
FAILURE_PREFIX = "FAIL "  # what the dbt macro explain_failures logs before each failing row's explanation

warehouse_project = DbtProject(project_dir=DBT_PROJECT_DIR)

if not warehouse_project.manifest_path.exists():
    raise FileNotFoundError(
        f"The dbt manifest {warehouse_project.manifest_path} is missing. Prepare it once with `make manifest` "
        f"(runs `.venv/bin/dbt parse --project-dir {DBT_PROJECT_DIR} --profiles-dir {DBT_PROJECT_DIR}`), and "
        "again after changing the dbt project."
    )


class WarehouseTranslator(DagsterDbtTranslator):
    """dbt nodes -> Dagster assets in the ``warehouse`` group, dbt tests -> (blocking) asset checks."""

    def __init__(self):
        super().__init__(DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return WAREHOUSE_GROUP


def dbt_executable() -> Path:
    """The ``dbt`` of the interpreter's own virtual environment."""
    return Path(sys.executable).parent / "dbt"


def dbt_resource() -> DbtCliResource:
    """The dbt CLI resource for the warehouse project (``dbt`` key in Definitions)."""
    return DbtCliResource(project_dir=warehouse_project, dbt_executable=str(dbt_executable()))


def explained_events(invocation: DbtCliInvocation) -> Iterator[Any]:
    """The invocation's Dagster events, with each failed check carrying the failing rows' explanations.

    dbt reports only "Got N results" for a failed test; the project's singular tests log one line per failing
    row (macro explain_failures). Those lines arrive before the test's result, tagged with its unique_id, and
    are attached to the check result so the Dagster UI says which protocol, phase or metric is wrong.
    """
    explanations: dict[str, list[str]] = {}
    for raw in invocation.stream_raw_events():
        info, data = raw.raw_event["info"], raw.raw_event["data"]
        unique_id = data.get("node_info", {}).get("unique_id")
        if info["name"] == "JinjaLogInfo" and unique_id and info["msg"].startswith(FAILURE_PREFIX):
            explanations.setdefault(unique_id, []).append(info["msg"])
        for event in raw.to_default_asset_events(
            manifest=invocation.manifest, dagster_dbt_translator=invocation.dagster_dbt_translator,
            context=invocation.context, target_path=invocation.target_path, project=invocation.project,
        ):
            failures = explanations.get(unique_id or "")
            if isinstance(event, dg.AssetCheckResult) and not event.passed and failures:
                event = event._replace(
                    description="\n".join(failures),
                    metadata={**event.metadata, "failures": dg.MetadataValue.md("\n".join(f"- {f}" for f in failures))},
                )
            yield event


@dbt_assets(
    manifest=warehouse_project.manifest_path,
    project=warehouse_project,
    dagster_dbt_translator=WarehouseTranslator(),
    pool=DUCKDB_POOL,
    name="warehouse",
)
def warehouse_dbt_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource,
                         mlflow_tracking: MlflowTrackingResource):
    """``dbt build`` of the selected models and their tests into a staging copy of the warehouse, published only
    when the build passed (``lineage.warehouse_release``); the only writer of the DuckDB file."""
    from americano_pipeline.lineage import warehouse_release

    tracker = mlflow_tracking.tracker()
    tracker.experiment_id(context.op_def.name)  # an unreachable store fails before dbt runs
    published = settings.duckdb_path()
    try:
        staging = warehouse_release.staged(published)
    except warehouse_release.DuckDBLockTimeout as exc:
        raise dg.Failure(description=str(exc)) from None
    try:
        with _building_into(staging):
            invocation = dbt.cli(["build"], context=context, raise_on_error=False)
        models, tests = 0, []
        for event in explained_events(invocation):
            if isinstance(event, dg.Output):
                models += 1
            elif isinstance(event, dg.AssetCheckResult):
                tests.append(event.passed)
            yield event
        error = invocation.get_error()
        if error is None:
            warehouse_release.publish(staging, published)
        else:
            warehouse_release.keep_failure(staging, published)
    finally:
        warehouse_release.discard(staging)
    run_id = tracker.log_run(
        context.op_def.name, run_name(context),
        params={"command": "dbt build", "models_selected": len(context.selected_asset_keys)},
        metrics={"models_built": models, "tests_passed": sum(tests), "tests_failed": len(tests) - sum(tests)},
        tags={**run_tags(context), "dbt.success": str(error is None).lower()},
    )
    context.log.info(f"dbt build logged as MLflow run {run_id} (experiment {context.op_def.name})")
    if error is not None:
        raise error


@contextmanager
def _building_into(staging: Path) -> Iterator[None]:
    """dbt (a subprocess started inside) writes ``staging``: the profile reads AMERICANO_DUCKDB_PATH."""
    previous = os.environ.get(DUCKDB_PATH_VARIABLE)
    os.environ[DUCKDB_PATH_VARIABLE] = str(staging)
    try:
        yield
    finally:
        if previous is None:
            del os.environ[DUCKDB_PATH_VARIABLE]
        else:
            os.environ[DUCKDB_PATH_VARIABLE] = previous

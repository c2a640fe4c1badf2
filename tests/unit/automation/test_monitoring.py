"""The monitoring wiring: the drift check warns (never blocks) naming each drifted column and its statistic, the
snapshot's freshness checks and their sensor are registered, and the code location still loads without Evidently."""

import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg

from americano_pipeline.analysis.drift import CHECKED, NOT_ENOUGH_DATA, ColumnDrift, DatasetDrift, DriftSummary, Window
from americano_pipeline.assets.monitoring import DRIFT_CHECK, KEY, drift_check_result, drift_report
from americano_pipeline.automation.freshness import raw_snapshot_freshness_checks, raw_snapshot_freshness_sensor

SLEEP = ColumnDrift("sleepHours", "numerical", "K-S p_value", 0.00123, 0.05, True)
MOOD = ColumnDrift("mood", "categorical", "chi-square homogeneity p_value", 0.6, 0.05, False)
WINDOW = Window(date(2026, 10, 18), date(2026, 10, 31), 14, 14)


def _summary(*columns: ColumnDrift, events: DatasetDrift | None = None) -> DriftSummary:
    context = DatasetDrift("context", CHECKED, None, WINDOW, WINDOW, columns, (), 0.5, False)
    events = events or DatasetDrift("events", CHECKED, None, WINDOW, WINDOW, (), (), 0.0, False)
    return DriftSummary("20261101T020000000000Z", 14, 56, 7, (events, context), Path("/nowhere"))


def test_drift_warns_naming_the_column_its_test_and_statistic():
    result = drift_check_result(_summary(SLEEP, MOOD))
    assert (result.passed, result.severity, result.check_name) == (False, dg.AssetCheckSeverity.WARN, DRIFT_CHECK)
    assert result.description.startswith("drift in 1 column(s): context.sleepHours (K-S p_value 0.00123 < 0.05)")
    assert result.metadata["drift"].value == {"context.sleepHours": SLEEP.to_dict()}


def test_no_drift_passes_and_a_dataset_without_enough_data_is_named():
    short = DatasetDrift("events", NOT_ENOUGH_DATA, "the latest window has 3 day(s) with data", None, None)
    result = drift_check_result(_summary(MOOD, events=short))
    assert result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert result.description == ("no column drifted (events not checked: the latest window has 3 day(s) with data); "
                                  "a monitoring signal, not inference")


def test_the_drift_check_never_blocks():
    [spec] = drift_report.check_specs
    assert (spec.key.asset_key, spec.name, spec.blocking) == (KEY, DRIFT_CHECK, False)
    assert drift_report.group_names_by_key[KEY] == "monitoring"


def test_every_raw_table_has_a_non_blocking_freshness_check_evaluated_by_a_running_sensor():
    keys = {key for checks in raw_snapshot_freshness_checks for key in checks.check_keys}
    assert {(key.asset_key.path[0], key.name) for key in keys} == {("raw", "freshness_check")}
    assert len(keys) == 5
    specs = [spec for checks in raw_snapshot_freshness_checks for spec in checks.check_specs]
    assert not any(spec.blocking for spec in specs)
    assert raw_snapshot_freshness_sensor.name == "raw_snapshot_freshness_sensor"
    assert raw_snapshot_freshness_sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_the_code_location_registers_monitoring_and_loads_without_evidently():
    probe = (
        "import sys\n"
        "from americano_pipeline.definitions import defs\n"
        "graph = defs.resolve_asset_graph()\n"
        "checks = {f'{k.asset_key.to_user_string()}:{k.name}' for k in graph.asset_check_keys}\n"
        "assert 'monitoring/drift_report:drift_is_absent' in checks, checks\n"
        "assert 'raw/context_metadata:wearable_sources_are_fresh' in checks, checks\n"
        "assert 'raw/behavioral_events:freshness_check' in checks, checks\n"
        "assert defs.resolve_sensor_def('raw_snapshot_freshness_sensor')\n"
        "job = defs.resolve_job_def('snapshot_and_warehouse')\n"
        "assert any(k.to_user_string() == 'monitoring/drift_report' for k in job.asset_layer.selected_asset_keys)\n"
        "print(','.join(m for m in ('evidently', 'plotly', 'pandas') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            env={"AMERICANO_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "PATH": ""})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""

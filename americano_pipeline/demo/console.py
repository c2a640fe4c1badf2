"""What ``americano demo`` / ``prepare`` / ``seed`` print: row counts, the planted ground truth, the outcome of the
warehouse and analysis runs (with the phase and results tables).

Why apart from the commands: the commands decide what runs; this module only reads what the runs produced (the
Dagster run result, the marts, the published ``result.json`` files) and lays it out for a person.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from americano_pipeline import settings


def print_counts(counts: dict[str, int]) -> None:
    width = max(map(len, counts))
    for table, count in counts.items():
        print(f"  {table:<{width}}  {count:>12,}")


def _ground_truth(truth_path: Path) -> list[dict]:
    """The synthetic study's protocols with their planted truth; none when the study was not seeded here."""
    return json.loads(truth_path.read_text())["protocols"] if truth_path.exists() else []


def print_ground_truth(truth_path: Path) -> None:
    """The planted effect and phase changes of every synthetic protocol, when the study was seeded here."""
    protocols = _ground_truth(truth_path)
    if not protocols:
        return
    from americano_pipeline.demo.results_table import planted_text

    print(f"planted ground truth ({truth_path}):")
    for protocol in protocols:
        print(f"  {protocol['name']} ({protocol['protocolId']}, {protocol['designType']}, "
              f"{protocol['primaryOutcome']})")
        print(textwrap.fill(f"{protocol['startDate']} .. {protocol['endDate']}: {planted_text(protocol)}; changes "
                            f"{', '.join(protocol['phaseChangeDates'])}", width=120, initial_indent="    ",
                            subsequent_indent="      "))


def print_warehouse_run(result, log_path: Path) -> None:
    """Snapshot rows, check verdicts and data version per table; dbt models and tests; the phase summary."""
    checks = result.get_asset_check_evaluations()
    snapshot_checks = {c.asset_key.to_user_string(): c for c in checks if c.asset_key.path[0] == "raw"}
    dbt_checks = [c for c in checks if c.asset_key.path[0] != "raw"]
    print(f"pipeline run {result.run_id} ({'succeeded' if result.success else 'FAILED'}; dbt log {log_path}):")
    models = 0
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        key = materialization.asset_key.to_user_string()
        meta = {k: v.value for k, v in materialization.metadata.items()}
        if key not in snapshot_checks:
            models += 1
            continue
        verdict = "check passed" if snapshot_checks[key].passed else "CHECK FAILED"
        print(f"  {key:<24} {meta['rows']:>10,}  {verdict:<13} data version {meta['data_version_hash']}")
    if dbt_checks or models:
        print(f"  dbt: {models} models built, {sum(c.passed for c in dbt_checks)} of {len(dbt_checks)} checks passed")
    for check in checks:
        if not check.passed:
            print(f"  FAILED {check.asset_key.to_user_string()} {check.check_name}: {check.description}")
    if models:
        from americano_pipeline.demo.phase_table import phase_summary

        print(f"daily outcomes per protocol and phase ({settings.duckdb_path()}):")
        print(phase_summary(settings.duckdb_path()))


def print_analysis_run(result, protocol_ids: list[str]) -> None:
    """The run's outcome, each failed step's first line, and the results table of ``protocol_ids``."""
    from americano_pipeline.demo.results_table import shown_path, summary_table

    print(f"analysis run {result.run_id} ({'succeeded' if result.success else 'FAILED'}):")
    for event in result.get_step_failure_events():
        print(f"  FAILED {event.step_key}: {event.step_failure_data.error.message.strip().splitlines()[0]}")
    planted = {p["protocolId"]: p for p in _ground_truth(settings.ground_truth_path())}
    print(summary_table(settings.analysis_dir(), protocol_ids, planted))
    print(f"CENT reports: {shown_path(settings.reports_dir())}/<protocol>/report.html and report.pdf")
    print(f"MLflow: {settings.mlflow_tracking_uri()} (make mlflow-ui); Dagster UI: make ui")

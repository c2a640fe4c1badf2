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


BESIDE_DBT = ("raw", "monitoring", "context_analysis")  # the warehouse run's asset groups that are not dbt models


def _wrapped(text: str, indent: str = "  ") -> str:
    return textwrap.fill(text, width=120, initial_indent=indent, subsequent_indent=indent + "  ")


def print_warehouse_run(result, log_path: Path) -> None:
    """Snapshot rows, blocking-check verdicts and data version per table; dbt models and tests; the phase summary;
    the drift report; every user's context-outcome relations. A failed WARN check (drift, a stale source) is a
    warning: it never stops the run."""
    checks = result.get_asset_check_evaluations()
    blocking = [c for c in checks if c.severity.value == "ERROR"]
    snapshot_passed: dict[str, bool] = {}
    for check in blocking:
        if check.asset_key.path[0] == "raw":
            key = check.asset_key.to_user_string()
            snapshot_passed[key] = snapshot_passed.get(key, True) and check.passed
    dbt_checks = [c for c in checks if c.asset_key.path[0] not in BESIDE_DBT]
    print(f"pipeline run {result.run_id} ({'succeeded' if result.success else 'FAILED'}; dbt log {log_path}):")
    models = 0
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        key = materialization.asset_key.to_user_string()
        meta = {k: v.value for k, v in materialization.metadata.items()}
        if materialization.asset_key.path[0] not in BESIDE_DBT:
            models += 1
        elif key in snapshot_passed:
            verdict = "check passed" if snapshot_passed[key] else "CHECK FAILED"
            print(f"  {key:<24} {meta['rows']:>10,}  {verdict:<13} data version {meta['data_version_hash']}")
    if dbt_checks or models:
        print(f"  dbt: {models} models built, {sum(c.passed for c in dbt_checks)} of {len(dbt_checks)} checks passed")
    for check in checks:
        if not check.passed:
            label = "FAILED" if check.severity.value == "ERROR" else "warning:"
            print(_wrapped(f"{label} {check.asset_key.to_user_string()} {check.check_name}: {check.description}"))
    if models:
        from americano_pipeline.demo.phase_table import phase_summary

        print(f"daily outcomes per protocol and phase ({settings.duckdb_path()}):")
        print(phase_summary(settings.duckdb_path()))
    _print_drift(result)
    print_context_relations(settings.ground_truth_path())


def _print_drift(result) -> None:
    """Each dataset's windows and drifted columns, from the drift report this run wrote."""
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        if materialization.asset_key.to_user_string() != "monitoring/drift_report":
            continue
        directory = Path(materialization.metadata["directory"].value)
        report = json.loads((directory / "result.json").read_text())
        print(f"drift report of snapshot {report['snapshotId']} (Evidently):")
        print(f"  {directory}/result.json, events.html, context.html")
        for name, dataset in report["datasets"].items():
            if dataset["status"] != "checked":
                print(_wrapped(f"{name}: not checked ({dataset['reason']})"))
                continue
            latest, reference = dataset["latest"], dataset["reference"]
            drifted = ", ".join(dataset["driftedColumns"]) or "none"
            print(_wrapped(f"{name}: latest {latest['from']}..{latest['to']} against {reference['from']}.."
                           f"{reference['to']}: {len(dataset['driftedColumns'])} of {len(dataset['columns'])} "
                           f"columns drifted ({drifted})"))
        print(_wrapped(report["note"]))


def print_context_relations(truth_path: Path) -> None:
    """Every user's context-outcome relations found after Benjamini-Hochberg, beside the planted ones and the
    planted nulls when the synthetic study was seeded here."""
    root = settings.analysis_dir() / "context_relations"
    results = sorted(root.glob("*/result.json"))
    if not results:
        return
    truth = json.loads(truth_path.read_text()).get("context") if truth_path.exists() else None
    print("context-outcome relations (Granger, prewhitened cross-correlations, Benjamini-Hochberg):")
    print(f"  {root}/<user>/result.json, ccf.png, q_heatmap.png")
    if truth:
        planted = ", ".join(f"{r['covariate']} -> {r['outcome']} ({r['perHour']:+g} per hour)"
                            for r in truth["plantedRelations"])
        print(_wrapped(f"planted: {planted}; no relation: {', '.join(truth['nullCovariates'])}"))
    for path in results:
        result = json.loads(path.read_text())
        found = result["significantPairs"]
        named = ", ".join(f"{p['context']} -> {p['outcome']} (q {p['qValue']:.2g}, {p['sumOfCoefficients']:+.2g})"
                          for p in found) or "none"
        line = f"{result['userId']}: {result['families']['granger']['tests']} pairs; found {named}"
        if truth:
            wrong = sorted({p["context"] for p in found} & set(truth["nullCovariates"]))
            line += f"; planted nulls found: {', '.join(wrong) or 'none'}"
        print(_wrapped(line))


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

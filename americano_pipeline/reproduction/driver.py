"""The re-run half of ``americano reproduce`` (``reproduction.rerun``): a script, never imported by the package.

Why a script: it runs in a child process with ``PYTHONPATH`` set to the recorded commit's work tree, so every
module it imports (the marts reader, the method, its statistics core, the runner that writes ``result.json``) is
that commit's code, not this one's. It is copied beside its spec file and run by path, so the directory put first on
``sys.path`` holds nothing importable.

What it does, as the Dagster asset and ``analysis.batch`` do for one partition: read the protocol from the
reproduction's own warehouse, choose the metric under the pre-registration rule, call the recorded method with the
recorded parameters (a parameter the row does not record, e.g. every one of a not-run ITS, takes the commit's
config default), and publish through the commit's ``runner.publish_analysis`` into a private directory, with a
tracker and a database connection that only capture what they are given: no MLflow run, no ``analysis_runs`` row.

Usage: ``python driver.py SPEC.json`` where SPEC holds ``code_root``, ``asset``, ``protocol_id``,
``params`` (the row's ``inputParams``), ``code_commit``, ``output_root`` and ``answer`` (where the answer goes).
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

# asset (analysis_runs.analysisType) -> method constant, analyse function, Dagster config class
METHODS = {
    "its_result": ("ITS", "analyse_its", "ITSConfig"),
    "randomization_result": ("RANDOMIZATION", "analyse_randomization", "RandomizationConfig"),
    "change_points_result": ("CHANGE_POINTS", "analyse_change_points", "ChangePointsConfig"),
    "sequential_boundaries": ("SEQUENTIAL", "analyse_sequential", "SequentialConfig"),
}
REVERSAL_STATISTICS = ("mean_difference", "phase_mean_difference")


def config_values(asset: str, params: dict) -> dict:
    """The Dagster config of the recorded run, as far as ``inputParams`` records it (the rest: defaults)."""
    exploratory = bool(params.get("exploratory", False))
    values = {"exploratory": exploratory, "metric": params.get("metric") if exploratory else None}
    copied = {
        "its_result": ("seed", "draws", "tune", "chains"),
        "randomization_result": ("alternative", "n_permutations", "seed"),
        "change_points_result": ("algorithm", "min_segment_length", "penalty", "n_bootstrap", "seed",
                                 "tolerance_days"),
        "sequential_boundaries": ("spending_function", "alpha"),
    }[asset]
    values.update({key: params[key] for key in copied if key in params})
    if asset == "its_result" and "covariates_considered" in params:
        values["covariates"] = [name for name in str(params["covariates_considered"]).split(",") if name]
    if asset == "randomization_result" and params.get("statistic") in REVERSAL_STATISTICS:
        values["statistic"] = params["statistic"]  # other designs record their test's name; their statistic is fixed
    return values


def looks_of(recorded) -> list | None:
    """``looks`` of a sequential run: None for the phase ends, else whole numbers of days or ISO dates."""
    if recorded in (None, "phase ends"):
        return None
    return [int(look) if look.isdigit() else look for look in str(recorded).split(",")]


class CapturingTracker:
    """Stands in for ``lineage.tracking.Tracker``: records what would be logged, logs nothing."""

    def __init__(self):
        self.params, self.metrics = {}, {}

    def experiment_id(self, name: str) -> str:
        return "reproduction"

    def start_run(self, experiment, run_name, params, tags) -> str:
        self.params = dict(params)
        return "reproduction"

    def finish_run(self, run_id, metrics, artifacts) -> None:
        self.metrics = dict(metrics)

    def fail_run(self, run_id) -> None:
        pass


class CapturingConnection:
    """Stands in for the writer connection: keeps the ``analysis_runs`` row's JSON columns, inserts nothing."""

    def __init__(self):
        self.rows: list[tuple] = []

    def execute(self, sql, params=()):
        self.rows.append(tuple(getattr(value, "obj", value) for value in params))


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    code_root = Path(spec["code_root"]).resolve()
    import americano_pipeline

    loaded = Path(americano_pipeline.__file__).resolve()
    if code_root not in loaded.parents:
        raise SystemExit(f"reproduction: americano_pipeline was imported from {loaded}, not from {code_root}")

    from americano_pipeline.analysis import methods
    from americano_pipeline.analysis.inputs import chosen_metric
    from americano_pipeline.analysis.marts import MartsReader
    from americano_pipeline.analysis.runner import Execution, publish_analysis
    from americano_pipeline.assets import analysis as assets
    from americano_pipeline.lineage.code_state import GitState

    asset, protocol_id, params = spec["asset"], spec["protocol_id"], spec["params"]
    constant, function_name, config_name = METHODS[asset]
    method, analyse_function = getattr(methods, constant), getattr(methods, function_name)
    config = getattr(assets, config_name)(**config_values(asset, params))

    def analyse(reader, data, metric):
        if asset == "its_result":
            covariates = reader.daily_context(data.protocol.user_id, data.days.index[0], data.days.index[-1],
                                              config.covariates)
            return analyse_function(data, metric, covariates, seed=config.seed, draws=config.draws,
                                    tune=config.tune, chains=config.chains)
        if asset == "randomization_result":
            return analyse_function(data, metric, statistic=config.statistic, alternative=config.alternative,
                                    exploratory=config.exploratory, n_permutations=config.n_permutations,
                                    seed=config.seed)
        if asset == "change_points_result":
            extra = {"noise": params["noise"]} if "noise" in params else {}
            return analyse_function(data, metric, algorithm=config.algorithm,
                                    min_segment_length=config.min_segment_length, penalty=config.penalty,
                                    n_bootstrap=config.n_bootstrap, seed=config.seed,
                                    tolerance_days=config.tolerance_days, **extra)
        looks = looks_of(params.get("looks"))
        extra = {"looks": looks} if looks is not None else {}
        return analyse_function(data, metric, spending_function=config.spending_function, alpha=config.alpha,
                                **extra)

    tracker, connection = CapturingTracker(), CapturingConnection()

    @contextmanager
    def writer():
        yield connection

    with MartsReader() as reader:
        data_version = reader.release().data_version
        execution = Execution(asset=asset, asset_key=f"analysis/{asset}", dagster_run_id="reproduction",
                              git=GitState(spec["code_commit"], bool(params.get("codeDirty", False))),
                              data_version=data_version, output_root=Path(spec["output_root"]))
        started_at = datetime.now(timezone.utc)
        data = reader.protocol(protocol_id)
        chosen = chosen_metric(data.protocol, method, config.metric, config.exploratory)
        analysis = analyse(reader, data, chosen)
        published = publish_analysis(execution, data, chosen, config.exploratory, analysis, tracker=tracker,
                                     writer=writer, started_at=started_at)
    [row] = connection.rows  # AnalysisRunRow in insert order: ..., inputParams (6), ..., resultsSummary (9)
    answer = {"result": str(published.result_path), "dataVersion": data_version, "module": str(loaded),
              "inputParams": row[6], "resultsSummary": row[9], "metrics": tracker.metrics}
    Path(spec["answer"]).write_text(json.dumps(answer, indent=2))


if __name__ == "__main__":
    main(sys.argv[1])

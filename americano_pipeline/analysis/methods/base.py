"""What every method of the analysis layer returns (``Analysis``), and the helpers they share.

Every ``ValueError`` of the statistics core (too few points, a phase shorter than the minimum, a constant
series ...) becomes an ``AnalysisError`` that names the protocol and the method in front of the core's own message
(which already names the value, date and minimum needed), so one protocol's failure never hides which it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from americano_pipeline.analysis.errors import AnalysisError
from americano_pipeline.analysis.protocol import ProtocolData


@dataclass(frozen=True)
class Analysis:
    """What one method produced for one protocol, ready to be published."""

    method: str
    result: dict  # the statistics core's to_dict() plus the analysis' own keys (camelCase)
    params: dict  # settings as run, recorded in MLflow params and analysis_runs.inputParams
    metrics: dict  # key numbers (finite floats), recorded in MLflow metrics, Dagster metadata, resultsSummary
    summary: str  # one markdown line
    figures: tuple[tuple[str, Callable[[Path], Path]], ...]  # (file name, draw to that path)


def not_run(data: ProtocolData, method: str, reason: str) -> Analysis:
    """The published statement that ``method`` does not apply to this protocol's design, and why (no figures,
    no metrics; the result, the MLflow run and the ``analysis_runs`` row say it)."""
    return Analysis(method=method, result={"notRun": True, "reason": reason, "designType": data.protocol.design_type},
                    params={"not_run": True}, metrics={}, summary=f"not run: {reason}", figures=())


def checked(data: ProtocolData, method: str, function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except AnalysisError:
        raise
    except ValueError as exc:
        raise AnalysisError(data.protocol.protocol_id, method, str(exc)) from exc


def numbers(**values) -> dict:
    """Key numbers without the undefined ones (MLflow metrics must be numbers)."""
    return {name: float(value) for name, value in values.items() if value is not None}


def title(data: ProtocolData, metric: str) -> str:
    return f"{data.protocol.name} ({data.protocol.design_type}, {data.protocol.protocol_id}): {metric}"


def excluded(observations) -> dict:
    return {"washoutDays": observations.washout_days, "missingOutcomeDays": list(observations.missing_days)}

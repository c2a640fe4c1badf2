"""A protocol's daily rows turned into each statistical method's inputs, by documented rules.

Rules (each a decision a reviewer should be able to find in one place):

- Pre-registration: the analysed metric is the protocol's registered ``primaryOutcome``. Another catalogue metric
  may be analysed only in an explicitly labelled exploratory run (``exploratory=True`` plus the metric).
- Phase designs (randomization test, effect sizes, WWC, sequential z): washout days are excluded (their condition
  is neither A nor B), and so are days whose outcome is missing (a day without a measurement is not an
  observation of either condition); both counts are reported. Two phases of the same condition separated only by
  a washout then form one block.
- Time series (ITS, change points): the calendar series is used as it is; a missing day is an error naming the
  date (``stats.validation.regular_series``), never silently skipped, because these models count days.
- ITS covariates: opt-in (none by default), and never one the intervention moved (``moved_covariates``).
- ITS changes: every baseline (A) phase directly followed by an intervention (B) phase is one interruption, with
  that A phase as its pre period, the B phase as its treatment period and the phases after it up to the next B
  phase (a withdrawal A, or a washout) as its withdrawal period (``stats.its.pooled_its``); the effect is pooled
  over all of them (an AB design has one), and the persistence after each withdrawal reported.
- Planned changes: the first day of every phase after the first (washouts included).
- Direction: the protocol's registered alternative (``analysisPlan.alternative``), for every analysis. Testing
  another direction is possible only in an explicitly labelled exploratory run, as for another metric.
- Role: the analysis the plan registers as confirmatory (``analysisPlan.confirmatory``) is the protocol's one
  confirmatory analysis; the others are supportive, and a run on another metric or direction is exploratory.
  Every result says which it is, with a multiplicity statement (``analysis_role``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from americano_pipeline.analysis.errors import AnalysisError
from americano_pipeline.analysis.protocol import Protocol, ProtocolData, checked_metric

REGISTERED = "registered"  # config value: the direction the protocol's analysis plan registered
MOVED_COVARIATE_SMD = 0.5  # pre-period sds a covariate's mean may shift before it counts as moved by the intervention


def chosen_metric(protocol: Protocol, method: str, metric: str | None, exploratory: bool) -> str:
    """The metric to analyse under the pre-registration rule (module doc); ``AnalysisError`` otherwise."""
    primary = protocol.primary_outcome
    if exploratory and metric is None:
        raise AnalysisError(protocol.protocol_id, method,
                            "an exploratory run must name the metric it explores (config metric)")
    if not exploratory and metric not in (None, primary):
        raise AnalysisError(
            protocol.protocol_id, method,
            f"the pre-registered primaryOutcome is {primary!r}; analysing {metric!r} instead is only possible as an "
            "explicitly labelled exploratory run (config exploratory=True)",
        )
    return checked_metric(protocol, method, metric or primary)


def chosen_alternative(protocol: Protocol, method: str, alternative: str, exploratory: bool) -> str:
    """The direction to test: the registered one (``REGISTERED``), or another in an exploratory run only."""
    if alternative in (REGISTERED, protocol.alternative):
        return protocol.alternative
    if not exploratory:
        raise AnalysisError(
            protocol.protocol_id, method,
            f"the registered alternative is {protocol.alternative!r}; testing {alternative!r} instead is only "
            "possible as an explicitly labelled exploratory run (config exploratory=True)",
        )
    return alternative


def outcome_series(data: ProtocolData, metric: str) -> pd.Series:
    """The metric on every day of the protocol, indexed by date (missing days stay NaN for the caller to reject)."""
    return data.days[metric].astype(float).rename(metric)


@dataclass(frozen=True)
class PhaseObservations:
    """Observations of a phase design: values by date, their "A"/"B" labels, and what was left out."""

    values: pd.Series
    labels: tuple[str, ...]
    washout_days: int
    missing_days: tuple[str, ...]


def phase_observations(data: ProtocolData, metric: str) -> PhaseObservations:
    """A/B days in time order with a measured outcome (washout and missing days excluded, see module doc)."""
    days = data.days
    in_design = days["condition"].isin(["A", "B"]).to_numpy()
    values = days[metric].astype(float)
    measured = values.notna().to_numpy()
    missing = values.index[in_design & ~measured]
    keep = in_design & measured
    return PhaseObservations(
        values=values[keep],
        labels=tuple(days["condition"][keep]),
        washout_days=int((~in_design).sum()),
        missing_days=tuple(day.date().isoformat() for day in missing),
    )


WASHOUT = "W"  # the ITS condition of a day that belongs to neither condition (a washout phase)


def its_conditions(data: ProtocolData) -> list[str]:
    """Every calendar day's condition for ``stats.its.pooled_its``: "A", "B", or ``WASHOUT`` (module doc)."""
    return [condition if condition in ("A", "B") else WASHOUT for condition in data.days["condition"]]


def moved_covariates(covariates: pd.DataFrame, conditions: list[str]) -> dict[str, float]:
    """Covariates whose mean on the B days differs from their mean on the A days by at least
    ``MOVED_COVARIATE_SMD`` A-day sds: column -> that standardized difference.

    Why: a covariate the intervention moves (sleep after an evening reminder) is a mediator; adjusting for it
    would take part of the effect away. A covariate that does not vary on the A days counts as moved when its
    mean changes at all.
    """
    labels = pd.Series(conditions, index=covariates.index)
    baseline, treated = covariates[labels == "A"], covariates[labels == "B"]
    moved = {}
    for column in covariates.columns:
        shift, sd = treated[column].mean() - baseline[column].mean(), baseline[column].std(ddof=1)
        smd = shift / sd if sd > 0 else (0.0 if shift == 0 else float("inf") * shift)
        if abs(smd) >= MOVED_COVARIATE_SMD:
            moved[column] = float(smd)
    return moved


def planned_changes(data: ProtocolData) -> list[pd.Timestamp]:
    """First day of every phase after the first: where the design changed condition."""
    return [phase.start for phase in data.phases[1:]]


@dataclass(frozen=True)
class Role:
    """What one analysis of a protocol counts as, and the statement a reader needs to weigh it."""

    name: str  # "confirmatory", "supportive" or "exploratory"
    multiplicity: str

    def to_dict(self) -> dict:
        return {"role": self.name, "multiplicity": self.multiplicity}


def analysis_role(protocol: Protocol, method: str, exploratory: bool) -> Role:
    """The role of ``method`` for ``protocol`` under its registered plan (module doc)."""
    plan = (f"the analysis plan registers one confirmatory analysis, {protocol.confirmatory} "
            f"({protocol.alternative}, alpha {protocol.alpha:g})")
    if exploratory:
        return Role("exploratory", f"Exploratory: {plan}; this run departs from the registered metric or "
                                   "direction, so it generates hypotheses and confirms nothing.")
    if method == protocol.confirmatory:
        return Role("confirmatory", f"Confirmatory: {plan}, and this is it; its verdict alone answers the "
                                    "registered hypothesis at the registered alpha, without adjustment.")
    return Role("supportive", f"Supportive: {plan}; this result is not a separate test of the hypothesis, is "
                              "not adjusted for multiplicity, and cannot confirm it on its own.")

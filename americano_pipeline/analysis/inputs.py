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
- ITS window: the first baseline (A) phase followed by an intervention (B) phase is the pre period, that B phase
  the treatment period; the phases after it up to the next B phase (a withdrawal A, or a washout) are the
  withdrawal period, so an ABA(B) design is analysed as ABA with ``treatment_end_date`` at the withdrawal start
  and the persistence of the effect reported.
- Planned changes: the first day of every phase after the first (washouts included).
- Direction of the hypothesis: read from the verb that governs the outcome in the registered hypothesis text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from americano_pipeline.analysis.errors import AnalysisError
from americano_pipeline.analysis.protocol import Protocol, ProtocolData, checked_metric

_UP = r"rais(?:e|es|ed|ing)|increas(?:e|es|ed|ing)|improv(?:e|es|ed|ing)|boost(?:s|ed|ing)?|enhanc(?:e|es|ed|ing)" \
      r"|higher|more|greater|longer"
_DOWN = r"lower(?:s|ed|ing)?|reduc(?:e|es|ed|ing)|decreas(?:e|es|ed|ing)|cut(?:s|ting)?|fewer|less|shorter"
_NEUTRAL = r"chang(?:e|es|ed|ing)|affect(?:s|ed|ing)?|alter(?:s|ed|ing)?|differ(?:s|ed|ing|ent)?|influenc(?:e|es|ed)"
_DIRECTION = re.compile(rf"\b(?:(?P<up>{_UP})|(?P<down>{_DOWN})|(?P<neutral>{_NEUTRAL}))\b", re.IGNORECASE)


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


@dataclass(frozen=True)
class ITSWindow:
    """Dates of the ITS analysis (``end`` inclusive) and the phases each period covers."""

    start: pd.Timestamp
    intervention: pd.Timestamp
    treatment_end: pd.Timestamp | None
    end: pd.Timestamp
    pre_phase: str
    treatment_phase: str
    withdrawal_phases: tuple[str, ...]

    def to_dict(self) -> dict:
        return {
            "start": self.start.date().isoformat(),
            "intervention": self.intervention.date().isoformat(),
            "treatmentEnd": None if self.treatment_end is None else self.treatment_end.date().isoformat(),
            "end": self.end.date().isoformat(),
            "prePhase": self.pre_phase,
            "treatmentPhase": self.treatment_phase,
            "withdrawalPhases": list(self.withdrawal_phases),
        }


def its_window(data: ProtocolData, method: str) -> ITSWindow:
    """The first A -> B transition and its withdrawal phases (module doc); ``AnalysisError`` if there is none."""
    phases = data.phases
    for position, (before, after) in enumerate(zip(phases[:-1], phases[1:])):
        if before.condition == "A" and after.condition == "B":
            withdrawal = []
            for later in phases[position + 2:]:
                if later.condition == "B":
                    break
                withdrawal.append(later)
            return ITSWindow(
                start=before.start,
                intervention=after.start,
                treatment_end=withdrawal[0].start if withdrawal else None,
                end=withdrawal[-1].end if withdrawal else after.end,
                pre_phase=before.label,
                treatment_phase=after.label,
                withdrawal_phases=tuple(p.label for p in withdrawal),
            )
    sequence = "".join(p.condition or "W" for p in phases)
    raise AnalysisError(
        data.protocol.protocol_id, method,
        f"no baseline (A) phase is followed by an intervention (B) phase in the observed phases {sequence!r}; "
        "an interrupted time series needs a baseline before the intervention",
    )


def planned_changes(data: ProtocolData) -> list[pd.Timestamp]:
    """First day of every phase after the first: where the design changed condition."""
    return [phase.start for phase in data.phases[1:]]


def hypothesis_alternative(hypothesis: str, metric: str) -> str:
    """"greater", "less" or "two-sided" from the registered hypothesis text.

    The verb that governs the outcome is the last direction word before the metric's first mention ("Raising the
    reward probability raises daily engagement_score" -> "raises" -> "greater"; "Reducing screen time raises
    sleep" -> "raises"); without a mention, the last direction word of the text. Non-directional verbs
    ("changes", "affects", "differs") and a text without any direction word give "two-sided": when the direction
    cannot be told, the test must not assume one.
    """
    mention = hypothesis.lower().find(metric.lower())
    text = hypothesis if mention < 0 else hypothesis[:mention]
    words = list(_DIRECTION.finditer(text))
    if not words:
        return "two-sided"
    last = words[-1]
    return "greater" if last.group("up") else "less" if last.group("down") else "two-sided"

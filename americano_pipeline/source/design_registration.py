"""Whether a registered design's randomization can reach its alpha, read from the rows that record it.

Why at registration: a design whose reference set has N members cannot give p < 1/N whatever the effect
(DESIGN.md §4b), so it must be said when the protocol appears, with the arithmetic, not after weeks of data.
The reference set is the design's own (docs/DESIGNS.md): phase-change placements for a reversal and a changing
criterion design, run-limited orders of the A and B days for an alternating design, the staggered starts of a
multiple baseline under its registered scheme. A record that breaks the design's rules gives None here: the
snapshot checks name what is wrong with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from americano_pipeline.source.analysis_plan import parse_analysis_plan


@dataclass(frozen=True)
class PhaseRecord:
    """One ``phase_assignments`` row as registration reads it (calendar days, inclusive)."""

    phase_type: str
    start: date
    end: date
    params: dict

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def condition(self) -> str | None:
        return {"BASELINE": "A", "WASHOUT": None}.get(self.phase_type, "B")


def _phase_splits(phases: list[PhaseRecord], min_phase_length: int, alpha: float):
    from americano_pipeline.stats.randomization import phase_design_alpha_check

    counted = [phase for phase in phases if phase.condition is not None]
    days = sum(phase.days for phase in counted)
    if len(counted) < 2 or days < len(counted) * min_phase_length:
        return None
    return phase_design_alpha_check(days, len(counted), min_phase_length, alpha=alpha)


def _alternation(phases: list[PhaseRecord], max_consecutive: int | None, alpha: float):
    from americano_pipeline.stats.randomization import alpha_check, count_alternating_sequences

    n_a = sum(phase.days for phase in phases if phase.condition == "A")
    n_b = sum(phase.days for phase in phases if phase.condition == "B")
    if not n_a or not n_b:
        return None
    return alpha_check(count_alternating_sequences(n_a, n_b, max_consecutive), alpha=alpha)


def _staggered_starts(phases: list[PhaseRecord], scheme: str, alpha: float):
    from americano_pipeline.stats.randomization import alpha_check, count_multiple_baseline_assignments

    first = min(phase.start for phase in phases)
    starts = [phase for phase in phases if phase.condition == "B"]
    if scheme == "wampold_worsham":
        possible = sorted((phase.start - first).days for phase in starts)
    else:
        try:
            windows = [tuple((date.fromisoformat(day) - first).days for day in phase.params["startWindow"])
                       for phase in starts]
        except (KeyError, TypeError, ValueError):
            return None
        windows = sorted(windows) if scheme == "koehler_levin" else windows
        possible = [list(range(low, high + 1)) for low, high in windows]
    try:
        return alpha_check(count_multiple_baseline_assignments(possible, scheme=scheme), alpha=alpha)
    except ValueError:
        return None


def registration_alpha_check(design_type: str, phases: list[PhaseRecord], min_phase_length: int, plan_text: str):
    """The ``AlphaCheck`` of the design's reference set (``stats.randomization``), or None when the plan or the
    phase record cannot be read as the design (module doc)."""
    try:
        plan = parse_analysis_plan(plan_text)
    except (TypeError, ValueError):
        return None
    if not phases:
        return None
    if design_type == "ALTERNATING":
        return _alternation(phases, plan.max_consecutive, plan.alpha)
    if design_type == "MULTIPLE_BASELINE":
        scheme = plan.multiple_baseline_scheme
        return None if scheme is None else _staggered_starts(phases, scheme, plan.alpha)
    return _phase_splits(phases, min_phase_length, plan.alpha)

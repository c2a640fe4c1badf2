"""Can a design's randomization test ever reach alpha? The arithmetic registration refuses a design with.

Why: an exact randomization test counts the observed assignment, so its p-value is at least 1/N for a reference
set of N members; when 1/N > alpha no outcome, however large the effect, can be significant (DESIGN.md §4b:
such a design is refused at registration, with the arithmetic). ``alpha_check`` gives that verdict for any
design's N (``count_admissible_assignments``, ``count_alternating_sequences``,
``count_multiple_baseline_assignments``); ``phase_design_alpha_check`` also says, for a phase or changing-criterion
design, the smallest change that fixes it: how many observations are needed at the same minimum phase length,
and the longest minimum phase length that works on the planned observations.

alpha is read as the decimal the user wrote (``Fraction(str(alpha))``), so alpha = 0.05 with N = 20 is reachable:
p = 1/20 <= 0.05 rejects.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import ceil

from americano_pipeline.stats.randomization_designs.core import count_admissible_assignments
from americano_pipeline.stats.validation import check_positive_int


@dataclass(frozen=True)
class AlphaCheck:
    """Whether a reference set of ``n_assignments`` members can give p <= ``alpha``, and what would fix it.

    ``needed``: the smallest reference-set size that can. For phase designs, ``observations_needed`` is the
    fewest observations reaching alpha with the same phases and minimum length, and ``largest_min_phase_length``
    the longest minimum phase length reaching it on the planned observations (None when even 1 does not).
    """

    n_assignments: int
    alpha: float
    smallest_p: float
    reachable: bool
    needed: int
    message: str
    observations_needed: int | None = None
    largest_min_phase_length: int | None = None

    def to_dict(self) -> dict:
        return {
            "nAssignments": self.n_assignments,
            "alpha": self.alpha,
            "smallestP": self.smallest_p,
            "reachable": self.reachable,
            "needed": self.needed,
            "message": self.message,
            "observationsNeeded": self.observations_needed,
            "largestMinPhaseLength": self.largest_min_phase_length,
        }


def smallest_attainable_p(n_assignments: int) -> float:
    """1/N: the p-value of the most extreme outcome of an exact test over N assignments."""
    return 1 / check_positive_int(n_assignments, "n_assignments")


def _needed(alpha) -> int:
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be a number strictly between 0 and 1, got {alpha!r}")
    return ceil(1 / Fraction(str(alpha)))


def _arithmetic(n_assignments: int, alpha: float, needed: int, members: str) -> str:
    smallest = f"the smallest attainable p is 1/{n_assignments:,} = {1 / n_assignments:.3g}"
    if n_assignments >= needed:
        return f"{n_assignments:,} {members}: {smallest} <= alpha = {alpha:g}, so the design can reach significance."
    return (
        f"{n_assignments:,} {members}: {smallest} > alpha = {alpha:g}, so no result can be significant; at least "
        f"{needed:,} are needed."
    )


def alpha_check(n_assignments: int, *, alpha: float = 0.05) -> AlphaCheck:
    """Whether any design whose reference set has ``n_assignments`` members can reach ``alpha``."""
    n_assignments = check_positive_int(n_assignments, "n_assignments")
    needed = _needed(alpha)
    return AlphaCheck(
        n_assignments=n_assignments, alpha=float(alpha), smallest_p=smallest_attainable_p(n_assignments),
        reachable=n_assignments >= needed, needed=needed,
        message=_arithmetic(n_assignments, alpha, needed, "assignments in the reference set"),
    )


def _fewest_observations(n_observations: int, n_phases: int, min_phase_length: int, needed: int) -> int:
    """Smallest n >= n_observations with enough placements: doubling then bisection (the count grows with n)."""

    def enough(n: int) -> bool:
        return count_admissible_assignments(n, n_phases, min_phase_length) >= needed

    low, high = n_observations - 1, n_observations
    while not enough(high):
        low, high = high, 2 * high
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    return high


def phase_design_alpha_check(
    n_observations: int, n_phases: int, min_phase_length: int, *, alpha: float = 0.05
) -> AlphaCheck:
    """``alpha_check`` for a design randomizing where k phases change (phase or changing-criterion designs).

    Raises ``ValueError`` when an argument is not a whole number (``n_phases`` >= 2) or when the observations
    cannot hold k phases of the minimum length. When alpha is out of reach, the message gives both fixes, e.g.
    "44 observations with minimum phase 12 give 21 placements, or minimum phase 10 on 40 observations gives 21".
    """
    n, k = check_positive_int(n_observations, "n_observations"), check_positive_int(n_phases, "n_phases")
    length = check_positive_int(min_phase_length, "min_phase_length")
    if k < 2:
        raise ValueError(f"n_phases must be at least 2 (a randomized phase change needs two phases), got {k}")
    if n < k * length:
        raise ValueError(f"n_observations={n} cannot hold {k} phases of at least {length} points ({k * length} needed)")
    needed = _needed(alpha)
    count = count_admissible_assignments(n, k, length)
    fewest = _fewest_observations(n, k, length, needed)
    longest = next((m for m in range(length, 0, -1) if count_admissible_assignments(n, k, m) >= needed), None)
    message = _arithmetic(
        count, alpha, needed, f"admissible phase-change placements ({k} phases on {n} observations, minimum phase "
        f"{length})"
    )
    if count < needed:
        fixes = [f"{fewest} observations with minimum phase {length} give "
                 f"{count_admissible_assignments(fewest, k, length):,} placements"]
        if longest is not None:
            fixes.append(f"minimum phase {longest} on {n} observations gives "
                         f"{count_admissible_assignments(n, k, longest):,}")
        message += f" Smallest fixes: {', or '.join(fixes)}."
    return AlphaCheck(
        n_assignments=count, alpha=float(alpha), smallest_p=smallest_attainable_p(count), reachable=count >= needed,
        needed=needed, message=message, observations_needed=fewest, largest_min_phase_length=longest,
    )

"""What Works Clearinghouse (WWC) design standard for reversal/withdrawal single-case designs.

Why: a randomization p-value says nothing about whether the design could demonstrate a functional relation.
The WWC pilot standards (Kratochwill et al. 2010; kept in the WWC Standards Handbook 4.x/5.0) ask for at least
three attempts to demonstrate an effect, i.e. at least four alternating phases (ABAB, BABA, ...), and count the
points in every phase: at least 5 each → "meets", at least 3 each → "meets with reservations", otherwise (and
for every AB or ABA design) → "does not meet".
"""

from __future__ import annotations

from collections.abc import Sequence

from americano_pipeline.stats.phases import PhaseBlock, parse_phases

MIN_PHASES = 4
POINTS_MEETS = 5
POINTS_WITH_RESERVATIONS = 3


def wwc_design_standard(phases) -> tuple[str, str]:
    """Return ``(verdict, reason)`` for per-observation labels "A"/"B" in time order.

    verdict is "meets", "meets with reservations" or "does not meet"; reason states the phase count and the
    shortest phase. Labels are parsed by the shared ``parse_phases`` (same errors as the other methods).
    """
    return wwc_verdict(parse_phases(phases))


def wwc_verdict(blocks: Sequence[PhaseBlock]) -> tuple[str, str]:
    """The WWC verdict for phases already parsed by ``parse_phases`` (so callers holding them parse once)."""
    shortest = min(blocks, key=lambda block: block.length)
    attempts = len(blocks) - 1
    attempts_text = "1 attempt" if attempts == 1 else f"{attempts} attempts"
    summary = (
        f"{len(blocks)} phases ({''.join(b.label for b in blocks)}, {attempts_text} to demonstrate an effect); "
        f"shortest is {shortest.describe()}"
    )
    if len(blocks) < MIN_PHASES:
        return "does not meet", f"{summary}: at least {MIN_PHASES} alternating phases are required"
    if shortest.length >= POINTS_MEETS:
        return "meets", f"{summary}: every phase has at least {POINTS_MEETS} points"
    if shortest.length >= POINTS_WITH_RESERVATIONS:
        return "meets with reservations", (
            f"{summary}: every phase has at least {POINTS_WITH_RESERVATIONS} but not all have {POINTS_MEETS} points"
        )
    return "does not meet", f"{summary}: every phase needs at least {POINTS_WITH_RESERVATIONS} points"

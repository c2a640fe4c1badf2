"""The ``make demo`` warehouse summary: for each protocol, its phases with their length and outcome mean.

Why read from the marts (``analysis.marts.MartsReader.phase_summary``): it is what the analyses will see, so a
wrong phase boundary or an empty outcome shows up before any model is fitted.
"""

from __future__ import annotations

from itertools import groupby
from pathlib import Path

from americano_pipeline.analysis.marts import MartsReader


def _mean(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _condition_means(phases: list[tuple]) -> str:
    """Day-weighted mean of the outcome under A and under B, and B - A (the direction the tests look for)."""
    means = {}
    for condition in ("A", "B"):
        rows = [(days, mean) for *_, cond, days, mean in phases if cond == condition and mean is not None]
        total = sum(days for days, _ in rows)
        means[condition] = sum(days * mean for days, mean in rows) / total if total else None
    if None in means.values():
        return ""
    return f"  A {means['A']:.2f} / B {means['B']:.2f} (B - A {means['B'] - means['A']:+.2f})"


def phase_summary(warehouse: Path) -> str:
    """One header line per protocol (in start order), then one line per phase: label, condition, days, outcome mean."""
    with MartsReader(warehouse) as reader:
        rows = reader.phase_summary()
    lines = []
    for (protocol_id, _, design, outcome), phases in groupby(rows, key=lambda row: row[:4]):
        phases = [row[4:] for row in phases]
        lines.append(f"  {protocol_id}  {design:<17} {outcome}: {sum(row[3] for row in phases)} days"
                     f"{_condition_means(phases)}")
        lines.extend(f"    {number or '-':>2} {label:<16} {condition:<8} {days:>4} days  mean {_mean(mean)}"
                     for number, label, condition, days, mean in phases)
    return "\n".join(lines)

"""Speed of the alternating-treatments, multiple-baseline and changing-criterion randomization tests.

Each design at a realistic size (40 days; 3 tiers × 40 days; 40 days in 4 phases), exact where the reference set
has at most 10,000 members and Monte Carlo with 10,000 draws beyond, against a naive per-assignment loop over the
same reference set (exact cases; the p-values must agree). Target as for the phase test (bench/randomization.py):
<= 50 ms per test. Run: .venv/bin/python bench/randomization_designs.py
"""

from __future__ import annotations

import time
from math import comb

import numpy as np
from randomization import milliseconds  # bench/randomization.py: the same timing for every randomization test

from americano_pipeline.stats.randomization import (
    alternating_treatments_test,
    changing_criterion_test,
    count_alternating_sequences,
    multiple_baseline_test,
)
from americano_pipeline.stats.randomization_designs.alternating import alternating_reference_set
from americano_pipeline.stats.randomization_designs.core import phase_reference_set
from americano_pipeline.stats.randomization_designs.multiple_baseline import multiple_baseline_reference_set

TARGET_MS = 50.0


def share_at_least(statistics_: list[float], observed: float) -> float:
    return sum(s >= observed - 1e-9 for s in statistics_) / len(statistics_)


def naive_alternating(values: np.ndarray, conditions: list[str], max_consecutive: int) -> float:
    """Relabel the series and recompute both means for every admissible order."""
    n_b = conditions.count("B")
    statistic = lambda is_b: values[is_b].mean() - values[~is_b].mean()  # noqa: E731
    rows = alternating_reference_set(len(conditions) - n_b, n_b, max_consecutive).enumerate()
    return share_at_least([statistic(row) for row in rows], statistic(np.array(conditions) == "B"))


def naive_multiple_baseline(tiers: list[np.ndarray], starts: list[int], slots, scheme: str) -> float:
    """Recompute every tier's A and B means for every assignment of starts."""
    statistic = lambda row: np.mean([t[s:].mean() - t[:s].mean() for t, s in zip(tiers, row)])  # noqa: E731
    rows = multiple_baseline_reference_set(slots, scheme=scheme).enumerate()
    return share_at_least([statistic(row) for row in rows], statistic(starts))


def naive_changing_criterion(values: np.ndarray, lengths: list[int], criteria: list, min_length: int) -> float:
    """Rebuild the criterion of every point and average the scored deviations for every split."""

    def statistic(row) -> float:
        target = np.repeat([np.nan if c is None else c for c in criteria], row)
        scored = ~np.isnan(target)
        return float(np.abs(values[scored] - target[scored]).mean())

    rows = phase_reference_set(values.size, len(lengths), min_length).enumerate()
    return sum(statistic(row) <= statistic(lengths) + 1e-9 for row in rows) / len(rows)


def report(name: str, run, naive=None) -> None:
    first_start = time.perf_counter()
    result = run()
    first = (time.perf_counter() - first_start) * 1000
    fast = milliseconds(run, 25)
    kind = "exact" if result.exact else "MC 10k"
    line = f"{name:<50}{result.n_assignments:>14,}{kind:>8}{first:>10.2f}{fast:>10.2f}"
    if naive is not None:
        slow = milliseconds(naive, 3)
        same = abs(naive() - result.p_value) < 1e-12
        line += f"{slow:>11.1f}{slow / fast:>7.0f}x  {same}"
    print(line + f"   {'met' if fast <= TARGET_MS else 'MISSED'}")


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"{'design':<50}{'assignments':>14}{'p':>8}{'first ms':>10}{'median ms':>10}{'naive ms':>11}{'ratio':>8}"
          f"  p equal   target <= {TARGET_MS:.0f} ms")

    conditions_40 = list("ABBAABABBAABABABBAABBAABABABBAABABBAABBA")
    values_40 = rng.normal(size=40) + 0.5 * (np.array(conditions_40) == "B")
    report("alternating, 40 days (20/20, runs <= 2)", lambda: alternating_treatments_test(values_40, conditions_40))
    conditions_12 = list("ABBAABABBAAB")
    values_12 = values_40[:12]
    report("alternating, 12 days (6/6, runs <= 2)", lambda: alternating_treatments_test(values_12, conditions_12),
           lambda: naive_alternating(values_12, conditions_12, 2))
    admissible = count_alternating_sequences(20, 20, 2)
    print(f"{'':<50}(40 days: {admissible:,} of C(40, 20) = {comb(40, 20):,} free shuffles are admissible, one in "
          f"{comb(40, 20) / admissible:,.0f}; rejection sampling would need ~{10_000 * comb(40, 20) // admissible:,} "
          "shuffles for 10,000 draws)")

    starts = [11, 19, 27]
    tiers = [rng.normal(size=40) + 0.6 * (np.arange(40) >= s) for s in starts]
    slots = [range(8, 16), range(16, 24), range(24, 32)]
    for scheme, possible in (("marascuilo_busk", slots), ("wampold_worsham", starts), ("koehler_levin", slots)):
        report(
            f"multiple baseline, 3 x 40 days, {scheme}",
            lambda scheme=scheme, possible=possible: multiple_baseline_test(
                tiers, starts, possible_starts=possible, scheme=scheme),
            lambda scheme=scheme, possible=possible: naive_multiple_baseline(tiers, starts, possible, scheme),
        )
    wide = [range(6, 20), range(20, 34), range(34, 48)]
    tiers_60 = [rng.normal(size=60) + 0.6 * (np.arange(60) >= s) for s in (10, 25, 40)]
    report("multiple baseline, 3 x 60 days, koehler_levin",
           lambda: multiple_baseline_test(tiers_60, [10, 25, 40], possible_starts=wide, scheme="koehler_levin"))

    lengths, criteria = [8, 10, 12, 10], [None, 3, 5, 7]
    values_cc = np.repeat([0, 3, 5, 7], lengths) + rng.normal(0, 1.5, 40)
    report("changing criterion, 40 days, 4 phases, L=3", lambda: changing_criterion_test(values_cc, lengths, criteria),
           lambda: naive_changing_criterion(values_cc, lengths, criteria, 3))
    lengths_90, criteria_90 = [15, 20, 20, 15, 20], [None, 2, 4, 6, 8]
    values_90 = np.repeat([0, 2, 4, 6, 8], lengths_90) + rng.normal(0, 1.5, 90)
    report("changing criterion, 90 days, 5 phases, L=3",
           lambda: changing_criterion_test(values_90, lengths_90, criteria_90))


if __name__ == "__main__":
    main()

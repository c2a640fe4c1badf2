"""Speed of the phase randomization test: vectorised exact test vs a naive per-assignment loop.

Target (issue): an exact test with up to 10,000 admissible assignments on 200 points in <= 50 ms.
Run: .venv/bin/python bench/randomization.py
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from americano_pipeline.stats.randomization import enumerate_phase_lengths, phase_randomization_test

TARGET_MS = 50.0


def labels_for(lengths) -> list[str]:
    return [label for j, length in enumerate(lengths) for label in ("AB"[j % 2],) * length]


def naive_p_value(values: np.ndarray, lengths, min_phase_length: int) -> float:
    """The obvious implementation: relabel the series and recompute both means for every assignment."""
    observed_labels = np.array(labels_for(lengths))
    observed = values[observed_labels == "B"].mean() - values[observed_labels == "A"].mean()
    extreme = total = 0
    for row in enumerate_phase_lengths(values.size, len(lengths), min_phase_length):
        labels = np.array(labels_for(row))
        statistic = values[labels == "B"].mean() - values[labels == "A"].mean()
        extreme += statistic >= observed - 1e-9
        total += 1
    return extreme / total


def milliseconds(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=200)
    print(f"{'design':<26}{'assignments':>12}{'vectorised ms':>15}{'naive loop ms':>15}{'ratio':>8}  p equal")
    designs = (("ABAB, n=200, L=41", (50, 50, 50, 50), 41), ("ABA, n=200, L=21", (70, 60, 70), 21))
    for name, lengths, min_length in designs:
        labels = labels_for(lengths)
        result = phase_randomization_test(values, labels, min_phase_length=min_length)
        assert result.exact and result.n_assignments <= 10_000
        fast = milliseconds(lambda: phase_randomization_test(values, labels, min_phase_length=min_length), 25)
        slow = milliseconds(lambda: naive_p_value(values, lengths, min_length), 3)
        same = abs(naive_p_value(values, lengths, min_length) - result.p_value) < 1e-12
        print(f"{name:<26}{result.n_assignments:>12,}{fast:>15.2f}{slow:>15.1f}{slow / fast:>7.0f}x  {same}")
        print(f"{'':<26}target <= {TARGET_MS:.0f} ms: {'met' if fast <= TARGET_MS else 'MISSED'}")
    big = rng.normal(size=1000)
    monte_carlo = milliseconds(
        lambda: phase_randomization_test(big, labels_for((250, 250, 250, 250)), n_permutations=10_000), 10
    )
    print(f"Monte Carlo, ABAB n=1000 L=3, 10,000 draws: {monte_carlo:.2f} ms")


if __name__ == "__main__":
    main()

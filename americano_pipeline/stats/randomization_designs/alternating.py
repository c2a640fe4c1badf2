"""Randomization test for alternating-treatments designs, with a limit on consecutive sessions of one condition.

Why this reference set: in a randomized alternating-treatments design the random element is the order of the
conditions. With a run limit m (WWC: at most 2 sessions of one condition in a row) the order was drawn from every
sequence with the same numbers of A and B sessions and no run longer than m (restricted randomization, Onghena &
Edgington 1994); with no limit (``max_consecutive=None``) from all C(n, n_B) orders, the completely randomized
design. Testing against free shuffles under a run limit would use orders the design could never have produced.

How, without looping over sequences: the sequences are the paths of a small automaton whose state is (A left,
B left, tail), the tail being the last label and the length of its current run (or "nothing placed yet").
- Counting: the number of completions of every state, by dynamic programming over the anti-diagonals of the
  (A left, B left) grid (each needs only the previous one), in exact Python integers held in numpy object
  arrays; N is the count of the start state. Cached per (n_A, n_B, limit).
- Listing (exact test): all prefixes grow one position at a time and a prefix is kept only when its state still
  has a completion, so no dead branch is ever built; members come out in lexicographic order (A before B).
- Sampling (Monte Carlo): sequential, position by position, P(next = B | state) = completions after B /
  completions of the state (an exact integer ratio rounded once). Along any admissible sequence these conditional
  probabilities telescope to 1/N, so every member is equally likely, there is no rejection step, and the cost is
  n vectorised steps however rare admissible sequences are among free shuffles (for 20 A + 20 B with m = 2, one
  shuffle in about 1,500 is admissible: 93,770,358 of C(40, 20)).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from americano_pipeline.stats.design_inputs import finite_values, longest_run, parse_conditions
from americano_pipeline.stats.effect_sizes import cohens_d
from americano_pipeline.stats.randomization_designs.core import (
    ALTERNATIVES,
    TEST_TEXT,
    VERDICT_TEXT,
    RandomizationResult,
    ReferenceSet,
    attainability_caveats,
    cohens_d_text,
    difference_text,
    interpretation_text,
    make_result,
    p_value,
    source_text,
    tie_tolerance,
)
from americano_pipeline.stats.standards import wwc_alternating_treatments_standard
from americano_pipeline.stats.validation import check_choice, check_positive_int


@dataclass(frozen=True)
class _Automaton:
    """The run-limited orders of ``n_a`` A and ``n_b`` B sessions as the paths of an automaton.

    Tail 0 is "nothing placed yet"; tail 1 + label·m + (run − 1) is "last label ``label`` (0 = A, 1 = B), run
    length ``run``" (m = the limit, or 1 without one, when the run length does not matter). For every state
    (A left, B left, tail): ``can_place[..., x]`` says whether placing label x there leaves a completion, and
    ``p_b`` is the probability that a uniformly drawn completion continues with B.
    """

    n_a: int
    n_b: int
    n_assignments: int
    next_tail: np.ndarray
    can_place: np.ndarray
    p_b: np.ndarray

    def sample(self, size: int, rng: np.random.Generator) -> np.ndarray:
        """``size`` orders (rows, True = B) drawn uniformly from the admissible ones, one position at a time."""
        left_a, left_b = np.full(size, self.n_a), np.full(size, self.n_b)
        tail = np.zeros(size, dtype=np.int64)
        labels = np.empty((size, self.n_a + self.n_b), dtype=bool)
        for position in range(self.n_a + self.n_b):
            is_b = rng.random(size) < self.p_b[left_a, left_b, tail]
            labels[:, position] = is_b
            tail = self.next_tail[is_b.astype(np.int64), tail]
            left_a -= ~is_b
            left_b -= is_b
        return labels

    def enumerate(self) -> np.ndarray:
        """Every admissible order (rows, True = B), lexicographic with A before B, by growing live prefixes."""
        n = self.n_a + self.n_b
        left_a, left_b, tail = np.array([self.n_a]), np.array([self.n_b]), np.array([0])
        steps = []
        for _ in range(n):
            parent, label = np.nonzero(self.can_place[left_a, left_b, tail])
            steps.append((parent, label))
            left_a, left_b = left_a[parent] - (label == 0), left_b[parent] - (label == 1)
            tail = self.next_tail[label, tail[parent]]
        rows = np.arange(tail.size)
        labels = np.empty((tail.size, n), dtype=bool)
        for position in range(n - 1, -1, -1):
            parent, label = steps[position]
            labels[:, position] = label[rows] == 1
            rows = parent[rows]
        return labels


def _next_tail(limit: int | None) -> np.ndarray:
    """``next_tail[label, tail]``: the tail after placing ``label``, −1 where that would exceed the limit."""
    m = limit or 1
    table = np.full((2, 1 + 2 * m), -1, dtype=np.int64)
    for tail in range(1 + 2 * m):
        last, run = (None, 0) if tail == 0 else ((tail - 1) // m, (tail - 1) % m + 1)
        for label in (0, 1):
            new_run = 1 if limit is None or label != last else run + 1
            if limit is None or new_run <= limit:
                table[label, tail] = 1 + label * m + new_run - 1
    return table


@lru_cache(maxsize=64)
def _automaton(n_a: int, n_b: int, limit: int | None) -> _Automaton:
    """The automaton of the run-limited orders, its completion counts found by dynamic programming.

    completions(state) = the sum, over the labels x that may be placed there, of completions(state after x); 1
    when nothing is left. A state with d sessions left depends only on states with d − 1 left, so each
    anti-diagonal of the (A left, B left) grid is one vectorised step, in exact integers (object arrays).
    """
    next_tail = _next_tail(limit)
    allowed = next_tail >= 0
    completions = np.zeros((n_a + 1, n_b + 1, next_tail.shape[1]), dtype=object)
    completions[0, 0, :] = 1
    after = np.zeros((2, *completions.shape), dtype=object)
    for diagonal in range(1, n_a + n_b + 1):
        left_a = np.arange(max(0, diagonal - n_b), min(diagonal, n_a) + 1)
        left_b = diagonal - left_a
        for label, left in ((0, left_a), (1, left_b)):
            has = left > 0
            rows_a, rows_b = left_a[has], left_b[has]
            source = completions[rows_a - (label == 0), rows_b - (label == 1)]
            after[label, rows_a, rows_b] = np.where(allowed[label], source[:, np.maximum(next_tail[label], 0)], 0)
        completions[left_a, left_b] = after[0, left_a, left_b] + after[1, left_a, left_b]
    p_b = (after[1] / np.where(completions > 0, completions, 1)).astype(float)
    can_place = np.moveaxis(after > 0, 0, -1).astype(bool)
    return _Automaton(
        n_a=n_a, n_b=n_b, n_assignments=int(completions[n_a, n_b, 0]), next_tail=next_tail, can_place=can_place,
        p_b=p_b,
    )


def _mean_differences(is_b: np.ndarray, centered: np.ndarray, n_a: int, n_b: int) -> np.ndarray:
    """mean(B) − mean(A) for every row of labels (True = B), from one matrix product with the centred series."""
    sums_b = is_b @ centered
    return sums_b / n_b - (centered.sum() - sums_b) / n_a


def _effective_limit(n_a: int, n_b: int, max_consecutive: int | None) -> int | None:
    """The run limit, or None when it cannot bind (no condition has more sessions than the limit allows)."""
    return None if max_consecutive is None or max_consecutive >= max(n_a, n_b) else max_consecutive


def alternating_reference_set(n_a: int, n_b: int, max_consecutive: int | None = 2) -> ReferenceSet:
    """Every A/B order (rows, True = B) with ``n_a`` A and ``n_b`` B sessions and no run longer than the limit."""
    n_a, n_b = check_positive_int(n_a, "n_a"), check_positive_int(n_b, "n_b")
    if max_consecutive is not None:
        max_consecutive = check_positive_int(max_consecutive, "max_consecutive")
    automaton = _automaton(n_a, n_b, _effective_limit(n_a, n_b, max_consecutive))
    return ReferenceSet(size=automaton.n_assignments, enumerate=automaton.enumerate, sample=automaton.sample)


def count_alternating_sequences(n_a: int, n_b: int, max_consecutive: int | None = 2) -> int:
    """How many A/B orders with ``n_a`` A and ``n_b`` B sessions have no run longer than ``max_consecutive``.

    The size of the alternating-treatments reference set (None: C(n_a + n_b, n_b)); what registration needs to
    know whether the design can reach alpha.
    """
    return alternating_reference_set(n_a, n_b, max_consecutive).size


def alternating_treatments_test(
    values,
    conditions,
    *,
    max_consecutive: int | None = 2,
    alternative: str = "greater",
    n_permutations: int = 10_000,
    seed: int = 0,
) -> RandomizationResult:
    """Randomization test of B vs A in an alternating-treatments design (reference set: see module doc).

    values: outcomes in time order; conditions: "A"/"B" per observation. Statistic: mean(B) − mean(A).
    effectSize: Cohen's d of all B vs all A sessions with the pooled SD (``effect_sizes.cohens_d``; None when that
    SD is zero). passesSCEDStandards: ``standards.wwc_alternating_treatments_standard`` meets, with or without
    reservations (at most 2 sessions in a row, at least 4 of each condition). Raises ``ValueError`` naming the
    argument for bad values or labels, an unknown ``alternative``, ``n_permutations`` or ``max_consecutive``
    below 1, or an observed run longer than ``max_consecutive`` (the observed order must be in the reference set).
    """
    check_choice(alternative, "alternative", ALTERNATIVES)
    n_permutations = check_positive_int(n_permutations, "n_permutations")
    if max_consecutive is not None:
        max_consecutive = check_positive_int(max_consecutive, "max_consecutive")
    numbers = finite_values(values)
    labels = parse_conditions(conditions)
    if labels.size != numbers.size:
        raise ValueError(f"values has {numbers.size} observations but conditions has {labels.size}; give one label "
                         "per value")
    run = longest_run(labels)
    if max_consecutive is not None and run.length > max_consecutive:
        raise ValueError(
            f"conditions has {run.describe()}, more than max_consecutive={max_consecutive}; the observed order must "
            "be one the randomization could produce (raise max_consecutive to the limit actually used)"
        )
    observed_b = labels[None, :] == "B"
    n_b = int(observed_b.sum())
    n_a = labels.size - n_b
    reference = alternating_reference_set(n_a, n_b, max_consecutive)
    is_b, exact = reference.assignments(observed_b, n_permutations, seed)
    centered = numbers - numbers.mean()
    distribution = _mean_differences(is_b, centered, n_a, n_b)
    observed = float(_mean_differences(observed_b, centered, n_a, n_b)[0])
    p = p_value(distribution, observed, alternative, tie_tolerance(centered))

    d = cohens_d(numbers[labels == "A"], numbers[labels == "B"])
    verdict, _ = wwc_alternating_treatments_standard(labels)
    limit_text = "" if max_consecutive is None else f" and no condition more than {max_consecutive} times in a row"
    members = f"orders of {n_a} A and {n_b} B sessions{limit_text}"
    caveats = [
        f"the design {VERDICT_TEXT[verdict]} ({n_a} A and {n_b} B sessions, longest run {run.length})",
        "the p-value is only valid if the order of conditions was randomly drawn from these orders in advance",
        *attainability_caveats(reference.size, exact, "orders"),
    ]
    text = interpretation_text(
        f"{difference_text(observed, 'mean difference')}; {cohens_d_text(d)})", p, TEST_TEXT[alternative],
        source_text(reference.size, exact, n_permutations, members), caveats,
    )
    return make_result(
        observed=observed, p=p, effect_size=d, interpretation=text, distribution=distribution, verdict=verdict,
        n_assignments=reference.size, exact=exact,
    )

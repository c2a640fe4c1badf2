"""Randomization test for multiple-baseline designs under the three classic randomization schemes.

Why three schemes: a multiple-baseline design can be randomized in different ways, and the reference set must be
the set of assignments the registered scheme could have produced (Levin, Ferron & Gafurov 2018 compare them):
- Marascuilo-Busk (1988): every tier draws its own start independently from its own admissible starts;
  reference set = the product of those sets, prod |S_i| members.
- Wampold-Worsham (1986): k start points are fixed in advance and the tiers are randomly ordered over them;
  reference set = every order of the tiers over the k starts, k! members.
- Koehler-Levin (1998): k staggered slots, each with its own admissible starts; the tiers are randomly ordered
  over the slots and each slot's start is drawn from its set; reference set = k! × prod |S_j| members. (Wampold-
  Worsham is the case of one start per slot, and is computed that way.)
Slots must be disjoint, so that every assignment of starts to tiers arises from exactly one (order, starts) pair
and each member is counted once.

Statistic: the mean over tiers of (mean of B − mean of A) within the tier, so every tier weighs the same whatever
its length or scale. Tiers may have different lengths; position t is the same session in every tier. Each tier is
centred on its own mean (the statistic is shift-invariant within a tier) and every assignment's statistic comes
from the tiers' cumulative sums (one vectorised pass over the assignments).
"""

from __future__ import annotations

import itertools
from math import factorial, prod

import numpy as np
import pandas as pd

from americano_pipeline.stats.design_inputs import check_index, finite_values
from americano_pipeline.stats.effect_sizes import cohens_d
from americano_pipeline.stats.randomization_designs.core import (
    ALTERNATIVES,
    TEST_TEXT,
    VERDICT_TEXT,
    RandomizationResult,
    ReferenceSet,
    attainability_caveats,
    difference_text,
    interpretation_text,
    make_result,
    p_value,
    source_text,
    tie_tolerance,
)
from americano_pipeline.stats.standards import wwc_multiple_baseline_standard
from americano_pipeline.stats.validation import check_choice, check_positive_int

SCHEMES = ("marascuilo_busk", "wampold_worsham", "koehler_levin")
SCHEME_TEXT = {
    "marascuilo_busk": "Marascuilo-Busk: each tier's start drawn from its own admissible starts",
    "wampold_worsham": "Wampold-Worsham: every order of the tiers over the fixed starts",
    "koehler_levin": "Koehler-Levin: every order of the tiers over the staggered slots, one start per slot",
}


def _start_set(collection, name: str) -> np.ndarray:
    """One set of admissible starts: whole-number indices, no repeats (a repeat would weigh that start twice)."""
    if isinstance(collection, int | np.integer) and not isinstance(collection, bool):
        raise ValueError(f"{name} must be a collection of start indices, got the single number {collection!r}")
    starts = [check_index(value, f"{name} entry") for value in collection]
    if not starts:
        raise ValueError(f"{name} is empty; give at least one admissible start")
    repeated = sorted({s for s in starts if starts.count(s) > 1})
    if repeated:
        raise ValueError(f"{name} lists start {repeated[0]} more than once; list each admissible start once")
    return np.array(sorted(starts), dtype=np.int64)


def _parse_sets(possible_starts, scheme: str) -> tuple[np.ndarray, ...]:
    """possible_starts as one sorted array per tier (Marascuilo-Busk) or per slot (the ordering schemes).

    The ordering schemes' entries must not share a start: otherwise one assignment of starts to tiers would
    arise from two (order, starts) pairs and be counted twice.
    """
    if scheme == "wampold_worsham":
        sets = tuple(
            np.array([check_index(start, f"possible_starts[{j}]")]) for j, start in enumerate(possible_starts)
        )
    else:
        sets = tuple(_start_set(collection, f"possible_starts[{j}]") for j, collection in enumerate(possible_starts))
    if scheme != "marascuilo_busk":
        for (a, first), (b, second) in itertools.combinations(enumerate(sets), 2):
            shared = np.intersect1d(first, second)
            if shared.size:
                raise ValueError(
                    f"possible_starts[{a}] and possible_starts[{b}] share start {shared[0]}; under {scheme} the "
                    "entries must not overlap, so that every assignment is counted once"
                )
    return sets


def multiple_baseline_reference_set(possible_starts, *, scheme: str = "marascuilo_busk") -> ReferenceSet:
    """The scheme's reference set as rows of start indices, one column per tier.

    ``possible_starts`` as ``multiple_baseline_test`` takes it (k = its length); validated the same way.
    """
    check_choice(scheme, "scheme", SCHEMES)
    return _reference_set(_parse_sets(possible_starts, scheme), scheme)


def count_multiple_baseline_assignments(possible_starts, *, scheme: str = "marascuilo_busk") -> int:
    """Size of the multiple-baseline reference set: prod |S_i|, k!, or k! × prod |S_j| (see module doc).

    What registration needs to know whether the design can reach alpha.
    """
    return multiple_baseline_reference_set(possible_starts, scheme=scheme).size


def _size(sets: tuple[np.ndarray, ...], scheme: str) -> int:
    sizes = prod(s.size for s in sets)
    return sizes if scheme == "marascuilo_busk" else factorial(len(sets)) * sizes


def _product(sets: tuple[np.ndarray, ...]) -> np.ndarray:
    """Every combination of one start from each set, as rows (lexicographic)."""
    return np.stack([grid.ravel() for grid in np.meshgrid(*sets, indexing="ij")], axis=1)


def _draw(sets: tuple[np.ndarray, ...], size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` rows of one uniformly drawn start from each set (independent columns)."""
    return np.column_stack([rng.choice(s, size=size) for s in sets])


def _reference_set(sets: tuple[np.ndarray, ...], scheme: str) -> ReferenceSet:
    """Rows of start indices, one column per tier, for the scheme's reference set."""
    if scheme == "marascuilo_busk":
        return ReferenceSet(size=_size(sets, scheme), enumerate=lambda: _product(sets),
                            sample=lambda size, rng: _draw(sets, size, rng))
    k = len(sets)

    def enumerate_all() -> np.ndarray:
        orders = np.array(list(itertools.permutations(range(k))))  # orders[o, i]: the slot of tier i
        return _product(sets)[:, orders].reshape(-1, k)

    def sample(size: int, rng: np.random.Generator) -> np.ndarray:
        orders = rng.permuted(np.tile(np.arange(k), (size, 1)), axis=1)
        return np.take_along_axis(_draw(sets, size, rng), orders, axis=1)

    return ReferenceSet(size=_size(sets, scheme), enumerate=enumerate_all, sample=sample)


def _check_observed(starts: list[int], sets: tuple[np.ndarray, ...], scheme: str) -> None:
    """The observed starts must be a member of the reference set; name the tier when they are not."""
    if scheme == "marascuilo_busk":
        for i, (start, admissible) in enumerate(zip(starts, sets, strict=True)):
            if start not in admissible:
                raise ValueError(
                    f"intervention_starts[{i}]={start} (tier {i + 1}) is not in possible_starts[{i}] "
                    f"({admissible.tolist()}); the observed start must be one the randomization could produce"
                )
        return
    slot_of: dict[int, int] = {}
    for i, start in enumerate(starts):
        slots = [j for j, admissible in enumerate(sets) if start in admissible]
        if not slots:
            raise ValueError(
                f"intervention_starts[{i}]={start} (tier {i + 1}) is in no entry of possible_starts "
                f"({[s.tolist() for s in sets]}); under {scheme} every tier starts in one of them"
            )
        if slots[0] in slot_of:
            raise ValueError(
                f"tiers {slot_of[slots[0]] + 1} and {i + 1} both start in possible_starts[{slots[0]}] "
                f"({sets[slots[0]].tolist()}); under {scheme} each entry takes exactly one tier"
            )
        slot_of[slots[0]] = i


def _check_fits(sets: tuple[np.ndarray, ...], lengths: list[int], scheme: str) -> None:
    """Every start a tier could receive must leave it at least one A and one B observation."""
    for j, admissible in enumerate(sets):
        tiers = [j] if scheme == "marascuilo_busk" else range(len(lengths))
        for i in tiers:
            bad = admissible[(admissible < 1) | (admissible > lengths[i] - 1)]
            if bad.size:
                raise ValueError(
                    f"possible_starts[{j}] has start {bad[0]}, which tier {i + 1} ({lengths[i]} observations) cannot "
                    f"take: a start must leave at least one A and one B observation (1 <= start <= {lengths[i] - 1})"
                )


def _parse_design(tiers, intervention_starts, possible_starts, scheme: str):
    """Validated tier values, observed starts and admissible-start sets (errors name the argument and tier)."""
    tiers = list(tiers)
    if len(tiers) < 2:
        raise ValueError(f"tiers has {len(tiers)} tier(s); a multiple-baseline design needs at least 2")
    values = [finite_values(tier, f"tiers[{i}]") for i, tier in enumerate(tiers)]
    starts = [check_index(start, f"intervention_starts[{i}]") for i, start in enumerate(intervention_starts)]
    if len(starts) != len(values):
        raise ValueError(f"intervention_starts has {len(starts)} entries but there are {len(values)} tiers; give "
                         "one start per tier")
    possible_starts = list(possible_starts)
    if len(possible_starts) != len(values):
        raise ValueError(f"possible_starts has {len(possible_starts)} entries but there are {len(values)} tiers; "
                         f"{scheme} needs one per tier")
    sets = _parse_sets(possible_starts, scheme)
    _check_fits(sets, [v.size for v in values], scheme)
    _check_observed(starts, sets, scheme)
    return tiers, values, starts, sets


def _tier_labels(tier, n: int, start: int):
    """The tier's "A"/"B" labels, on the tier's dates when it has them (so the WWC check can see concurrence)."""
    labels = ["A"] * start + ["B"] * (n - start)
    if isinstance(tier, pd.Series) and isinstance(tier.index, pd.DatetimeIndex):
        return pd.Series(labels, index=tier.index)
    return labels


def _mean_within_tier_d(values: list[np.ndarray], starts: list[int]) -> float | None:
    """Mean over tiers of each tier's pooled-SD Cohen's d; None when any tier has no variation to scale by."""
    ds = [cohens_d(v[:s], v[s:]) for v, s in zip(values, starts, strict=True)]
    return None if any(d is None for d in ds) else float(np.mean(ds))


def multiple_baseline_test(
    tiers,
    intervention_starts,
    *,
    possible_starts,
    scheme: str = "marascuilo_busk",
    alternative: str = "greater",
    n_permutations: int = 10_000,
    seed: int = 0,
) -> RandomizationResult:
    """Randomization test of B vs A across the tiers of a multiple-baseline design (schemes: see module doc).

    tiers: k outcome series in time order (lists, arrays or date-indexed Series); intervention_starts[i]: index
    of tier i's first B observation; possible_starts: per scheme, tier i's admissible starts (Marascuilo-Busk),
    the k fixed starts (Wampold-Worsham) or slot j's admissible starts (Koehler-Levin).
    effectSize: the mean over tiers of each tier's pooled-SD Cohen's d (B vs A within the tier; tiers may measure
    different behaviours on different scales); None when any tier has no variation. passesSCEDStandards:
    ``standards.wwc_multiple_baseline_standard`` meets, with or without reservations (at least 3 tiers with
    staggered, concurrent starts, at least 3 points per phase). Raises ``ValueError`` naming the argument and
    tier for bad values, starts outside a tier or outside its admissible set, overlapping slots, or unknown
    ``scheme``/``alternative``.
    """
    check_choice(scheme, "scheme", SCHEMES)
    check_choice(alternative, "alternative", ALTERNATIVES)
    n_permutations = check_positive_int(n_permutations, "n_permutations")
    tiers, values, starts, sets = _parse_design(tiers, intervention_starts, possible_starts, scheme)
    k = len(values)
    lengths = np.array([v.size for v in values])
    centered = [v - v.mean() for v in values]
    cumulative = np.zeros((k, lengths.max() + 1))
    for i, tier in enumerate(centered):
        cumulative[i, 1 : tier.size + 1] = np.cumsum(tier)
    totals = cumulative[np.arange(k), lengths]

    def statistic(rows: np.ndarray) -> np.ndarray:
        sums_a = cumulative[np.arange(k), rows]
        return ((totals - sums_a) / (lengths - rows) - sums_a / rows).mean(axis=1)

    reference = _reference_set(sets, scheme)
    observed_row = np.array([starts])
    rows, exact = reference.assignments(observed_row, n_permutations, seed)
    distribution = statistic(rows)
    observed = float(statistic(observed_row)[0])
    p = p_value(distribution, observed, alternative, tie_tolerance(np.concatenate(centered)))

    d = _mean_within_tier_d(values, starts)
    verdict, _ = wwc_multiple_baseline_standard(
        [_tier_labels(tier, v.size, s) for tier, v, s in zip(tiers, values, starts, strict=True)]
    )
    d_text = f"mean within-tier Cohen's d = {d:.2f}" if d is not None else "within-tier Cohen's d undefined"
    caveats = [
        f"the design {VERDICT_TEXT[verdict]} ({k} tiers, intervention starts {', '.join(map(str, starts))})",
        "the p-value is only valid if the intervention starts were randomly assigned by this scheme in advance",
        *attainability_caveats(reference.size, exact, "assignments"),
    ]
    opening = f"{difference_text(observed, f'mean over {k} tiers of the within-tier mean difference')}; {d_text})"
    members = f"start-point assignments ({SCHEME_TEXT[scheme]})"
    text = interpretation_text(
        opening, p, TEST_TEXT[alternative], source_text(reference.size, exact, n_permutations, members), caveats
    )
    return make_result(
        observed=observed, p=p, effect_size=d, interpretation=text, distribution=distribution, verdict=verdict,
        n_assignments=reference.size, exact=exact,
    )

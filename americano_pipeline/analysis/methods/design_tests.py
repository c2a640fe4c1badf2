"""The confirmatory randomization test of each registered design, with its effect sizes, WWC standard and figure.

Why one table of designs: the randomization test of the registered design is the confirmatory test of a
randomized protocol (DESIGN.md §4b), and what makes it *the design's* test is its reference set: the phase-change
placements of a reversal design, the run-limited orders of an alternating-treatments design, the splits of a
changing-criterion design, the staggered tier starts of a multiple baseline. How each design is recorded in the
tables: docs/DESIGNS.md. Every function here returns a ``DesignTest`` that ``randomization.analyse_randomization``
publishes the same way for every design.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from americano_pipeline.analysis import design_figures, figures
from americano_pipeline.analysis.errors import AnalysisError
from americano_pipeline.analysis.inputs import PhaseObservations, phase_observations
from americano_pipeline.analysis.methods.base import checked, excluded, title
from americano_pipeline.analysis.protocol import ProtocolData

RANDOMIZATION = "phase_randomization_test"


@dataclass(frozen=True)
class DesignTest:
    """One design's confirmatory test as run: what ``analyse_randomization`` publishes."""

    test: str  # the statistics core's function that ran
    result: object  # its RandomizationResult
    alternative: str  # the direction tested ("tracking" for a changing criterion: small deviation is extreme)
    effect_sizes: dict
    standard: str  # which WWC design standard judged it
    wwc: tuple[str, str]  # (verdict, reason)
    alpha_check: object  # registration.AlphaCheck of the reference set
    design: dict  # the design's own inputs as the test read them (run limit, scheme, tiers, criteria)
    excluded: dict
    n_observations: int
    figure: tuple[str, Callable[[Path], Path]]  # (file name, draw to that path)


def _improvement(alternative: str) -> str:
    return "decrease" if alternative == "less" else "increase"


def reversal_test(data: ProtocolData, metric: str, *, alternative: str, statistic: str, n_permutations: int,
                  seed: int) -> DesignTest:
    """ABAB (and AB, ABA ...): every placement of the phase changes, each phase at least ``minPhaseLength``."""
    from itertools import groupby

    from americano_pipeline.stats.effect_sizes import single_case_effect_sizes
    from americano_pipeline.stats.randomization import phase_design_alpha_check, phase_randomization_test
    from americano_pipeline.stats.standards import wwc_design_standard

    protocol = data.protocol
    observations = phase_observations(data, metric)
    values, labels = observations.values.to_numpy(), list(observations.labels)
    test = checked(data, RANDOMIZATION, phase_randomization_test, values, labels,
                   min_phase_length=protocol.min_phase_length, statistic=statistic, alternative=alternative,
                   n_permutations=n_permutations, seed=seed)
    sizes = checked(data, RANDOMIZATION, single_case_effect_sizes, values, labels,
                    improvement=_improvement(alternative))
    phases = len([condition for condition, _ in groupby(labels)])
    reachable = checked(data, RANDOMIZATION, phase_design_alpha_check, len(values), phases, protocol.min_phase_length,
                        alpha=protocol.alpha)
    draw = partial(figures.randomization_figure, values=observations.values.rename(metric), labels=labels,
                   distribution=test.permutation_distribution, observed=test.observed_effect, p_value=test.p_value,
                   alternative=alternative, title=title(data, metric))
    return DesignTest("phase_randomization_test", test, alternative, sizes, "reversal",
                      checked(data, RANDOMIZATION, wwc_design_standard, labels), reachable,
                      {"statistic": statistic, "minPhaseLength": protocol.min_phase_length},
                      excluded(observations), len(values), ("randomization.png", draw))


def _condition_effect_sizes(observations: PhaseObservations, alternative: str) -> dict:
    """Per condition n, mean and sd, and the A-vs-B overlap effect sizes over all A days against all B days (the
    order of days is ignored: an alternation has no phases whose trend Tau-U could correct)."""
    from americano_pipeline.stats.effect_sizes import single_case_effect_sizes

    values, labels = observations.values.to_numpy(), np.array(observations.labels)
    per_condition = {label: {"n": int((labels == label).sum()), "mean": float(values[labels == label].mean()),
                             "sd": float(values[labels == label].std(ddof=1))} for label in ("A", "B")}
    grouped = np.concatenate([values[labels == "A"], values[labels == "B"]])
    ordered = ["A"] * per_condition["A"]["n"] + ["B"] * per_condition["B"]["n"]
    overlap = single_case_effect_sizes(grouped, ordered, improvement=_improvement(alternative))
    return {"conditions": per_condition, "difference": per_condition["B"]["mean"] - per_condition["A"]["mean"],
            **{key: overlap[key] for key in ("NAP", "NAP_SE", "NAP_CI", "SMD_pooled", "SMD_pooled_SE",
                                             "SMD_pooled_CI") if key in overlap},
            "variant": "NAP and pooled-SD SMD of all A days vs all B days (order ignored)"}


def alternating_test(data: ProtocolData, metric: str, *, alternative: str, n_permutations: int,
                     seed: int) -> DesignTest:
    """ALTERNATING: every order with the observed numbers of A and B days and no run above ``maxConsecutive``."""
    from americano_pipeline.stats.randomization import alpha_check, alternating_treatments_test
    from americano_pipeline.stats.standards import wwc_alternating_treatments_standard

    protocol = data.protocol
    observations = phase_observations(data, metric)
    values, labels = observations.values.to_numpy(), list(observations.labels)
    test = checked(data, RANDOMIZATION, alternating_treatments_test, values, labels,
                   max_consecutive=protocol.max_consecutive, alternative=alternative, n_permutations=n_permutations,
                   seed=seed)
    draw = partial(design_figures.alternating_figure, values=observations.values.rename(metric), conditions=labels,
                   title=title(data, metric))
    return DesignTest("alternating_treatments_test", test, alternative,
                      checked(data, RANDOMIZATION, _condition_effect_sizes, observations, alternative),
                      "alternating treatments",
                      checked(data, RANDOMIZATION, wwc_alternating_treatments_standard, labels),
                      alpha_check(test.n_assignments, alpha=protocol.alpha),
                      {"maxConsecutive": protocol.max_consecutive}, excluded(observations), len(values),
                      ("conditions.png", draw))


def _criterion_phases(data: ProtocolData, observations: PhaseObservations) -> tuple[list[int], list, list[dict]]:
    """Observed length and criterion of every phase (in order) over the analysed days, and the figure's phases."""
    kept = data.days.loc[observations.values.index]
    lengths, criteria, shown = [], [], []
    for _, rows in kept.groupby("phase_number", sort=True):
        criterion = rows["criterion"].iloc[0]
        lengths.append(len(rows))
        criteria.append(None if pd.isna(criterion) else float(criterion))
        shown.append({"label": str(rows["phase_label"].iloc[0]), "start": rows.index.min(), "end": rows.index.max(),
                      "criterion": criteria[-1]})
    return lengths, criteria, shown


def _criterion_effect_sizes(values: pd.Series, shown: list[dict]) -> dict:
    """Per phase: days, mean, criterion, mean - criterion and mean |value - criterion| (how closely it tracked)."""
    phases = []
    for phase in shown:
        days = values[phase["start"]:phase["end"]]
        row = {"label": phase["label"], "days": len(days), "mean": float(days.mean()), "criterion": phase["criterion"]}
        if phase["criterion"] is not None:
            row["meanMinusCriterion"] = row["mean"] - phase["criterion"]
            row["meanAbsoluteDeviation"] = float((days - phase["criterion"]).abs().mean())
        phases.append(row)
    return {"phases": phases, "variant": "per criterion phase: mean, criterion and mean absolute deviation"}


def changing_criterion_test(data: ProtocolData, metric: str, *, n_permutations: int, seed: int) -> DesignTest:
    """CHANGING_CRITERION: every split into the same number of phases (each at least ``minPhaseLength``), the
    criteria kept in order; small mean |value - criterion| is extreme (the test has no direction)."""
    from americano_pipeline.stats.randomization import changing_criterion_test as core_test
    from americano_pipeline.stats.randomization import phase_design_alpha_check
    from americano_pipeline.stats.standards import wwc_changing_criterion_standard

    protocol = data.protocol
    observations = phase_observations(data, metric)
    lengths, criteria, shown = _criterion_phases(data, observations)
    values = observations.values.rename(metric)
    test = checked(data, RANDOMIZATION, core_test, values.to_numpy(), lengths, criteria,
                   min_phase_length=protocol.min_phase_length, n_permutations=n_permutations, seed=seed)
    reachable = checked(data, RANDOMIZATION, phase_design_alpha_check, len(values), len(lengths),
                        protocol.min_phase_length, alpha=protocol.alpha)
    draw = partial(design_figures.changing_criterion_figure, values=values, phases=shown, title=title(data, metric))
    return DesignTest("changing_criterion_test", test, "tracking", _criterion_effect_sizes(values, shown),
                      "changing criterion", checked(data, RANDOMIZATION, wwc_changing_criterion_standard, lengths,
                                                    criteria),
                      reachable, {"criteria": criteria, "phaseLengths": lengths,
                                  "minPhaseLength": protocol.min_phase_length},
                      excluded(observations), len(values), ("criteria.png", draw))


@dataclass(frozen=True)
class _Tier:
    name: str
    outcome: str
    values: pd.Series
    start: int  # index of the first B day
    window: tuple[int, int] | None  # admissible first B days, as indices
    labels: list[str]


def _tiers(data: ProtocolData) -> list[_Tier]:
    """The multiple baseline's tiers in staggered order, from ``fct_protocol_tier_daily_outcomes``."""
    frame = data.tiers
    if frame is None or frame.empty:
        raise AnalysisError(data.protocol.protocol_id, RANDOMIZATION,
                            "fct_protocol_tier_daily_outcomes has no tiers for this MULTIPLE_BASELINE protocol; "
                            "record them as docs/DESIGNS.md describes")
    tiers = []
    for (_, name), rows in frame.sort_values(["tier_number", "date"]).groupby(["tier_number", "tier"], sort=True):
        dates = pd.DatetimeIndex(rows["date"])
        values = pd.Series(rows["outcome_value"].astype(float).to_numpy(), index=dates, name=str(name))
        start = int(np.flatnonzero(dates == pd.Timestamp(rows["tier_start_date"].iloc[0]))[0])
        earliest, latest = rows["start_window_earliest"].iloc[0], rows["start_window_latest"].iloc[0]
        window = None if pd.isna(earliest) else (int((pd.Timestamp(earliest) - dates[0]).days),
                                                 int((pd.Timestamp(latest) - dates[0]).days))
        tiers.append(_Tier(str(name), str(rows["tier_outcome"].iloc[0]), values, start, window,
                           list(rows["condition"])))
    return tiers


def _possible_starts(data: ProtocolData, tiers: list[_Tier], scheme: str) -> list:
    """The reference set's start indices per scheme (``stats.randomization.multiple_baseline_test``)."""
    if scheme == "wampold_worsham":
        return sorted(tier.start for tier in tiers)
    missing = [tier.name for tier in tiers if tier.window is None]
    if missing:
        raise AnalysisError(data.protocol.protocol_id, RANDOMIZATION,
                            f"tier {missing[0]!r} has no startWindow; the {scheme} scheme draws each start from a "
                            "recorded window (docs/DESIGNS.md)")
    windows = [tier.window for tier in tiers]
    if scheme == "koehler_levin":
        windows = sorted(windows)
    return [list(range(low, high + 1)) for low, high in windows]


def _tier_effect_sizes(tiers: list[_Tier], alternative: str) -> dict:
    from americano_pipeline.stats.effect_sizes import single_case_effect_sizes

    rows = []
    for tier in tiers:
        sizes = single_case_effect_sizes(tier.values.to_numpy(), tier.labels, improvement=_improvement(alternative))
        a, b = tier.values.iloc[:tier.start], tier.values.iloc[tier.start:]
        rows.append({"tier": tier.name, "outcome": tier.outcome, "baselineMean": float(a.mean()),
                     "interventionMean": float(b.mean()), "difference": float(b.mean() - a.mean()),
                     **{key: sizes[key] for key in ("NAP", "NAP_CI", "TauU", "SMD_baseline", "SMD_baseline_CI")
                        if key in sizes}})
    return {"tiers": rows, "meanDifference": float(np.mean([row["difference"] for row in rows])),
            "variant": "per tier: SingleCaseES NAP, Tau-U (A vs B - trend A) and baseline-SD SMD"}


def multiple_baseline_test(data: ProtocolData, metric: str, *, alternative: str, n_permutations: int,
                           seed: int) -> DesignTest:
    """MULTIPLE_BASELINE: the tiers' staggered starts as the registered scheme drew them; each tier is read on its
    own outcome, so the test is the registered one whatever ``metric`` the series analyses use."""
    from americano_pipeline.stats.randomization import alpha_check
    from americano_pipeline.stats.randomization import multiple_baseline_test as core_test
    from americano_pipeline.stats.standards import wwc_multiple_baseline_standard

    protocol = data.protocol
    if metric != protocol.primary_outcome:
        raise AnalysisError(protocol.protocol_id, RANDOMIZATION,
                            f"a multiple baseline is tested on each tier's registered outcome, not on {metric!r}")
    scheme = protocol.multiple_baseline_scheme
    tiers = _tiers(data)
    possible = _possible_starts(data, tiers, scheme)
    test = checked(data, RANDOMIZATION, core_test, [tier.values for tier in tiers], [tier.start for tier in tiers],
                   possible_starts=possible, scheme=scheme, alternative=alternative, n_permutations=n_permutations,
                   seed=seed)
    sizes = checked(data, RANDOMIZATION, _tier_effect_sizes, tiers, alternative)
    shown = [{"tier": tier.name, "outcome": tier.outcome, "values": tier.values, "start": tier.values.index[tier.start],
              "window": None if tier.window is None else (tier.values.index[0] + pd.Timedelta(days=tier.window[0]),
                                                          tier.values.index[0] + pd.Timedelta(days=tier.window[1])),
              "baselineMean": row["baselineMean"], "interventionMean": row["interventionMean"]}
             for tier, row in zip(tiers, sizes["tiers"])]
    draw = partial(design_figures.multiple_baseline_figure, tiers=shown, title=title(data, "tiers"))
    labels = [pd.Series(tier.labels, index=tier.values.index) for tier in tiers]
    return DesignTest("multiple_baseline_test", test, alternative, sizes, "multiple baseline",
                      checked(data, RANDOMIZATION, wwc_multiple_baseline_standard, labels),
                      alpha_check(test.n_assignments, alpha=protocol.alpha),
                      {"scheme": scheme, "tiers": [{"tier": t.name, "outcome": t.outcome, "start": t.start,
                                                    "window": t.window} for t in tiers],
                       "possibleStarts": possible},
                      {"washoutDays": 0, "missingOutcomeDays": []},
                      sum(len(tier.values) for tier in tiers), ("tiers.png", draw))

"""The confirmatory randomization test of a protocol's registered design, its effect sizes and WWC standard."""

from __future__ import annotations

from americano_pipeline.analysis.inputs import REGISTERED, chosen_alternative
from americano_pipeline.analysis.methods.base import Analysis, numbers
from americano_pipeline.analysis.methods.design_tests import (
    RANDOMIZATION,
    DesignTest,
    alternating_test,
    changing_criterion_test,
    multiple_baseline_test,
    reversal_test,
)
from americano_pipeline.analysis.protocol import ProtocolData

DESIGN_TESTS = {"ABAB": reversal_test, "ALTERNATING": alternating_test,
                "CHANGING_CRITERION": changing_criterion_test, "MULTIPLE_BASELINE": multiple_baseline_test}


def _number(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.2f}"


def _interval(bounds: list | None) -> str:
    return "undefined" if bounds is None or None in bounds else f"{bounds[0]:.2f} to {bounds[1]:.2f}"


def _sizes_text(run: DesignTest) -> str:
    """The design's headline effect sizes in a few words."""
    sizes = run.effect_sizes
    if "tiers" in sizes:
        return "per tier B - A " + ", ".join(f"{row['tier']} {row['difference']:+.3g} (NAP {_number(row.get('NAP'))})"
                                             for row in sizes["tiers"])
    if "phases" in sizes:
        return "phase means " + ", ".join(f"{row['mean']:.3g}" + (f" (criterion {row['criterion']:g})"
                                                                    if row["criterion"] is not None else " (baseline)")
                                          for row in sizes["phases"])
    return f"NAP {sizes['NAP']:.2f} (95% CI {_interval(sizes.get('NAP_CI'))})"


def analyse_randomization(data: ProtocolData, metric: str, *, statistic: str, alternative: str, exploratory: bool,
                          n_permutations: int, seed: int) -> Analysis:
    """The randomization test of the protocol's registered design (``DESIGN_TESTS``; docs/DESIGNS.md), its effect
    sizes (per tier, per condition or per criterion phase) and the design's own WWC standard.

    ``alphaCheck`` says whether the design's reference set can reach the registered alpha at all (1/N <= alpha)
    and, when it cannot, the smallest change that would (DESIGN.md §4b; a 44-day AB design with 14-day phases has
    17 placements, so p >= 0.0588 whatever the effect).

    ``alternative="registered"`` tests the protocol's registered direction (another only in an exploratory run,
    ``inputs.chosen_alternative``); effect sizes read "larger is better" in the tested direction. ``statistic``
    applies to reversal designs; the other designs' statistics are fixed by their tests (DESIGN.md §4).
    """
    protocol = data.protocol
    chosen = chosen_alternative(protocol, RANDOMIZATION, alternative, exploratory)
    design = DESIGN_TESTS[protocol.design_type]
    options = {"statistic": statistic} if design is reversal_test else {}
    if design is not changing_criterion_test:
        options["alternative"] = chosen
    run = design(data, metric, n_permutations=n_permutations, seed=seed, **options)
    test, (verdict, reason) = run.result, run.wwc
    reachable = run.alpha_check
    source = REGISTERED if chosen == protocol.alternative else "config"
    shown_statistic = statistic if design is reversal_test else run.test
    body = {**test.to_dict(), "test": run.test, "alternative": run.alternative, "alternativeSource": source,
            "statistic": shown_statistic, "minPhaseLength": protocol.min_phase_length,
            "design": {"designType": protocol.design_type, **run.design}, "effectSizes": run.effect_sizes,
            "wwcDesignStandard": {"verdict": verdict, "reason": reason, "standard": run.standard},
            "alphaCheck": reachable.to_dict(), "excluded": run.excluded}
    sizes = run.effect_sizes
    return Analysis(
        method=RANDOMIZATION,
        result=body,
        params={"test": run.test, "statistic": shown_statistic, "alternative": run.alternative,
                "alternative_source": source, "n_permutations": n_permutations, "seed": seed,
                "min_phase_length": protocol.min_phase_length, "wwc_verdict": verdict},
        metrics=numbers(p_value=test.p_value, observed_effect=test.observed_effect, cohens_d=test.effect_size,
                        nap=sizes.get("NAP"), tau_u=sizes.get("TauU"), tau_bc=sizes.get("Tau_BC"),
                        smd_pooled=sizes.get("SMD_pooled"), lrr_increase=sizes.get("LRRi"),
                        mean_tier_difference=sizes.get("meanDifference"), n_assignments=test.n_assignments,
                        n_observations=run.n_observations),
        summary=(f"{run.test}: observed **{test.observed_effect:+.3g}**, randomization p = **{test.p_value:.3g}** "
                 f"({run.alternative}, {'exact' if test.exact else 'Monte Carlo'} over {test.n_assignments:,} "
                 f"assignments); {_sizes_text(run)}; effect size {_number(test.effect_size)}; WWC ({run.standard}): "
                 f"{verdict}{'' if reachable.reachable else '; cannot reach alpha: ' + reachable.message}"),
        figures=(run.figure,),
    )

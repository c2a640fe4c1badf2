"""The single-case randomization test of a phase design, its effect sizes and the WWC design standard."""

from __future__ import annotations

from functools import partial
from itertools import groupby

from americano_pipeline.analysis import figures
from americano_pipeline.analysis.inputs import REGISTERED, chosen_alternative, phase_observations
from americano_pipeline.analysis.methods.base import Analysis, checked, excluded, numbers, title
from americano_pipeline.analysis.protocol import ProtocolData

RANDOMIZATION = "phase_randomization_test"


def _number(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.2f}"


def _interval(bounds: list | None) -> str:
    return "undefined" if bounds is None or None in bounds else f"{bounds[0]:.2f} to {bounds[1]:.2f}"


def _multiple_baseline(labels) -> tuple[str, str]:
    from americano_pipeline.stats.standards import wwc_multiple_baseline_standard

    return wwc_multiple_baseline_standard([labels])


def _reversal(labels) -> tuple[str, str]:
    from americano_pipeline.stats.standards import wwc_design_standard

    return wwc_design_standard(labels)


WWC_STANDARDS = {"multiple baseline": _multiple_baseline, "reversal": _reversal}


def wwc_standard(design_type: str) -> str:
    """Which WWC design standard judges a protocol of ``design_type``: a multiple-baseline protocol is judged by
    the multiple-baseline rules (tiers), never by the reversal rules its single AB tier would fail for another
    reason; every other design analysed here is a phase reversal. (The warehouse records one tier per protocol
    until issue #14 records tiers, so a multiple-baseline protocol is one tier here.)"""
    return "multiple baseline" if design_type == "MULTIPLE_BASELINE" else "reversal"


def analyse_randomization(data: ProtocolData, metric: str, *, statistic: str, alternative: str, exploratory: bool,
                          n_permutations: int, seed: int) -> Analysis:
    """Randomization test over the admissible phase-change placements with the protocol's registered minimum
    phase length, plus single-case effect sizes and the WWC design verdict, on the A/B days.

    ``alphaCheck`` says whether the design's reference set can reach the registered alpha at all (1/N <= alpha)
    and, when it cannot, the smallest change that would (DESIGN.md §4b; issue #14: a 44-day AB design with 14-day
    phases has 17 placements, so p >= 0.0588 whatever the effect).

    ``alternative="registered"`` tests the protocol's registered direction (another only in an exploratory run,
    ``inputs.chosen_alternative``); the effect sizes read "larger is better" in the tested direction
    (``improvement="decrease"`` for "less").
    """
    from americano_pipeline.stats.effect_sizes import single_case_effect_sizes
    from americano_pipeline.stats.randomization import phase_design_alpha_check, phase_randomization_test

    protocol = data.protocol
    observations = phase_observations(data, metric)
    values, labels = observations.values.to_numpy(), list(observations.labels)
    chosen = chosen_alternative(protocol, RANDOMIZATION, alternative, exploratory)
    test = checked(data, RANDOMIZATION, phase_randomization_test, values, labels,
                   min_phase_length=protocol.min_phase_length, statistic=statistic, alternative=chosen,
                   n_permutations=n_permutations, seed=seed)
    sizes = checked(data, RANDOMIZATION, single_case_effect_sizes, values, labels,
                    improvement="decrease" if chosen == "less" else "increase")
    standard = wwc_standard(protocol.design_type)
    verdict, reason = checked(data, RANDOMIZATION, WWC_STANDARDS[standard], labels)
    phases = len([condition for condition, _ in groupby(labels)])
    reachable = checked(data, RANDOMIZATION, phase_design_alpha_check, len(values), phases, protocol.min_phase_length,
                        alpha=protocol.alpha)
    source = REGISTERED if chosen == protocol.alternative else "config"
    body = {**test.to_dict(), "alternative": chosen, "alternativeSource": source, "statistic": statistic,
            "minPhaseLength": protocol.min_phase_length, "effectSizes": sizes,
            "wwcDesignStandard": {"verdict": verdict, "reason": reason, "standard": standard},
            "alphaCheck": reachable.to_dict(),
            "excluded": excluded(observations)}
    draw = partial(figures.randomization_figure, values=observations.values.rename(metric), labels=labels,
                   distribution=test.permutation_distribution, observed=test.observed_effect,
                   p_value=test.p_value, alternative=chosen, title=title(data, metric))
    return Analysis(
        method=RANDOMIZATION,
        result=body,
        params={"statistic": statistic, "alternative": chosen, "alternative_source": body["alternativeSource"],
                "n_permutations": n_permutations, "seed": seed, "min_phase_length": protocol.min_phase_length,
                "wwc_verdict": verdict},
        metrics=numbers(p_value=test.p_value, observed_effect=test.observed_effect, cohens_d=test.effect_size,
                        nap=sizes["NAP"], tau_u=sizes["TauU"], tau_bc=sizes["Tau_BC"], smd_pooled=sizes["SMD_pooled"],
                        lrr_increase=sizes["LRRi"], n_assignments=test.n_assignments, n_observations=len(values)),
        summary=(f"B - A = **{test.observed_effect:+.3g}**, randomization p = **{test.p_value:.3g}** ({chosen}, "
                 f"{'exact' if test.exact else 'Monte Carlo'} over {test.n_assignments:,} placements); "
                 f"NAP {sizes['NAP']:.2f} (95% CI {_interval(sizes['NAP_CI'])}), "
                 f"Cohen's d {_number(test.effect_size)}; WWC: {verdict}"
                 f"{'' if reachable.reachable else '; cannot reach alpha: ' + reachable.message}"),
        figures=(("randomization.png", draw),),
    )

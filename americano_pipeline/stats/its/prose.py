"""The plain-language interpretation of an ITS result.

Why a module of its own: the wording (effect and uncertainty, what the interval supports, the HAC cross-check,
persistence after an ABA withdrawal, autocorrelation and how the error model handled it, sampler warnings, the
causal caveat) is what an n-of-1 experimenter reads first; it is built from the finished numbers only, so it can
change without touching the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from americano_pipeline.stats.its.design import _has_day_of_week
from americano_pipeline.stats.validation import date_label

_RHAT_LIMIT = 1.01
_ESS_LIMIT = 400


@dataclass(frozen=True)
class _Wording:
    """What the interpretation needs to name: the period unit, the baseline model's terms, the estimand."""

    unit: str
    terms: str
    segmented: bool


def _unit(freq) -> str:
    if _has_day_of_week(freq):
        return "day"
    return "week" if isinstance(freq, pd.offsets.Week) and freq.n == 1 else "period"


def _model_terms(sloped: bool, weekly: bool, covariates: pd.DataFrame) -> str:
    terms = [*(["trend"] if sloped else []), *(["day of week"] if weekly else []), *map(str, covariates.columns)]
    if not terms:
        return "level"

    return terms[0] if len(terms) == 1 else ", ".join(terms[:-1]) + " and " + terms[-1]


def _interval(values) -> str:
    return f"{values[0]:.3g} to {values[1]:.3g}"


def _autocorrelation_sentence(lag1: float, phi: dict | None) -> str:
    observed = f"Pre-period residuals are positively autocorrelated (lag-1 r = {lag1:.2f})"
    if phi is None:
        return (f"{observed}; this model assumes independent residuals, so its interval is probably too narrow: give "
                "the HAC interval more weight, or use the default AR(1) errors.")
    return (f"{observed}; the model's AR(1) errors account for it (phi {phi['mean']:.2f}, 95% HDI "
            f"{_interval(phi['hdi95'])}), widening the interval to the information the correlated days carry.")


def _uncertainty(effect: dict) -> str:
    return (f"(95% HDI {_interval(effect['hdi95'])}; posterior probability of an increase "
            f"{effect['probability_positive']:.2f})")


def _opening(effect: dict, dates: pd.DatetimeIndex, wording: _Wording) -> str:
    """The first sentence of one interruption's interpretation: the estimate over its treatment phase."""
    unit = wording.unit
    days = unit if len(dates) == 1 else unit + "s"
    span = f"the {len(dates)} {days} from {date_label(dates[0])} to {date_label(dates[-1])}"
    if wording.segmented:
        return (
            f"A segmented model of all the data ({wording.terms} plus a level change), combined with the stated "
            f"prior, estimates a level change of {effect['mean']:+.3g} per {unit} over {span} {_uncertainty(effect)}."
        )
    return (
        f"Over {span}, the outcome averaged {effect['mean']:+.3g} per {unit} relative to the counterfactual "
        f"projected from a pre-intervention model of {wording.terms} {_uncertainty(effect)}."
    )


def _pooled_opening(effect: dict, treated_days: list[int], interventions: list[str], unit: str) -> str:
    """The first sentence of a pooled interpretation: the estimate over every analysed treatment phase."""
    changes = ", ".join(interventions)
    return (
        f"Over the {sum(treated_days)} treatment {unit}s of {len(treated_days)} baseline-to-intervention changes "
        f"(starting {changes}), the outcome averaged {effect['mean']:+.3g} per {unit} relative to counterfactuals "
        f"projected from each change's own preceding baseline {_uncertainty(effect)}."
    )


def _interpretation(opening: str, effect, persistence, diagnostics, autocorrelation, cross_check, unit: str) -> str:
    lower, upper = effect["hdi95"]
    if lower > 0:
        verdict = "The interval excludes zero: the data support an increase."
    elif upper < 0:
        verdict = "The interval excludes zero: the data support a decrease."
    else:
        verdict = (
            "The interval includes zero, so the data are compatible with no effect as well as with effects of "
            "either sign within it."
        )
    sentences = [
        opening,
        verdict,
        f"Summed over the period that is {effect['cumulative']:.3g} (95% HDI {_interval(effect['cumulativeHdi95'])}).",
        f"The frequentist cross-check ({cross_check['method']}) estimates a level change of "
        f"{cross_check['levelChange']:.3g} (95% CI {_interval(cross_check['ci95'])}, p = {cross_check['pValue']:.2g}).",
    ]
    if persistence is not None:
        sentences.append(
            f"After the treatment ended, the difference was {persistence['mean']:.3g} per {unit} "
            f"(95% HDI {_interval(persistence['hdi95'])}; probability it stayed positive "
            f"{persistence['probability_positive']:.2f})."
        )
    if diagnostics["autocorrelationWarning"]:
        sentences.append(_autocorrelation_sentence(diagnostics["residualLag1Autocorrelation"], autocorrelation["phi"]))
    if diagnostics["rhat"] > _RHAT_LIMIT or diagnostics["ess_bulk"] < _ESS_LIMIT:
        sentences.append(
            f"Sampler diagnostics are poor (R-hat {diagnostics['rhat']:.3f}, bulk ESS {diagnostics['ess_bulk']:.0f}); "
            "treat these numbers as unreliable."
        )
    sentences.append(
        "This is a single-case before/after comparison: it is causal only if nothing else changed at the "
        "intervention date and the baseline pattern would otherwise have continued."
    )
    return " ".join(sentences)

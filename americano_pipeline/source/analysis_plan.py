"""The registered analysis plan of a protocol: ``experiment_protocols.analysisPlan``, a JSON object.

Why structured: what is confirmatory must be decided before the data exist and read by the pipeline as it was
registered, never inferred from prose (a parser of "raises"/"does not raise" gets negations wrong). The study
app's column is TEXT; the pipeline requires it to hold this JSON document:

    {"confirmatory": "phase_randomization_test",   the one confirmatory analysis (a method of the pipeline)
     "alternative": "greater",                     the registered direction: B > A ("greater"), B < A ("less")
                                                   or either ("two-sided"), for every analysis of the protocol
     "alpha": 0.05,                                the confirmatory analysis' type I error
     "description": "...",                         optional prose for readers
     "maxConsecutive": 2,                          ALTERNATING only (required there): the registered run limit,
                                                   an integer >= 1 or null (a completely randomized order)
     "multipleBaselineScheme": "koehler_levin"}    MULTIPLE_BASELINE only (required there): how the tiers' starts
                                                   were drawn (MULTIPLE_BASELINE_SCHEMES; docs/DESIGNS.md)

The snapshot's Pandera check (``checks.schemas``) and the warehouse's dbt tests refuse a plan that breaks these
rules, naming the protocol; every other analysis of the protocol is supportive. Which design needs which
optional key is a rule across columns (``designType``), checked there with ``design_plan_problem``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

ALTERNATIVES = ("greater", "less", "two-sided")
CONFIRMATORY_METHODS = ("phase_randomization_test", "bayesian_its")
REQUIRED = ("confirmatory", "alternative", "alpha")
MULTIPLE_BASELINE_SCHEMES = ("marascuilo_busk", "koehler_levin", "wampold_worsham")
DESIGN_KEYS = {"ALTERNATING": "maxConsecutive", "MULTIPLE_BASELINE": "multipleBaselineScheme"}
MAX_ALPHA = 0.2


@dataclass(frozen=True)
class AnalysisPlan:
    confirmatory: str
    alternative: str
    alpha: float
    description: str = ""
    max_consecutive: int | None = None
    multiple_baseline_scheme: str | None = None
    keys: frozenset = frozenset()  # the optional design keys the document holds (an explicit null counts)

    def to_json(self) -> str:
        body = {"confirmatory": self.confirmatory, "alternative": self.alternative, "alpha": self.alpha,
                "description": self.description}
        if "maxConsecutive" in self.keys:
            body["maxConsecutive"] = self.max_consecutive
        if "multipleBaselineScheme" in self.keys:
            body["multipleBaselineScheme"] = self.multiple_baseline_scheme
        return json.dumps(body)


def parse_analysis_plan(text: str) -> AnalysisPlan:
    """The plan in ``text``; ``ValueError`` saying in a few words which rule of the module doc it breaks (the
    checks report it beside the protocol id and the column)."""
    try:
        plan = json.loads(text)
    except (TypeError, ValueError):
        raise ValueError("not a JSON object") from None
    if not isinstance(plan, dict):
        raise ValueError("not a JSON object")
    missing = [key for key in REQUIRED if key not in plan]
    if missing:
        raise ValueError(f"lacks {', '.join(missing)}")
    unknown = sorted(set(plan) - {*REQUIRED, "description", *DESIGN_KEYS.values()})
    if unknown:
        raise ValueError(f"unknown keys {', '.join(unknown)}")
    if plan["confirmatory"] not in CONFIRMATORY_METHODS:
        raise ValueError(f"confirmatory {plan['confirmatory']!r} is not one of "
                         f"{', '.join(CONFIRMATORY_METHODS)}")
    if plan["alternative"] not in ALTERNATIVES:
        raise ValueError(f"alternative {plan['alternative']!r} is not one of {', '.join(ALTERNATIVES)}")
    alpha = plan["alpha"]
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha <= MAX_ALPHA:
        raise ValueError(f"alpha {alpha!r} is not a number in (0, {MAX_ALPHA}]")
    if not isinstance(plan.get("description", ""), str):
        raise ValueError("description is not text")
    limit = plan.get("maxConsecutive")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"maxConsecutive {limit!r} is not a whole number >= 1 (or null)")
    scheme = plan.get("multipleBaselineScheme")
    if "multipleBaselineScheme" in plan and scheme not in MULTIPLE_BASELINE_SCHEMES:
        raise ValueError(f"multipleBaselineScheme {scheme!r} is not one of {', '.join(MULTIPLE_BASELINE_SCHEMES)}")
    return AnalysisPlan(plan["confirmatory"], plan["alternative"], float(alpha), plan.get("description", ""),
                        limit, scheme, frozenset(set(plan) & set(DESIGN_KEYS.values())))


def design_plan_problem(plan: AnalysisPlan, design_type: str) -> str | None:
    """Why ``plan`` does not fit a protocol of ``design_type`` (a design key missing, or one of another design's
    keys present), or None when it fits."""
    needed = DESIGN_KEYS.get(design_type)
    if needed and needed not in plan.keys:
        return f"the analysisPlan of a protocol of design {design_type} needs {needed} (docs/DESIGNS.md)"
    foreign = sorted(plan.keys - {needed})
    if foreign:
        return f"{', '.join(foreign)} belongs to another design, not to {design_type}"
    return None

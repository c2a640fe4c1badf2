"""The registered analysis plan of a protocol: ``experiment_protocols.analysisPlan``, a JSON object.

Why structured: what is confirmatory must be decided before the data exist and read by the pipeline as it was
registered, never inferred from prose (a parser of "raises"/"does not raise" gets negations wrong). The study
app's column is TEXT; the pipeline requires it to hold this JSON document:

    {"confirmatory": "phase_randomization_test",   the one confirmatory analysis (a method of the pipeline)
     "alternative": "greater",                     the registered direction: B > A ("greater"), B < A ("less")
                                                   or either ("two-sided"), for every analysis of the protocol
     "alpha": 0.05,                                the confirmatory analysis' type I error
     "description": "..."}                         optional prose for readers

The snapshot's Pandera check (``checks.schemas``) and the warehouse's dbt tests refuse a plan that breaks these
rules, naming the protocol; every other analysis of the protocol is supportive.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

ALTERNATIVES = ("greater", "less", "two-sided")
CONFIRMATORY_METHODS = ("phase_randomization_test", "bayesian_its")
REQUIRED = ("confirmatory", "alternative", "alpha")
MAX_ALPHA = 0.2


@dataclass(frozen=True)
class AnalysisPlan:
    confirmatory: str
    alternative: str
    alpha: float
    description: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self))


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
    unknown = sorted(set(plan) - {*REQUIRED, "description"})
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
    return AnalysisPlan(plan["confirmatory"], plan["alternative"], float(alpha), plan.get("description", ""))

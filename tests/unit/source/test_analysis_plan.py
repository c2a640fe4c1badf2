"""The registered analysis plan: a JSON object with one confirmatory analysis, a direction and alpha."""

import json

import pytest

from americano_pipeline.source.analysis_plan import AnalysisPlan, parse_analysis_plan

VALID = {"confirmatory": "phase_randomization_test", "alternative": "less", "alpha": 0.05, "description": "d"}


def test_a_registered_plan_round_trips():
    plan = parse_analysis_plan(json.dumps(VALID))
    assert plan == AnalysisPlan("phase_randomization_test", "less", 0.05, "d")
    assert parse_analysis_plan(plan.to_json()) == plan


@pytest.mark.parametrize("text, problem", [
    ("Randomization test, alpha 0.05", "not a JSON object"),
    ("[1, 2]", "not a JSON object"),
    (json.dumps({"confirmatory": "phase_randomization_test"}), "lacks alternative, alpha"),
    (json.dumps({**VALID, "looks": 3}), "unknown keys looks"),
    (json.dumps({**VALID, "confirmatory": "change_points"}), "confirmatory 'change_points' is not one of"),
    (json.dumps({**VALID, "alternative": "increase"}), "alternative 'increase' is not one of greater, less"),
    (json.dumps({**VALID, "alpha": 0.5}), "alpha 0.5 is not a number in (0, 0.2]"),
    (json.dumps({**VALID, "alpha": True}), "alpha True is not a number"),
])
def test_a_plan_that_breaks_a_rule_is_refused_naming_it(text, problem):
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        parse_analysis_plan(text)

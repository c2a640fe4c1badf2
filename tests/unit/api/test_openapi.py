"""The published OpenAPI schema is what the study app type-checks against: its field names, tuples as tuples,
required fields required, and the four seed paths."""

import json
import subprocess
import sys

import pytest

from americano_pipeline.api.app import ApiConfig, create_app

PREFIX = "/api/analytics/research"


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    return create_app(ApiConfig(secret=b"", database_url="", analysis_root=tmp_path_factory.mktemp("a"))).openapi()


def component(schema, name: str) -> dict:
    schemas = schema["components"]["schemas"]
    return schemas.get(name) or schemas[f"{name}-Output"]


def test_the_four_seed_endpoints_are_posts_with_the_apps_paths(schema):
    for path in ("bayesian-its", "abab-randomization-test", "change-points", "sequential-boundaries"):
        assert "post" in schema["paths"][f"{PREFIX}/{path}"]


@pytest.mark.parametrize("name, required", [
    ("BayesianITSRequest", {"userId", "metric", "interventionDate", "prePeriodDays", "postPeriodDays"}),
    ("BayesianITSResponse", {"causalEffect", "counterfactual", "diagnostics", "interpretation"}),
    ("CausalEffect", {"mean", "sd", "hdi95", "probability_positive"}),
    ("Counterfactual", {"dates", "predicted", "observed", "lower95", "upper95"}),
    ("Diagnostics", {"rhat", "ess_bulk", "ess_tail"}),
    ("RandomizationRequest", {"userId", "protocolId", "metric"}),
    ("RandomizationResponse", {"observedEffect", "pValue", "effectSize", "interpretation",
                               "permutationDistribution", "passesSCEDStandards"}),
    ("ChangePointsRequest", {"userId", "metric", "startDate", "endDate"}),
    ("ChangePointsResponse", {"changePoints", "algorithm"}),
    ("ChangePoint", {"date", "confidence", "beforeMean", "afterMean", "percentChange"}),
    ("SequentialRequest", {"alphaLevel", "spendingFunction", "maxN", "nInterimAnalyses"}),
    ("SequentialResponse", {"boundaries", "warning"}),
    ("Boundary", {"n", "criticalValue", "alphaSpent"}),
])
def test_the_apps_fields_are_required(schema, name, required):
    assert set(component(schema, name)["required"]) == required


def test_optional_request_fields_have_the_apps_defaults(schema):
    assert component(schema, "RandomizationRequest")["properties"]["nPermutations"]["default"] == 10_000
    assert component(schema, "ChangePointsRequest")["properties"]["minSegmentLength"]["default"] == 7


def test_the_hdi_is_a_tuple_of_two_numbers(schema):
    hdi = component(schema, "CausalEffect")["properties"]["hdi95"]
    assert hdi["prefixItems"] == [{"type": "number"}, {"type": "number"}]
    assert hdi["minItems"] == hdi["maxItems"] == 2


def test_americano_api_openapi_prints_the_schema():
    printed = subprocess.run([sys.executable, "-m", "americano_pipeline.cli", "api", "openapi"],
                             capture_output=True, text=True, check=True).stdout
    assert f"{PREFIX}/bayesian-its" in json.loads(printed)["paths"]

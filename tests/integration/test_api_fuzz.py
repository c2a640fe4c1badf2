"""Property-based fuzzing of every route of the research API from its own OpenAPI schema (hypothesis strategies
from schemathesis), against the real server on loopback, as a real user of the study: whatever the body or path,
no 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from americano_pipeline.api.tokens import issue
from tests.integration.api_support import SECRET, base_url, published  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def token(source):
    return issue(SECRET, source.truth["protocols"][0]["userId"])


def test_no_route_answers_a_server_error(base_url, token):  # noqa: F811
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 8
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_server_error(case):
            response = case.call(headers={"Authorization": f"Bearer {token}"}, timeout=60)
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:500]}"

        no_server_error()

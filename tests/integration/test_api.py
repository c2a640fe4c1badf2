"""The research API served on loopback (uvicorn + httpx) over the seeded study (2 users x 3 protocols): the app's
four endpoints with its field names, the published results with their provenance, and every request confined to
the token's user (401 without a token, 403 for another userId in a body, 404 for another user's protocol).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import date

import httpx
import pytest

from americano_pipeline.api.tokens import issue
from americano_pipeline.lineage.tracking import Tracker
from americano_pipeline.source.connection import connect
from tests.integration.api_support import SECRET, base_url, published  # noqa: F401 (fixtures)
from tests.integration.warehouse_support import materialize, warehouse_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PREFIX = "/api/analytics/research"


def client(base_url: str, user_id: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {issue(SECRET, user_id)}"} if user_id else {}
    return httpx.Client(base_url=base_url, headers=headers, timeout=60)


def protocol(source, key: str, user: int = 0) -> dict:
    return [p for p in source.truth["protocols"] if p["key"] == key][user]


def users(source) -> list[str]:
    return sorted({p["userId"] for p in source.truth["protocols"]})


def test_the_randomization_test_answers_in_the_apps_shape_as_the_pipeline_published_it(base_url, source):
    abab = protocol(source, "abab_reward")
    body = {"userId": abab["userId"], "protocolId": abab["protocolId"], "metric": abab["primaryOutcome"]}
    with client(base_url, abab["userId"]) as http:
        answer = http.post(f"{PREFIX}/abab-randomization-test", json=body)
        assert answer.status_code == 200, answer.text
        result = answer.json()
        assert {"observedEffect", "pValue", "effectSize", "interpretation", "permutationDistribution",
                "passesSCEDStandards"} <= result.keys()
        assert isinstance(result["passesSCEDStandards"], bool) and result["provenance"]["exploratory"] is True
        published = http.get(f"{PREFIX}/protocols/{abab['protocolId']}/results").json()["results"]
    randomization = next(r for r in published if r["asset"] == "randomization_result")
    assert result["pValue"] == randomization["result"]["pValue"]
    assert result["observedEffect"] == randomization["result"]["observedEffect"]


def test_bayesian_its_answers_with_the_apps_fields(base_url, source):
    ab = protocol(source, "ab_reminder")
    intervention = date.fromisoformat(ab["interventionDate"])
    pre = (intervention - date.fromisoformat(ab["startDate"])).days
    post = (date.fromisoformat(ab["endDate"]) - intervention).days + 1
    body = {"userId": ab["userId"], "metric": ab["primaryOutcome"], "interventionDate": ab["interventionDate"],
            "prePeriodDays": pre, "postPeriodDays": post}
    with client(base_url, ab["userId"]) as http:
        answer = http.post(f"{PREFIX}/bayesian-its", json=body)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert set(result["causalEffect"]) >= {"mean", "sd", "hdi95", "probability_positive"}
    assert len(result["causalEffect"]["hdi95"]) == 2
    assert set(result["counterfactual"]) >= {"dates", "predicted", "observed", "lower95", "upper95"}
    assert len(result["counterfactual"]["dates"]) == post
    assert set(result["diagnostics"]) >= {"rhat", "ess_bulk", "ess_tail"}
    assert isinstance(result["interpretation"], str)


def test_change_points_and_sequential_boundaries_answer_with_the_apps_fields(base_url, source):
    ab = protocol(source, "ab_reminder")
    body = {"userId": ab["userId"], "metric": "study_minutes", "startDate": ab["startDate"],
            "endDate": ab["endDate"], "minSegmentLength": 7}
    with client(base_url, ab["userId"]) as http:
        points = http.post(f"{PREFIX}/change-points", json=body)
        bounds = http.post(f"{PREFIX}/sequential-boundaries", json={
            "alphaLevel": 0.05, "spendingFunction": "obrien_fleming", "maxN": 40, "nInterimAnalyses": 4})
    assert points.status_code == 200, points.text
    assert points.json()["algorithm"] == "PELT"
    for change in points.json()["changePoints"]:
        assert set(change) >= {"date", "confidence", "beforeMean", "afterMean", "percentChange"}
    assert bounds.status_code == 200, bounds.text
    looks = bounds.json()["boundaries"]
    assert [look["n"] for look in looks] == [10, 20, 30, 40]
    assert looks[-1]["alphaSpent"] == pytest.approx(0.05) and bounds.json()["warning"]


def test_the_published_results_of_a_protocol_carry_their_provenance_and_figures(base_url, source):
    abab = protocol(source, "abab_reward")
    with client(base_url, abab["userId"]) as http:
        listed = http.get(f"{PREFIX}/protocols").json()
        results = http.get(f"{PREFIX}/protocols/{abab['protocolId']}/results").json()
        randomization = next(r for r in results["results"] if r["asset"] == "randomization_result")
        figure = http.get(f"{PREFIX}/protocols/{abab['protocolId']}/results/randomization_result/figures/"
                          f"{randomization['figures'][0]}")
    mine = {p["protocolId"] for p in source.truth["protocols"] if p["userId"] == abab["userId"]}
    assert {p["id"] for p in listed} == mine
    provenance = randomization["provenance"]
    assert provenance["codeCommit"] and provenance["dataVersionHash"] == source.data_version
    assert provenance["mlflowRunId"] and provenance["analysisRunId"] and provenance["analysisRunRecorded"] is True
    assert figure.status_code == 200 and figure.content.startswith(b"\x89PNG")


def test_another_users_protocol_is_not_found_and_never_data(base_url, source):
    mine, theirs = protocol(source, "abab_reward", 0), protocol(source, "abab_reward", 1)
    assert mine["userId"] != theirs["userId"]
    with client(base_url, mine["userId"]) as http:
        results = http.get(f"{PREFIX}/protocols/{theirs['protocolId']}/results")
        figure = http.get(f"{PREFIX}/protocols/{theirs['protocolId']}/results/randomization_result/figures/"
                          "randomization.png")
        test = http.post(f"{PREFIX}/abab-randomization-test", json={
            "userId": mine["userId"], "protocolId": theirs["protocolId"], "metric": theirs["primaryOutcome"]})
    assert results.status_code == figure.status_code == test.status_code == 404
    assert theirs["userId"] not in results.text + figure.text + test.text


def test_a_body_naming_another_user_is_forbidden_and_no_token_is_unauthorized(base_url, source):
    mine, theirs = users(source)
    body = {"userId": theirs, "metric": "study_minutes", "startDate": "2026-06-01", "endDate": "2026-07-01"}
    with client(base_url, mine) as http:
        assert http.post(f"{PREFIX}/change-points", json=body).status_code == 403
    with client(base_url, None) as http:
        answer = http.get(f"{PREFIX}/protocols")
        assert answer.status_code == 401 and answer.headers["WWW-Authenticate"] == "Bearer"
        assert http.get(f"{PREFIX}/protocols", headers={"Authorization": "Bearer x.y"}).status_code == 401
    expired = issue(SECRET, mine, lifetime_seconds=-1)
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {expired}"}) as http:
        assert "expired" in http.get(f"{PREFIX}/protocols").json()["detail"]


def test_bad_bodies_are_422_naming_the_field_and_an_unknown_metric_404_listing_the_catalogue(base_url, source):
    user = users(source)[0]
    with client(base_url, user) as http:
        bad = http.post(f"{PREFIX}/change-points", json={"userId": user, "metric": "study_minutes",
                                                         "startDate": "not a date", "endDate": "2026-07-01"})
        unknown = http.post(f"{PREFIX}/change-points", json={"userId": user, "metric": "steps",
                                                             "startDate": "2026-06-01", "endDate": "2026-07-01"})
        reversed_ = http.post(f"{PREFIX}/change-points", json={"userId": user, "metric": "study_minutes",
                                                               "startDate": "2026-07-01", "endDate": "2026-06-01"})
        bounds = http.post(f"{PREFIX}/sequential-boundaries", json={
            "alphaLevel": 1.5, "spendingFunction": "obrien_fleming", "maxN": 40, "nInterimAnalyses": 4})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "startDate"]
    assert unknown.status_code == 404 and "engagement_score" in unknown.json()["detail"]
    assert reversed_.status_code == 422 and "endDate" in reversed_.json()["detail"]
    assert bounds.status_code == 422 and bounds.json()["detail"][0]["loc"] == ["body", "alphaLevel"]


def test_a_window_without_data_is_404(base_url, source):
    user = users(source)[0]
    with client(base_url, user) as http:
        empty = http.post(f"{PREFIX}/change-points", json={
            "userId": user, "metric": "study_minutes", "startDate": "2001-01-01", "endDate": "2001-03-01"})
    assert empty.status_code == 404 and "no days of study_minutes" in empty.json()["detail"]


def recorded_runs(source, computation_id: str, endpoint: str) -> list:
    """The MLflow runs tagged with ``computation_id``, waiting up to 120 s for the recorder to write one (its first
    record imports MLflow, which took over 30 s on a machine busy with other test runs)."""
    with warehouse_env(source.data_dir):
        from americano_pipeline import settings

        client = Tracker(settings.mlflow_tracking_uri(), None).client
    deadline = time.monotonic() + 120
    while True:
        experiment = client.get_experiment_by_name(f"research-api/{endpoint}")
        runs = [] if experiment is None else client.search_runs(
            [experiment.experiment_id], f"tags.`api.computation_id` = '{computation_id}'")
        if runs and runs[0].info.status == "FINISHED" or time.monotonic() > deadline:
            return runs
        time.sleep(0.2)


def test_each_computation_is_recorded_as_an_exploratory_run_and_a_protocols_also_in_analysis_runs(base_url, source):
    abab = protocol(source, "abab_reward")
    with client(base_url, abab["userId"]) as http:
        test = http.post(f"{PREFIX}/abab-randomization-test", json={
            "userId": abab["userId"], "protocolId": abab["protocolId"], "metric": abab["primaryOutcome"]}).json()
        points = http.post(f"{PREFIX}/change-points", json={
            "userId": abab["userId"], "metric": "study_minutes", "startDate": abab["startDate"],
            "endDate": abab["endDate"]}).json()
    computation_id = test["provenance"]["computationId"]
    [run] = recorded_runs(source, computation_id, "abab-randomization-test")
    assert run.data.tags["api.user"] == abab["userId"]
    assert run.data.tags["api.endpoint"] == "abab-randomization-test"
    assert run.data.tags["dvc.raw_current"] == test["provenance"]["dataVersionHash"] == source.data_version
    assert len(run.data.tags["git.commit"]) == 40 and run.data.tags["analysis.exploratory"] == "true"
    assert run.data.metrics["pValue"] == test["pValue"]
    with connect(source.url) as owner:
        rows = owner.execute('SELECT "protocolId", "mlflowRunId", "analysisType", "inputParams" FROM analysis_runs '
                             'WHERE id = %s', (computation_id,)).fetchall()
    assert [row[:3] for row in rows] == [(abab["protocolId"], run.info.run_id, "randomization_result")]
    assert rows[0][3]["exploratory"] is True and rows[0][3]["userId"] == abab["userId"]
    [change_run] = recorded_runs(source, points["provenance"]["computationId"], "change-points")
    assert change_run.data.tags["api.endpoint"] == "change-points" and "protocol.id" not in change_run.data.tags


def test_the_api_answers_without_errors_while_the_warehouse_is_rebuilt(base_url, source):
    """Four clients keep asking while dbt builds and publishes a new warehouse: every answer is a 200."""
    abab = protocol(source, "abab_reward")
    body = {"userId": abab["userId"], "protocolId": abab["protocolId"], "metric": abab["primaryOutcome"],
            "nPermutations": 1000}
    statuses: list[int] = []
    building = threading.Event()

    def ask():
        with client(base_url, abab["userId"]) as http:
            while building.is_set():
                statuses.append(http.post(f"{PREFIX}/abab-randomization-test", json=body).status_code)

    building.set()
    clients = [threading.Thread(target=ask) for _ in range(4)]
    for thread in clients:
        thread.start()
    try:
        rebuilt = materialize(source.data_dir)
    finally:
        building.clear()
        for thread in clients:
            thread.join()
    assert rebuilt.success
    assert len(statuses) > 20 and set(statuses) == {200}, Counter(statuses)

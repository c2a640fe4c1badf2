"""The context_analysis/context_relations asset on the seeded study's real warehouse (2 users x 290 days), with a
real MLflow store: the planted sleep -> performance relation is found for every user, the null covariates are not,
and every user's result is published (result.json, figures) and traceable (an MLflow run with the git, DVC and
Dagster tags and the files as artifacts)."""

import json

import dagster as dg
import pytest

from americano_pipeline.analysis.publish import RESULT_FILE
from americano_pipeline.assets.context_relations import KEY, context_relations
from americano_pipeline.lineage.code_state import git_state
from americano_pipeline.resources.mlflow_tracking import MlflowTrackingResource
from tests.integration.warehouse_support import warehouse_env

pytestmark = pytest.mark.integration

FIGURES = ("ccf.png", "ccf.svg", "q_heatmap.png", "q_heatmap.svg")


def users(source) -> list[str]:
    return sorted({protocol["userId"] for protocol in source.truth["protocols"]})


@pytest.fixture(scope="module")
def related(source, built):
    assert built.success
    with dg.DagsterInstance.ephemeral() as instance, warehouse_env(source.data_dir):
        return dg.materialize([context_relations], instance=instance,
                              resources={"mlflow_tracking": MlflowTrackingResource()}, raise_on_error=False)


def result(source, user_id: str) -> dict:
    return json.loads((source.data_dir / "analysis" / "context_relations" / user_id / RESULT_FILE).read_text())


def pair(document: dict, context: str, outcome: str) -> dict:
    return next(p for p in document["pairs"] if (p["context"], p["outcome"]) == (context, outcome))


def test_one_materialization_with_every_users_pairs_and_runs(related, source):
    assert related.success
    [event] = related.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert event.materialization.asset_key == KEY and metadata["users"].value == 2
    assert metadata["pairs_analysed"].value >= 2 * 5 * 6  # sleep, its three companions, strain, mood/energy
    table = metadata["per_user"].value
    for user_id in users(source):
        assert f"| {user_id} |" in table and "sleep_hours -> mean_performance" in table
        assert metadata[f"mlflow_run_{user_id}"].value.startswith("http")


def test_the_planted_sleep_relations_are_found_at_lag_zero_in_the_planted_direction(related, source):
    for user_id in users(source):
        document = result(source, user_id)
        performance = pair(document, "sleep_hours", "mean_performance")
        assert performance["significant"] and performance["granger"]["qValue"] < 1e-3
        assert performance["granger"]["contextLags"] == [0, 1]
        assert 1.5 < performance["granger"]["coefficients"][0] < 4.5  # planted: 3 points per hour of sleep
        assert performance["significantLags"][:1] == [0] and performance["ccf"][0]["r"] > 0.2
        assert pair(document, "sleep_hours", "engagement_score")["granger"]["coefficients"][0] > 0


def test_the_null_covariates_are_not_found(related, source):
    for user_id in users(source):
        document = result(source, user_id)
        for context in ("steps", "activity_strain"):
            for found in (p for p in document["pairs"] if p["context"] == context):
                assert not found["significant"] and found["significantLags"] == [], found
                assert found["status"] == "analysed" or found["reason"] == f"{context} is never recorded"
        assert "streak_days" not in {p["outcome"] for p in document["pairs"]}


def test_the_families_and_nuisance_terms_are_stated(related, source):
    document = result(source, users(source)[0])
    analysed = [p for p in document["pairs"] if p["status"] == "analysed"]
    assert document["families"]["granger"]["tests"] == len(analysed)
    assert document["families"]["ccf"]["tests"] == 8 * len(analysed)
    assert document["nuisance"]["weekdays"] and document["nuisance"]["trend"]
    assert len(document["nuisance"]["columns"]) >= 6  # the user's six protocols' intervention days (and more)
    assert document["role"] == "exploratory" and document["sameDayContext"][0] == "sleep_hours"


def test_each_user_is_an_mlflow_run_with_provenance_and_the_published_files(related, source):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{source.data_dir / 'mlflow' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(KEY.to_user_string())
    for user_id in users(source):
        document = result(source, user_id)
        provenance = document["provenance"]
        [run] = client.search_runs([experiment.experiment_id], filter_string=f"tags.`analysis.user` = '{user_id}' "
                                                                             f"and tags.`dagster.run_id` = "
                                                                             f"'{related.run_id}'")
        assert run.info.status == "FINISHED" and run.info.run_id == provenance["mlflowRunId"]
        tags = run.data.tags
        assert tags["git.commit"] == git_state().commit == provenance["codeCommit"]
        assert tags["dvc.raw_current"] == source.data_version == provenance["dataVersionHash"]
        assert tags["dagster.asset_key"] == "context_analysis/context_relations"
        assert tags["analysis.role"] == "exploratory" and "dagster.partition" not in tags
        assert run.data.params["user_id"] == user_id and run.data.params["max_lag"] == "7"
        significant = sum(p["significant"] for p in document["pairs"])
        assert run.data.metrics["pairs_significant"] == significant == len(document["significantPairs"])
        assert {a.path for a in client.list_artifacts(run.info.run_id)} == {RESULT_FILE, *FIGURES}
        directory = source.data_dir / "analysis" / "context_relations" / user_id
        assert sorted(p.name for p in directory.iterdir()) == sorted([RESULT_FILE, *FIGURES])
        assert provenance["figures"] == ["q_heatmap.png", "ccf.png"] and provenance["analysisRunId"] is None

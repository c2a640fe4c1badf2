"""The parts of `americano reproduce` that need no database: the comparison rule, which result.json is the
published one, the recorded parameters turned back into the run's config, and the git worktree's lifetime."""

import json
import math
import subprocess
from datetime import datetime, timezone

import pytest

from americano_pipeline.lineage.analysis_runs import AnalysisRunRow
from americano_pipeline.reproduction.driver import config_values, looks_of
from americano_pipeline.reproduction.rerun import (
    ReproductionError,
    code_at,
    compare,
    compare_run,
    numbers_equal,
    published_result,
    report_lines,
)


def run(**changes) -> AnalysisRunRow:
    when = datetime(2026, 12, 1, tzinfo=timezone.utc)
    fields = dict(id="crun", protocol_id="cprotocol", run_name="r", analysis_type="randomization_result",
                  code_commit="a" * 40, data_version="0" * 32 + ".dir", input_params={"seed": 0, "codeDirty": False},
                  mlflow_run_id=None, artifact_paths=[], results_summary={"metrics": {"p_value": 0.01}},
                  started_at=when, completed_at=when)
    return AnalysisRunRow(**{**fields, **changes})


def test_identical_documents_count_every_number_and_every_other_value():
    document = {"p": 0.5, "n": 3, "exact": True, "label": "x", "none": None, "series": [1.0, 2.0, [3, 4]]}
    found = compare(document, json.loads(json.dumps(document)))
    assert found.identical and (found.numbers, found.values) == (6, 9)


def test_floats_agree_within_a_relative_1e9_integers_and_strings_exactly():
    assert numbers_equal(0.1 + 0.2, 0.3) and numbers_equal(1e6, 1e6 * (1 + 5e-10))
    assert not numbers_equal(1e6, 1e6 * (1 + 2e-9))
    assert numbers_equal(0.0, 1e-13) and not numbers_equal(0.0, 1e-9)  # absolute 1e-12 near zero
    assert not numbers_equal(10_000, 10_001) and numbers_equal(math.nan, math.nan) and numbers_equal(2, 2.0)
    found = compare({"a": "x", "b": True, "c": 1}, {"a": "y", "b": 1, "c": True})
    assert [(d.path, d.published, d.reproduced) for d in found.differences] == [
        ("a", "x", "y"), ("b", True, 1), ("c", 1, True)]  # a boolean is not the number 1


def test_missing_keys_and_list_lengths_are_differences_with_their_paths():
    found = compare({"x": {"a": 1, "b": [1, 2, 3]}}, {"x": {"b": [1, 2.5], "c": 2}}, path="result.json:")
    assert [(d.path, d.published, d.reproduced) for d in found.differences] == [
        ("result.json:x.a", 1, "<missing>"), ("result.json:x.b (length)", 3, 2), ("result.json:x.b[1]", 2, 2.5),
        ("result.json:x.c", "<missing>", 2)]


def test_the_report_folds_a_list_that_differs_in_many_places_and_shows_where_long_strings_differ():
    published = {"p": 0.5, "draws": list(range(100)), "pair": [1, 2], "text": "x" * 200 + "published tail"}
    reproduced = {"p": 0.25, "draws": [value + 1 for value in range(100)], "pair": [1, 3],
                  "text": "x" * 200 + "reproduced tail"}
    assert report_lines(compare(published, reproduced, path="result.json:").differences) == [
        "result.json:p: published 0.5, reproduced 0.25",
        "result.json:draws[]: 100 elements differ, the first result.json:draws[0]: published 0, reproduced 1",
        "result.json:pair[1]: published 2, reproduced 3",
        "result.json:text: published '...xxxxxxxxxxxxxxxxxxxxxxxpublished tail', "
        "reproduced '...xxxxxxxxxxxxxxxxxxxxxxxreproduced tail'"]
    many = compare({str(i): i for i in range(50)}, {str(i): -i - 1 for i in range(50)}).differences
    assert len(report_lines(many, limit=10)) == 11 and report_lines(many, limit=10)[-1] == "... and 40 more"


def test_the_publications_own_ids_and_times_are_not_compared_but_the_rest_of_provenance_is():
    published = {"pValue": 0.01, "provenance": {"analysisRunId": "c1", "mlflowRunId": "m1", "startedAt": "t1",
                                                "completedAt": "t2", "dagsterRunId": "d1",
                                                "parameters": {"seed": 0}, "dataVersionHash": "v"}}
    reproduced = {"pValue": 0.01, "provenance": {"analysisRunId": "c2", "mlflowRunId": "reproduction",
                                                 "startedAt": "t3", "completedAt": "t4", "dagsterRunId": "d2",
                                                 "parameters": {"seed": 1}, "dataVersionHash": "v"}}
    answer = {"resultJson": reproduced, "inputParams": {"seed": 0, "codeDirty": False},
              "resultsSummary": {"metrics": {"p_value": 0.02}}}
    found = compare_run(run(), published, answer)
    assert [d.path for d in found.differences] == ["result.json:provenance.parameters.seed",
                                                    "resultsSummary.metrics.p_value"]


def test_the_published_file_is_used_while_it_holds_the_run_else_the_run_is_refused_without_mlflow(tmp_path):
    path = tmp_path / "result.json"
    path.write_text(json.dumps({"pValue": 0.5, "provenance": {"analysisRunId": "crun"}}))
    document, where = published_result(run(artifact_paths=[str(tmp_path / "a.png"), str(path)]), "sqlite://", tmp_path)
    assert document["pValue"] == 0.5 and where == str(path)
    path.write_text(json.dumps({"pValue": 0.4, "provenance": {"analysisRunId": "clater"}}))  # a later run replaced it
    with pytest.raises(ReproductionError, match="result.json analysis run crun published is gone: .*no MLflow run"):
        published_result(run(artifact_paths=[str(path)]), "sqlite://", tmp_path)


def test_the_recorded_parameters_become_the_runs_config():
    assert config_values("randomization_result", {
        "exploratory": False, "metric": "study_minutes", "statistic": "mean_difference", "alternative": "greater",
        "n_permutations": 500, "seed": 4, "test": "phase_randomization_test"}) == {
        "exploratory": False, "metric": None, "statistic": "mean_difference", "alternative": "greater",
        "n_permutations": 500, "seed": 4}
    # another design records its test's name as the statistic: the config keeps its default
    assert "statistic" not in config_values("randomization_result", {"statistic": "alternating_treatments_test"})
    assert config_values("its_result", {"exploratory": True, "metric": "session_count", "seed": 1, "draws": 9,
                                        "tune": 8, "chains": 1, "covariates_considered": "sleep_hours,hrv_score"}) == {
        "exploratory": True, "metric": "session_count", "seed": 1, "draws": 9, "tune": 8, "chains": 1,
        "covariates": ["sleep_hours", "hrv_score"]}
    assert config_values("its_result", {"not_run": True}) == {"exploratory": False, "metric": None}  # defaults
    assert config_values("sequential_boundaries", {"spending_function": "pocock", "alpha": 0.05, "mode": "x"}) == {
        "exploratory": False, "metric": None, "spending_function": "pocock", "alpha": 0.05}
    assert looks_of("phase ends") is None and looks_of("14,2026-03-01") == [14, "2026-03-01"]


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), "-c", "user.email=ci@example.org", "-c", "user.name=ci", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


def test_the_worktree_holds_the_commit_and_is_removed_afterwards_also_on_failure(tmp_path):
    repo = tmp_path / "project"
    repo.mkdir()
    git(tmp_path, "init", "-q", str(repo))
    (repo / "module.py").write_text("VALUE = 1\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "one")
    first = git(repo, "rev-parse", "HEAD")
    (repo / "module.py").write_text("VALUE = 2\n")  # uncommitted: the worktree holds the commit only
    with code_at(first, tmp_path / "code", repo) as root:
        assert (root / "module.py").read_text() == "VALUE = 1\n"
        assert str(root) in git(repo, "worktree", "list")
    assert not (tmp_path / "code").exists() and str(tmp_path / "code") not in git(repo, "worktree", "list")
    with pytest.raises(RuntimeError, match="boom"), code_at(first, tmp_path / "again", repo):
        raise RuntimeError("boom")
    assert not (tmp_path / "again").exists() and "again" not in git(repo, "worktree", "list")
    with pytest.raises(ReproductionError, match="commit 0{40} is not in the git repository"):
        with code_at("0" * 40, tmp_path / "never", repo):
            pass

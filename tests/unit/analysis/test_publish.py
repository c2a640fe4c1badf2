"""Atomic publication: a reader sees the previous result or the whole new one, never a mix; result.json lands
last; a failure leaves no staging directory behind; NaN never reaches the JSON."""

import json
import math

import pytest

from americano_pipeline.analysis.publish import RESULT_FILE, publish, result_directory, staging_directory, write_json


def test_the_new_files_replace_the_old_ones_with_result_json_last(tmp_path):
    target = result_directory(tmp_path, "its_result", "c" + "p" * 24)
    target.mkdir(parents=True)
    (target / "its.png").write_text("old figure")
    write_json(target / RESULT_FILE, {"run": "old"})
    with staging_directory(target) as staging:
        (staging / "its.png").write_text("new figure")
        write_json(staging / RESULT_FILE, {"run": "new"})
        moved = publish(staging, target)
    assert [path.name for path in moved] == ["its.png", RESULT_FILE]
    assert (target / "its.png").read_text() == "new figure"
    assert json.loads((target / RESULT_FILE).read_text()) == {"run": "new"}
    assert sorted(path.name for path in target.parent.iterdir()) == [target.name]  # no staging left


def test_a_failure_while_staging_leaves_the_previous_result_and_no_staging_directory(tmp_path):
    target = result_directory(tmp_path, "its_result", "c" + "p" * 24)
    target.mkdir(parents=True)
    write_json(target / RESULT_FILE, {"run": "old"})
    with pytest.raises(RuntimeError), staging_directory(target) as staging:
        (staging / "its.png").write_text("half")
        raise RuntimeError("figure failed")
    assert json.loads((target / RESULT_FILE).read_text()) == {"run": "old"}
    assert sorted(path.name for path in target.parent.iterdir()) == [target.name]


def test_exploratory_results_never_replace_the_confirmatory_one(tmp_path):
    confirmatory = result_directory(tmp_path, "its_result", "cp")
    exploratory = result_directory(tmp_path, "its_result", "cp", "study_minutes")
    assert exploratory == confirmatory / "exploratory" / "study_minutes"


def test_nan_is_refused_rather_than_written_as_invalid_json(tmp_path):
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        write_json(tmp_path / RESULT_FILE, {"effect": math.nan})

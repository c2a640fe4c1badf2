"""The quarantine/promote gate on small real cuts (Parquet files in the extract's exact schema): strict mode
rejects and keeps the previous cut, non-strict mode drops the named rows and promotes the rest."""

import pyarrow.parquet as pq
import pytest

from americano_pipeline.checks.gate import gate_cut
from tests.unit.checks.cuts import context_row, write_cut

def current_ids(current_dir) -> list[str]:
    return pq.read_table(current_dir / "context_metadata.parquet").column("id").to_pylist()


@pytest.fixture
def store(tmp_path):
    return tmp_path / "raw", tmp_path / "quarantine", tmp_path / "raw" / "current"


def test_a_valid_cut_is_promoted_and_nothing_is_quarantined(store):
    raw, quarantine, current = store
    outcome = gate_cut(write_cut(raw, "s1", {"context_metadata": [context_row(1, 7.5)]}), "s1", strict=True, quarantine_dir=quarantine,
                       current_dir=current)
    assert outcome.promoted and outcome.quarantined == {}
    assert all(report.passed for report in outcome.reports.values())
    assert current_ids(current) == [f"c{1:024d}"]


def test_strict_mode_quarantines_the_bad_row_and_keeps_the_previous_cut(store):
    raw, quarantine, current = store
    gate_cut(write_cut(raw, "s1", {"context_metadata": [context_row(1, 7.5)]}), "s1", strict=True, quarantine_dir=quarantine,
             current_dir=current)
    files = write_cut(raw, "s2", {"context_metadata": [context_row(2, 8.0), context_row(3, 25.0)]})
    outcome = gate_cut(files, "s2", strict=True, quarantine_dir=quarantine, current_dir=current)
    assert not outcome.promoted
    report = outcome.reports["context_metadata"]
    assert report.failing_rows == [1]
    assert "sleepHours" in report.summary() and "25.0" in report.summary()
    quarantined = pq.read_table(outcome.quarantined["context_metadata"]).to_pylist()
    assert [(row["id"], row["sleepHours"]) for row in quarantined] == [(f"c{3:024d}", 25.0)]
    assert "sleepHours" in quarantined[0]["_violations"]
    assert current_ids(current) == [f"c{1:024d}"]  # the previous good cut is still current


def test_non_strict_mode_drops_the_bad_row_and_promotes_the_rest(store):
    raw, quarantine, current = store
    files = write_cut(raw, "s1", {"context_metadata": [context_row(2, 8.0), context_row(3, 25.0)]})
    outcome = gate_cut(files, "s1", strict=False, quarantine_dir=quarantine, current_dir=current)
    assert outcome.promoted
    assert not outcome.reports["context_metadata"].passed  # the checks still report what the extract held
    assert list(outcome.cut["context_metadata"]["id"]) == [f"c{2:024d}"]
    assert current_ids(current) == [f"c{2:024d}"]
    assert (quarantine / "context_metadata" / "s1.parquet").exists()

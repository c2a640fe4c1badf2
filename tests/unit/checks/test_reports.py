"""A failure report shows a missing value as NULL, whatever its column's type (pandas would say None, NaN, NaT or
<NA>), and keeps every other value as it was."""

from americano_pipeline.checks.reports import read_frame, validate_cut
from americano_pipeline.source.analysis_plan import AnalysisPlan
from tests.unit.checks.cuts import context_row, protocol_row, write_cut

PLAN = AnalysisPlan("phase_randomization_test", "greater", 0.05).to_json()


def _report(tmp_path, table: str, rows: list[dict]):
    files = write_cut(tmp_path, "s1", {table: rows})
    return validate_cut({name: read_frame(f.path) for name, f in files.items()})[table]


def test_null_text_and_timestamp_values_are_reported_as_null(tmp_path):
    report = _report(tmp_path, "experiment_protocols", [
        protocol_row(1, PLAN), {**protocol_row(2, PLAN), "protocolName": None},
        {**protocol_row(3, PLAN), "startDate": None}])
    assert report.summary() == (
        f"experiment_protocols: 2 of 3 rows fail: protocolName not_nullable (e.g. id c{2:024d} value NULL); "
        f"startDate not_nullable (e.g. id c{3:024d} value NULL)")
    assert report.markdown().splitlines()[-2:] == [f"| c{2:024d} | protocolName | NULL | not_nullable |",
                                                   f"| c{3:024d} | startDate | NULL | not_nullable |"]


def test_a_null_integer_beside_a_failing_integer_keeps_both_as_they_are(tmp_path):
    report = _report(tmp_path, "context_metadata", [
        {**context_row(1, 7.0), "energyLevel": None}, {**context_row(2, 7.0), "energyLevel": 11}])
    assert report.summary() == (
        f"context_metadata: 2 of 2 rows fail: mood self_report_complete (e.g. id c{1:024d} value 'context "
        f"c{1:024d}: a SELF_REPORT row without'); energyLevel in_range(1.0, 10.0) (e.g. id c{2:024d} value '11')")
    assert report.violations.loc[report.violations["rule"] == "self_report_complete", "value"].tolist() == [
        f"context c{1:024d}: a SELF_REPORT row without energyLevel"]

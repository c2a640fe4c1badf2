"""The Pandera rules a Prisma-managed database does not enforce, here the registered analysis plan, reported with
the row and the reason."""

from americano_pipeline.checks.reports import read_frame, validate_cut
from americano_pipeline.source.analysis_plan import AnalysisPlan
from tests.unit.checks.cuts import protocol_row, write_cut

PLAN = AnalysisPlan("phase_randomization_test", "greater", 0.05).to_json()


def test_a_protocol_without_a_registered_plan_is_named_with_the_reason(tmp_path):
    files = write_cut(tmp_path, "s1", {"experiment_protocols": [protocol_row(1, PLAN),
                                                                 protocol_row(2, "Randomization test, alpha 0.05")]})
    report = validate_cut({table: read_frame(f.path) for table, f in files.items()})["experiment_protocols"]
    assert report.failing_rows == [1]
    assert report.summary() == (
        "experiment_protocols: 1 of 2 rows fail: analysisPlan registered_analysis_plan (e.g. id "
        f"c{2:024d} value 'not a JSON object')")

"""context_metadata rows of two kinds: a self-report must carry what the user reported, an imported wearable day
must be named by its vendor's id and day, carry no self-reported field, and be its source's only row that day."""

from datetime import date

from americano_pipeline.checks.reports import read_frame, validate_cut
from tests.unit.checks.cuts import context_row, write_cut


def imported(number: int, **fields) -> dict:
    return {**context_row(number, 7.5), "mood": None, "energyLevel": None, "location": None, "source": "OURA",
            "externalId": f"oura-{number}", "localDate": date(2025, 12, 31), **fields}


def violations(tmp_path, rows) -> list[tuple]:
    files = write_cut(tmp_path, "s1", {"context_metadata": rows})
    report = validate_cut({name: read_frame(f.path) for name, f in files.items()})["context_metadata"]
    return sorted(zip(report.violations["id"], report.violations["column"], report.violations["value"]))


def test_valid_self_reports_and_imported_days_pass(tmp_path):
    assert violations(tmp_path, [context_row(1, 7.0), imported(2), imported(3, source="WHOOP")]) == []


def test_each_broken_row_is_named_with_what_it_lacks_or_repeats(tmp_path):
    rows = [{**context_row(1, 7.0), "mood": None, "location": None},
            imported(2, externalId=None, mood="LOW"),
            imported(3, localDate=date(2025, 12, 30)), imported(4, localDate=date(2025, 12, 30))]
    user = "c" + "u" * 24
    assert violations(tmp_path, rows) == [
        (f"c{1:024d}", "mood", f"context c{1:024d}: a SELF_REPORT row without mood, location"),
        (f"c{2:024d}", "externalId", f"context c{2:024d}: OURA row: no externalId; mood = 'LOW' on an imported row"),
        (f"c{3:024d}", "externalId", f"context c{3:024d}: OURA row: another OURA row for user {user} on 2025-12-30"),
        (f"c{4:024d}", "externalId", f"context c{4:024d}: OURA row: another OURA row for user {user} on 2025-12-30"),
    ]

"""Every Pandera rule: one violating row in a copy of the seeded data fails the blocking check, names the
table/column/rule/value, stops everything downstream, and is exactly what lands in quarantine."""

import pyarrow.parquet as pq
import pytest

from americano_pipeline.source.connection import connect
from tests.integration.snapshot_support import check_results, materialize, materialized

pytestmark = pytest.mark.integration

EVENT = "(SELECT min(id) FROM behavioral_events)"
SCORED_EVENT = """(SELECT min(id) FROM behavioral_events WHERE "sessionPerformanceScore" IS NOT NULL)"""
PHASED_EVENT = """(SELECT min(id) FROM behavioral_events WHERE "experimentPhase" IS NOT NULL)"""
CONTEXT = "(SELECT min(id) FROM context_metadata)"
PROTOCOL = "(SELECT min(id) FROM experiment_protocols)"

# (case, SQL that plants one violation, table, column, rule, value as reported, id of the violating row)
CASES = [
    ("day of week out of range",
     ['ALTER TABLE behavioral_events DROP CONSTRAINT "behavioral_events_dayOfWeek_range"',
      f'UPDATE behavioral_events SET "dayOfWeek" = 9 WHERE id = {EVENT}'],
     "behavioral_events", "dayOfWeek", "in_range(0.0, 6.0)", "9", EVENT),
    ("hour out of range",
     ['ALTER TABLE behavioral_events DROP CONSTRAINT "behavioral_events_timeOfDay_range"',
      f'UPDATE behavioral_events SET "timeOfDay" = 24 WHERE id = {EVENT}'],
     "behavioral_events", "timeOfDay", "in_range(0.0, 23.0)", "24", EVENT),
    ("performance score out of range",
     ['ALTER TABLE behavioral_events DROP CONSTRAINT "behavioral_events_sessionPerformanceScore_range"',
      f'UPDATE behavioral_events SET "sessionPerformanceScore" = 101 WHERE id = {SCORED_EVENT}'],
     "behavioral_events", "sessionPerformanceScore", "in_range(0.0, 100.0)", "101", SCORED_EVENT),
    ("energy out of range",
     ['ALTER TABLE context_metadata DROP CONSTRAINT "context_metadata_energyLevel_range"',
      f'UPDATE context_metadata SET "energyLevel" = 11 WHERE id = {CONTEXT}'],
     "context_metadata", "energyLevel", "in_range(1.0, 10.0)", "11", CONTEXT),
    ("sleep out of range",
     ['ALTER TABLE context_metadata DROP CONSTRAINT "context_metadata_sleepHours_range"',
      f'UPDATE context_metadata SET "sleepHours" = 30.5 WHERE id = {CONTEXT}'],
     "context_metadata", "sleepHours", "in_range(0.0, 24.0)", "30.5", CONTEXT),
    ("id is not a CUID",
     ['ALTER TABLE behavioral_events DROP CONSTRAINT "behavioral_events_id_cuid"',
      f"UPDATE behavioral_events SET id = 'EVT-0001' WHERE id = {EVENT}"],
     "behavioral_events", "id", "str_matches", "EVT-0001", "'EVT-0001'"),
    ("unknown enum value",
     ['ALTER TABLE behavioral_events ALTER COLUMN "eventType" TYPE text',
      f"""UPDATE behavioral_events SET "eventType" = 'CARD_FLIPPED' WHERE id = {EVENT}"""],
     "behavioral_events", "eventType", "isin", "CARD_FLIPPED", EVENT),
    ("required field missing",
     ['ALTER TABLE behavioral_events ALTER COLUMN "userId" DROP NOT NULL',
      f'UPDATE behavioral_events SET "userId" = NULL WHERE id = {EVENT}'],
     "behavioral_events", "userId", "not_nullable", "NULL", EVENT),
    ("timestamp in the future",
     [f"""UPDATE context_metadata SET "timestamp" = now() + interval '30 days' WHERE id = {CONTEXT}"""],
     "context_metadata", "timestamp", "not_in_future", "", CONTEXT),
    ("protocol ends before it starts",
     ['ALTER TABLE experiment_protocols DROP CONSTRAINT "experiment_protocols_dates"',
      f"""UPDATE experiment_protocols SET "endDate" = "startDate" - interval '1 day' WHERE id = {PROTOCOL}"""],
     "experiment_protocols", "endDate", "endDate_not_before_startDate", "", PROTOCOL),
    ("event phase does not exist at its time",
     [f"""UPDATE behavioral_events SET "experimentPhase" = 'baseline_99' WHERE id = {PHASED_EVENT}"""],
     "behavioral_events", "experimentPhase", "experiment_phase_exists_at_event_time", "baseline_99", PHASED_EVENT),
    ("context reference to a missing row",
     ['ALTER TABLE behavioral_events DROP CONSTRAINT "behavioral_events_contextMetadataId_fkey"',
      f"""UPDATE behavioral_events SET "contextMetadataId" = 'c' || repeat('z', 24) WHERE id = {EVENT}"""],
     "behavioral_events", "contextMetadataId", "references_context_metadata", "czzzzzzzzzzzzzzzzzzzzzzzz", EVENT),
    ("invalid JSON",
     ['ALTER TABLE behavioral_events ALTER COLUMN "eventData" TYPE text',
      f"""UPDATE behavioral_events SET "eventData" = '{{"sessionId": ' WHERE id = {EVENT}"""],
     "behavioral_events", "eventData", "valid_json", '{"sessionId": ', EVENT),
]


def _plant(url, statements, id_expression):
    with connect(url) as conn:
        target = conn.execute(f"SELECT {id_expression}").fetchone()[0]
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    return target


@pytest.mark.parametrize("case, statements, table, column, rule, value, row", CASES, ids=[c[0] for c in CASES])
def test_each_rule_fails_its_check_names_it_blocks_downstream_and_quarantines_the_row(
        source_db, data_dir, case, statements, table, column, rule, value, row):
    bad_id = _plant(source_db, statements, row)
    result = materialize(source_db)
    assert not result.success
    checks = check_results(result)
    failed = {t for t, e in checks.items() if not e.passed}
    assert failed == {table}
    description = checks[table].description
    assert f"{table}:" in description and column in description and rule in description and value in description
    assert bad_id in description
    metadata = checks[table].metadata
    assert metadata["failing_rows"].value == 1
    assert any(k.startswith(f"{column}: {rule}") for k in metadata["failures_by_column_and_rule"].value)
    assert "downstream_of_events" not in materialized(result)
    quarantine = pq.read_table(metadata["quarantine"].value)
    assert quarantine.column("id").to_pylist() == [bad_id]
    assert rule in quarantine.column("_violations")[0].as_py()
    assert not (data_dir / "raw" / "current").exists()  # nothing was promoted


def test_duplicate_ids_are_reported_and_both_copies_quarantined(source_db, data_dir):
    with connect(source_db) as conn:
        conn.execute("ALTER TABLE behavioral_events DROP CONSTRAINT behavioral_events_pkey")
        duplicate = conn.execute(
            f"INSERT INTO behavioral_events SELECT * FROM behavioral_events WHERE id = {EVENT} RETURNING id").fetchone()[0]
        conn.commit()
    result = materialize(source_db)
    check = check_results(result)["behavioral_events"]
    assert not check.passed and "id unique" in check.description
    assert pq.read_table(check.metadata["quarantine"].value).column("id").to_pylist() == [duplicate, duplicate]


def test_overlapping_phases_name_both_phases(source_db, data_dir):
    with connect(source_db) as conn:
        conn.execute('ALTER TABLE phase_assignments DROP CONSTRAINT "phase_assignments_dates"')
        protocol, second, first_label, second_label = conn.execute(
            """SELECT p1."protocolId", p2.id, p1."phaseLabel", p2."phaseLabel" FROM phase_assignments p1
               JOIN phase_assignments p2 ON p1."protocolId" = p2."protocolId"
                AND p2."startDate" = p1."endDate" + interval '1 day'
               ORDER BY p1.id LIMIT 1""").fetchone()
        conn.execute("""UPDATE phase_assignments SET "startDate" = "startDate" - interval '1 day' WHERE id = %s""",
                     (second,))
        conn.commit()
    result = materialize(source_db)
    check = check_results(result)["phase_assignments"]
    assert not check.passed
    report = check.metadata["report"].value
    assert f"protocol {protocol}: {second_label} overlaps {first_label}" in report
    assert f"protocol {protocol}: {first_label} overlaps {second_label}" in report
    assert len(pq.read_table(check.metadata["quarantine"].value)) == 2


ABAB_PROTOCOL = """(SELECT min(id) FROM experiment_protocols WHERE "minPhaseLength" = 5)"""
ROGUE_PHASE = f"""
    INSERT INTO phase_assignments
    SELECT 'c' || repeat('r', 24), "protocolId", 'baseline_0', "phaseType", "startDate" - interval '10 days',
           "startDate" - interval '11 days', "plannedDuration", 1, "interventionParams"
    FROM phase_assignments WHERE "protocolId" = {ABAB_PROTOCOL} AND "phaseLabel" = 'baseline_1'"""
# (case, SQL that plants it in a protocol with minPhaseLength 5, the violating phase, [(column, rule, explanation)])
PHASE_CASES = [
    ("a rogue phase of 0 days before its protocol",
     ['ALTER TABLE phase_assignments DROP CONSTRAINT "phase_assignments_dates"', ROGUE_PHASE], "baseline_0",
     [("startDate", "phase_within_protocol_dates", "baseline_0 starts before the protocol"),
      ("endDate", "phase_meets_min_phase_length", "baseline_0 lasts 0 days (min 5)")]),
    ("a phase past its protocol's end",
     [f"""UPDATE phase_assignments SET "endDate" = "endDate" + interval '2 days'
          WHERE "protocolId" = {ABAB_PROTOCOL} AND "phaseLabel" = 'intervention_2'"""], "intervention_2",
     [("startDate", "phase_within_protocol_dates", "intervention_2 runs past the protocol's end")]),
]


@pytest.mark.parametrize("case, statements, label, problems", PHASE_CASES, ids=[c[0] for c in PHASE_CASES])
def test_a_phase_outside_its_protocol_or_too_short_is_named_by_protocol_and_label(
        source_db, data_dir, case, statements, label, problems):
    with connect(source_db) as conn:
        for statement in statements:
            conn.execute(statement)
        protocol, bad_id = conn.execute(f"""SELECT "protocolId", id FROM phase_assignments
                                            WHERE "protocolId" = {ABAB_PROTOCOL} AND "phaseLabel" = %s""",
                                        (label,)).fetchone()
        conn.commit()
    result = materialize(source_db)
    checks = check_results(result)
    assert {table for table, check in checks.items() if not check.passed} == {"phase_assignments"}
    report = checks["phase_assignments"].metadata["report"].value
    for column, rule, explanation in problems:
        assert f"| {bad_id} | {column} | protocol {protocol}: {explanation} | {rule} |" in report
    assert pq.read_table(checks["phase_assignments"].metadata["quarantine"].value).column("id").to_pylist() == [bad_id]
    assert not (data_dir / "raw" / "current").exists()  # the warehouse never sees the phase


def test_non_strict_mode_quarantines_warns_and_promotes_the_valid_rows(source_db, data_dir):
    with connect(source_db) as conn:
        total = conn.execute("SELECT count(*) FROM behavioral_events").fetchone()[0]
    bad_id = _plant(source_db, CASES[0][1], EVENT)
    result = materialize(source_db, strict=False)
    assert result.success
    check = check_results(result)["behavioral_events"]
    assert not check.passed and check.severity.value == "WARN" and check.metadata["failing_rows"].value == 1
    assert "downstream_of_events" in materialized(result)
    current = pq.read_table(data_dir / "raw" / "current" / "behavioral_events.parquet")
    assert len(current) == total - 1 and bad_id not in set(current.column("id").to_pylist())
    assert pq.read_table(check.metadata["quarantine"].value).column("id").to_pylist() == [bad_id]

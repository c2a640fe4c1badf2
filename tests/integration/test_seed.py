"""Synthetic data: deterministic, refuses to duplicate, and agrees with the ground truth it reports."""

import json
from datetime import date

import pytest

from americano_pipeline.source.connection import connect
from americano_pipeline.demo.protocols import DESIGNS
from americano_pipeline.demo.seeding import NotEmpty, seed
from americano_pipeline.source.schema import row_counts
from americano_pipeline.demo.synthetic import SeedConfig
from americano_pipeline.source.schema import TABLES
from tests.support import seeded_database

pytestmark = pytest.mark.integration

CONFIG = SeedConfig(users=2, days=290, events_per_day=30, seed=7, end_date=date(2026, 10, 31))


def _table_hashes(url):
    with connect(url) as conn:
        return {t: conn.execute(f'SELECT md5(string_agg(t::text, \'|\' ORDER BY t.id)) FROM "{t}" t').fetchone()[0]
                for t in TABLES if t != "analysis_runs"}


@pytest.fixture(scope="module")
def seeded(pg_cluster, tmp_path_factory):
    """One seeded database shared by the read-only tests of this module."""
    truth_path = tmp_path_factory.mktemp("truth") / "ground_truth.json"
    url, report = seeded_database(pg_cluster, "seeded_module", CONFIG, truth_path)
    return url, report, json.loads(truth_path.read_text())


def test_same_seed_gives_identical_rows_and_another_seed_does_not(seeded, make_database):
    url, _, _ = seeded
    twin = make_database()
    other = make_database()
    with connect(twin) as conn:
        seed(conn, CONFIG, ground_truth_path=_scratch(twin))
    with connect(other) as conn:
        seed(conn, SeedConfig(users=2, days=290, seed=8, end_date=date(2026, 10, 31)),
             ground_truth_path=_scratch(other))
    assert _table_hashes(twin) == _table_hashes(url)
    differing = {t for t, h in _table_hashes(other).items() if h != _table_hashes(url)[t]}
    assert differing == {"experiment_protocols", "phase_assignments", "context_metadata", "behavioral_events"}


def _scratch(url):
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp()) / "ground_truth.json"


def test_counts_and_rate(seeded):
    _, report, truth = seeded
    counts = report.counts
    assert counts["experiment_protocols"] == 2 * len(DESIGNS)
    assert counts["phase_assignments"] == sum(len(p["phases"]) for p in truth["protocols"]) > 4 * len(DESIGNS)
    assert counts["context_metadata"] == 2 * 290
    assert 0.8 * 2 * 290 * 30 < counts["behavioral_events"] < 1.2 * 2 * 290 * 30
    assert counts["analysis_runs"] == 0
    assert len(truth["protocols"]) == 2 * len(DESIGNS)


def test_the_ground_truth_names_the_planted_context_relations_and_the_wearing_users(seeded):
    url, _, truth = seeded
    with connect(url) as conn:
        users = [row[0] for row in conn.execute('SELECT DISTINCT "userId" FROM experiment_protocols')]
    context = truth["context"]
    assert sorted(context["wearableUsers"]) == sorted(users)  # both users: fewer than WEARABLE_USERS
    assert {(r["covariate"], r["outcome"]) for r in context["plantedRelations"]} == {
        ("sleep_hours", "engagement_score"), ("sleep_hours", "mean_performance")}
    assert "steps" in context["nullCovariates"]


def test_refuses_to_seed_twice_without_reset_and_reset_replaces(seeded, make_database):
    url = make_database()
    with connect(url) as conn:
        first = seed(conn, CONFIG, ground_truth_path=_scratch(url))
        with pytest.raises(NotEmpty, match="--reset"):
            seed(conn, CONFIG, ground_truth_path=_scratch(url))
        again = seed(conn, CONFIG, reset=True, ground_truth_path=_scratch(url))
        assert again.counts == first.counts == row_counts(conn)


def test_phases_in_the_database_are_the_ground_truth(seeded):
    url, _, truth = seeded
    with connect(url) as conn:
        for protocol in truth["protocols"]:
            rows = conn.execute(
                """SELECT "phaseLabel", "phaseType"::text, "startDate"::date, "endDate"::date, "plannedDuration",
                          "randomizationSeed"
                   FROM phase_assignments WHERE "protocolId" = %s ORDER BY "startDate", "phaseLabel" """,
                (protocol["protocolId"],)).fetchall()
            expected = [(p["label"], p["phaseType"], date.fromisoformat(p["startDate"]),
                         date.fromisoformat(p["endDate"]), p["days"], protocol["randomizationSeed"])
                        for p in sorted(protocol["phases"], key=lambda p: (p["startDate"], p["label"]))]
            assert rows == expected
            minimum, design_days = conn.execute(
                """SELECT "minPhaseLength", "sampleSizeTarget" FROM experiment_protocols WHERE id = %s""",
                (protocol["protocolId"],)).fetchone()
            assert minimum == protocol["minPhaseLength"]
            primary = protocol["primaryOutcome"]
            series = [p for p in protocol["phases"]  # a multiple baseline: its primary tier's phases
                      if p["interventionParams"].get("outcome", primary) == primary]
            assert all(p["days"] >= minimum for p in series)
            assert sum(p["days"] for p in series) == design_days
            for earlier, later in zip(series, series[1:]):
                assert (date.fromisoformat(later["startDate"]) - date.fromisoformat(earlier["endDate"])).days == 1


_DAILY_METRIC = {
    "engagement_score": """avg(("eventData"->>'engagementScore')::float)""",
    "study_minutes": """sum(("eventData"->>'durationMinutes')::float)""",
    "mean_performance": """avg("sessionPerformanceScore")""",
}


def _condition_means(conn, protocol):
    """Daily means of the primary outcome on BASELINE and INTERVENTION_A days (a multiple baseline's primary tier)."""
    metric = _DAILY_METRIC[protocol["primaryOutcome"]]
    event_filter = "" if protocol["primaryOutcome"] == "mean_performance" else """AND "eventType" = 'SESSION_ENDED'"""
    rows = conn.execute(
        f"""WITH daily AS (
                SELECT "timestamp"::date AS day, {metric} AS value FROM behavioral_events
                WHERE "userId" = %s {event_filter} GROUP BY 1)
            SELECT p."phaseType"::text, avg(d.value) FROM daily d
            JOIN phase_assignments p ON d.day BETWEEN p."startDate"::date AND p."endDate"::date
            WHERE p."protocolId" = %s AND coalesce(p."interventionParams"->>'outcome', %s) = %s GROUP BY 1""",
        (protocol["userId"], protocol["protocolId"], protocol["primaryOutcome"], protocol["primaryOutcome"])).fetchall()
    means = dict(rows)
    return means["BASELINE"], means["INTERVENTION_A"]


def test_true_effects_are_visible_in_raw_daily_means(seeded):
    url, _, truth = seeded
    with connect(url) as conn:
        for protocol in truth["protocols"]:
            baseline, treatment = _condition_means(conn, protocol)
            effect = protocol["trueEffect"]
            if effect:  # the planted direction, clearly: more than a third of the effect, less than double
                assert effect / 3 < treatment - baseline < 2 * effect, protocol["key"]
            else:
                assert abs(treatment - baseline) < 4, protocol["key"]


def test_events_reference_their_context_and_phase(seeded):
    url, _, _ = seeded
    with connect(url) as conn:
        orphans = conn.execute(
            """SELECT count(*) FROM behavioral_events e LEFT JOIN context_metadata c ON c.id = e."contextMetadataId"
               WHERE c.id IS NULL OR c."timestamp"::date <> e."timestamp"::date""").fetchone()[0]
        assert orphans == 0
        unphased = conn.execute(
            """SELECT count(*) FROM behavioral_events e WHERE e."experimentPhase" IS NOT NULL AND NOT EXISTS (
                   SELECT 1 FROM phase_assignments p JOIN experiment_protocols r ON r.id = p."protocolId"
                   WHERE r."userId" = e."userId" AND p."phaseLabel" = e."experimentPhase"
                     AND e."timestamp"::date BETWEEN p."startDate"::date AND p."endDate"::date)""").fetchone()[0]
        assert unphased == 0
        weekday_ok = conn.execute(
            """SELECT bool_and("dayOfWeek" = extract(dow FROM "timestamp" AT TIME ZONE 'UTC')
                               AND "timeOfDay" = extract(hour FROM "timestamp" AT TIME ZONE 'UTC'))
               FROM behavioral_events""").fetchone()[0]
        assert weekday_ok

"""The wearable imports end to end, against a seeded copy of the source database: one day of Oura and WHOOP data
synced from the stand-in server by ``context/wearable_days``, checked, and upserted by ``context/imported_context``
(again: unchanged; an impossible day: blocked, nothing written; a failing vendor: the step fails after landing the
other vendor's day); and ``americano context import-apple-health`` on an export written from known days."""

from contextlib import contextmanager
from datetime import date, timedelta

import httpx
import pandas as pd
import pytest

import dagster as dg
from americano_pipeline import settings
from americano_pipeline.assets.context import context_assets, context_checks
from americano_pipeline.cli import main
from americano_pipeline.context import landing, oura, whoop
from americano_pipeline.context.oauth import TokenStore
from americano_pipeline.demo.apple_health_export import write_export
from americano_pipeline.demo.wearable_fixtures import cycle_id_for, oura_documents, whoop_documents
from americano_pipeline.resources.postgres import PostgresResource
from americano_pipeline.source.connection import READER_ROLE, WRITER_ROLE, connect
from tests.stand_in.wearables import CLIENT_ID, CLIENT_SECRET, WHOOP_PATHS, WearableStandIn, authorize, running
from tests.support import login_url

pytestmark = pytest.mark.integration

DAY = date(2026, 10, 20)
PARTITION = DAY.isoformat()
SYNCED = ['source::text', '"localDate"', '"externalId"', '"sleepHours"', '"sleepQuality"', '"hrvScore"',
          '"restingHeartRate"', '"activityStrain"', "steps", "mood::text", '"energyLevel"', "location::text"]


def table_of_days(sleep_on_day: float = 7.5) -> pd.DataFrame:
    return pd.DataFrame({"date": pd.date_range(DAY - timedelta(days=2), periods=4),
                         "sleep_hours": [6.9, 7.2, sleep_on_day, 8.1], "hrv_rmssd": [51.0, 49.4, 62.6, 58.0],
                         "resting_heart_rate": [55, 54, 52, 57], "strain": [9.5, 12.25, 14.5, 8.0],
                         "steps": [7000, 8200, 11000, 6400], "sleep_score": [70, 80, 91, 65]})


@pytest.fixture
def user(source_db) -> str:
    with connect(source_db) as conn:
        return conn.execute('SELECT min("userId") FROM context_metadata').fetchone()[0]


@pytest.fixture
def postgres(pg_cluster, source_db) -> PostgresResource:
    return PostgresResource(url=login_url(pg_cluster, source_db, READER_ROLE),
                            writer_url=login_url(pg_cluster, source_db, WRITER_ROLE))


@contextmanager
def served(monkeypatch, user: str, days: pd.DataFrame):
    """Serve ``days`` as ``user``'s Oura and WHOOP data, configure the sync for the stand-in and authorize ``user``
    at both vendors (tokens in the data directory's token store); yields the stand-in."""
    stand_in = WearableStandIn(oura=oura_documents(days, user_id=user, timezone_name="Europe/Berlin"),
                               whoop=whoop_documents(days, user_id=user, timezone_name="Europe/Berlin"))
    with running(stand_in) as base_url:
        for name, value in {"ENABLE_WEARABLES_SYNC": "true", "OURA_CLIENT_ID": CLIENT_ID,
                            "OURA_CLIENT_SECRET": CLIENT_SECRET, "WHOOP_CLIENT_ID": CLIENT_ID,
                            "WHOOP_CLIENT_SECRET": CLIENT_SECRET, "AMERICANO_OURA_BASE_URL": base_url,
                            "AMERICANO_WHOOP_BASE_URL": base_url}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("AMERICANO_WEARABLE_TOKENS_DIR", raising=False)
        store = TokenStore(settings.wearable_tokens_dir())
        with httpx.Client() as http:
            for vendor in (oura, whoop):
                authorize(stand_in, vendor.oauth_client(vendor.config_from_env()), store, user, http)
        yield stand_in


def sync(postgres: PostgresResource, instance, selection=None) -> dg.ExecuteInProcessResult:
    return dg.materialize([*context_assets, *context_checks], partition_key=PARTITION, instance=instance,
                          resources={"postgres": postgres}, selection=selection, raise_on_error=False)


def metadata(result: dg.ExecuteInProcessResult, name: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events()
               if e.materialization.asset_key == dg.AssetKey(["context", name])]
    assert event.materialization.partition == PARTITION
    return {key: value.value for key, value in event.materialization.metadata.items()}


def imported_rows(url: str, user: str) -> list[tuple]:
    with connect(url) as conn:
        return conn.execute(f"SELECT id, {', '.join(SYNCED)} FROM context_metadata WHERE \"userId\" = %s AND "
                            "source <> 'SELF_REPORT' ORDER BY source, \"localDate\"", [user]).fetchall()


def test_a_day_is_synced_checked_and_upserted_and_a_second_run_changes_nothing(source_db, postgres, user, data_dir,
                                                                              monkeypatch):
    with served(monkeypatch, user, table_of_days()), dg.instance_for_test() as instance:
        first = sync(postgres, instance)
        second = sync(postgres, instance)

    assert first.success and second.success
    landed = metadata(first, "wearable_days")
    assert landed["path"] == str(data_dir / "wearables" / "days" / f"{PARTITION}.parquet")
    assert {key: landed[key] for key in ("rows", "rows_oura", "rows_whoop", "oura_users", "oura_failed", "oura_pages",
                                         "oura_records", "whoop_users", "whoop_days", "whoop_retries", "failures",
                                         "not_configured")} == {
        "rows": 2, "rows_oura": 1, "rows_whoop": 1, "oura_users": 1, "oura_failed": 0, "oura_pages": 3,
        "oura_records": 6, "whoop_users": 1, "whoop_days": 1, "whoop_retries": 0, "failures": 0,
        "not_configured": "none"}
    [check] = first.get_asset_check_evaluations()
    assert (check.check_name, check.passed, check.partition) == ("wearable_days_are_possible", True, PARTITION)
    assert {k: v.value for k, v in check.metadata.items() if k != "path"} == {"rows": 2, "problems": 0}
    assert {k: metadata(first, "imported_context")[k] for k in ("rows", "inserted", "updated", "unchanged")} == \
        {"rows": 2, "inserted": 2, "updated": 0, "unchanged": 0}
    assert {k: metadata(second, "imported_context")[k] for k in ("inserted", "updated", "unchanged")} == \
        {"inserted": 0, "updated": 0, "unchanged": 2}

    rows = imported_rows(source_db, user)
    ring_day, band_day = (row[1:] for row in rows)
    assert ring_day[:2] == ("OURA", DAY) and ring_day[3] == pytest.approx(7.5, abs=0.5 / 3600)
    assert ring_day[4:] == (10, 63, 52, None, 11000, None, None, None)
    assert band_day[:3] == ("WHOOP", DAY, str(cycle_id_for(user, DAY)))
    assert band_day[3] == pytest.approx(7.5) and band_day[4:] == (10, 63, 52, 14.5, None, None, None, None)


def test_an_impossible_day_is_blocked_by_the_check_naming_the_row_and_nothing_is_written(source_db, postgres, user,
                                                                                       data_dir, monkeypatch):
    with served(monkeypatch, user, table_of_days(sleep_on_day=25.0)), dg.instance_for_test() as instance:
        result = sync(postgres, instance)

    assert not result.success
    [check] = result.get_asset_check_evaluations()
    assert (check.passed, check.severity, check.partition) == (False, dg.AssetCheckSeverity.ERROR, PARTITION)
    ring_id = oura_documents(table_of_days(), user_id=user)["daily_sleep"][2]["id"]
    row = f"OURA day {PARTITION} of user {user} (external id {ring_id})"
    # (WHOOP dates a cycle by the end of its sleep: a 25 h sleep from the evening before ends on the next day, so the
    # stand-in's WHOOP day is not this partition's.)
    assert check.metadata["report"].value == (
        f"| row | problem |\n|---|---|\n| {row} | sleep_hours = 25.0 is outside [0, 24] |")
    assert check.description == (f"1 problem in {data_dir}/wearables/days/{PARTITION}.parquet, nothing imported; "
                                 f"the first: {row}: sleep_hours = 25.0 is outside [0, 24]")
    materialized = {e.materialization.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert materialized == {"wearable_days"}  # imported_context did not run
    assert imported_rows(source_db, user) == []


def test_a_failing_vendor_fails_the_sync_after_landing_the_other_vendors_day(source_db, postgres, user, data_dir,
                                                                            monkeypatch):
    with served(monkeypatch, user, table_of_days()) as stand_in, dg.instance_for_test() as instance:
        stand_in.fail(WHOOP_PATHS["cycle"], status=401, times=None)  # refused even after a refresh
        failed = sync(postgres, instance)
        after_failure = imported_rows(source_db, user)
        alone = sync(postgres, instance, selection=["context/imported_context"])

    assert not failed.success
    [failure] = failed.get_step_failure_events()
    message = failure.step_failure_data.user_failure_data.description
    assert message.startswith(f"the wearable sync of {PARTITION} is incomplete (1 failure); the 1 day(s) fetched are "
                              f"landed in {data_dir}/wearables/days/{PARTITION}.parquet, a re-run fetches the whole "
                              "day again:\n")
    assert message.endswith(f"- WHOOP user '{user}': WHOOP /developer/v2/cycle page 1: HTTP 401 Unauthorized (the "
                            "access token was refused even after a refresh)")
    assert {k: metadata(failed, "wearable_days")[k] for k in ("rows", "rows_oura", "whoop_failed", "failures")} == \
        {"rows": 1, "rows_oura": 1, "whoop_failed": 1, "failures": 1}
    assert [day.source for day in landing.days_of(landing.read_table(landing.day_path(DAY)))] == ["OURA"]
    assert after_failure == []  # the import did not run in the failed run

    # Run alone for the day, the import writes the landed day (after checking the file itself).
    assert alone.success and metadata(alone, "imported_context")["inserted"] == 1
    assert [row[1] for row in imported_rows(source_db, user)] == ["OURA"]


def test_the_code_locations_job_with_the_flag_off_fails_naming_it_and_lands_nothing(postgres, data_dir,
                                                                                    monkeypatch):
    from americano_pipeline.definitions import defs

    monkeypatch.setenv("ENABLE_WEARABLES_SYNC", "false")
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("wearable_sync").execute_in_process(
            partition_key=PARTITION, instance=instance, resources={"postgres": postgres}, raise_on_error=False)

    assert [event.step_key for event in result.get_step_failure_events()] == ["context__wearable_days"]
    assert result.get_step_failure_events()[0].step_failure_data.user_failure_data.description.startswith(
        "ENABLE_WEARABLES_SYNC is not set to true, so the Oura and WHOOP APIs are not called")
    assert not landing.day_path(DAY).exists()


# --- americano context import-apple-health -----------------------------------------------------------------------

@pytest.fixture
def writer_environment(pg_cluster, source_db, monkeypatch):
    """The CLI pointed at the seeded copy: its read-only and writer logins, as on an external server."""
    monkeypatch.setenv("AMERICANO_DATABASE_URL", login_url(pg_cluster, source_db, READER_ROLE))
    monkeypatch.setenv("AMERICANO_WRITER_DATABASE_URL", login_url(pg_cluster, source_db, WRITER_ROLE))


def export_days(hrv_on_third_day: float = 44.0) -> pd.DataFrame:
    return pd.DataFrame({"date": pd.date_range(DAY, periods=4), "sleep_hours": [7.0, 6.5, 8.25, 7.2],
                         "hrv_sdnn": [40.0, 52.0, hrv_on_third_day, 45.0],
                         "resting_heart_rate": [55.0, 56.0, 57.0, 58.0], "steps": [8000.0, 9000.0, 10000.0, 11000.0]})


def test_an_export_is_imported_once_and_a_reimport_changes_nothing(source_db, user, writer_environment, tmp_path,
                                                                   capsys):
    export = write_export(tmp_path / "export.zip", export_days(), tz="Europe/Berlin", seed=3)
    command = ["context", "import-apple-health", "--user", user, "--timezone", "Europe/Berlin", str(export)]

    assert main(command) == 0
    first = " ".join(capsys.readouterr().out.split())  # lines are wrapped at 120 columns
    assert main(command) == 0
    second = " ".join(capsys.readouterr().out.split())

    assert first.startswith(f"{export}:apple_health_export/export.xml: ") and "; used " in first
    assert first.endswith(f" 4 days of user {user}, {DAY}..{DAY + timedelta(days=3)}: 4 inserted, 0 updated, "
                          "0 unchanged (context_metadata, source APPLE_HEALTH)")
    assert second.endswith(": 0 inserted, 0 updated, 4 unchanged (context_metadata, source APPLE_HEALTH)")
    rows = [row[1:] for row in imported_rows(source_db, user)]
    assert [(row[0], row[1], row[2]) for row in rows] == [("APPLE_HEALTH", DAY + timedelta(days=i),
                                                           str(DAY + timedelta(days=i))) for i in range(4)]
    assert [(row[3], row[5], row[6], row[8]) for row in rows] == [(7.0, 40, 55, 8000), (6.5, 52, 56, 9000),
                                                                  (8.25, 44, 57, 10000), (7.2, 45, 58, 11000)]


def test_an_export_with_an_impossible_value_is_refused_whole_naming_the_row(source_db, user, writer_environment,
                                                                            tmp_path, capsys):
    export = write_export(tmp_path / "export.zip", export_days(hrv_on_third_day=0.0), tz="Europe/Berlin", seed=3)

    code = main(["context", "import-apple-health", "--user", user, "--timezone", "Europe/Berlin", str(export)])

    third = DAY + timedelta(days=2)
    assert code == 1
    assert capsys.readouterr().err.splitlines() == [
        f"americano context import-apple-health: {export}: 1 problem, nothing written:",
        f"  APPLE_HEALTH day {third} of user {user} (external id {third}): hrv_score = 0 is outside [1, 300]"]
    assert imported_rows(source_db, user) == []

"""`americano prepare` on a real database: it seeds the empty study, writes the wearing user's fixtures and imports
the Apple Health export into ``context_metadata`` as the device measured the days; a second prepare changes nothing,
and a ground truth written before the wearables existed gains them without a reseed."""

import json
import re

import pandas as pd
import pytest

from americano_pipeline.commands.seed import prepare
from americano_pipeline.source.connection import READER_ROLE, WRITER_ROLE, connect
from tests.support import login_url

pytestmark = pytest.mark.integration

IMPORTED = re.compile(r"^(\d+) days of user (\w+), \S+: (\d+) inserted, (\d+) updated, (\d+) unchanged"
                      r"\s+\(context_metadata, source APPLE_HEALTH\)$", re.M)  # wrapped at 120 columns


@pytest.fixture
def study(pg_cluster, make_database, tmp_path, monkeypatch):
    """An empty database on the test cluster, configured as the external server prepare uses, and a private data
    directory; returns (database URL, data directory)."""
    url = make_database()
    data = tmp_path / "data"
    for name, value in {"AMERICANO_DATA_DIR": str(data), "AMERICANO_TIMEZONE": "UTC",
                        "AMERICANO_DATABASE_URL": login_url(pg_cluster, url, READER_ROLE),
                        "AMERICANO_ADMIN_DATABASE_URL": url,
                        "AMERICANO_WRITER_DATABASE_URL": login_url(pg_cluster, url, WRITER_ROLE)}.items():
        monkeypatch.setenv(name, value)
    return url, data


def _imported(url: str) -> list[tuple]:
    with connect(url) as conn:
        return conn.execute("""SELECT id, "userId", "localDate", "externalId", "sleepHours", "hrvScore",
                                      "restingHeartRate", steps, "timestamp" FROM context_metadata
                               WHERE source = 'APPLE_HEALTH' ORDER BY "localDate" """).fetchall()


def _prepared(capsys) -> tuple[int, str, int, int, int]:
    prepare()
    [(days, user, inserted, updated, unchanged)] = IMPORTED.findall(capsys.readouterr().out)
    return int(days), user, int(inserted), int(updated), int(unchanged)


def test_prepare_imports_the_export_as_measured_and_a_second_prepare_changes_nothing(study, capsys):
    url, data = study
    truth_path = data / "demo" / "ground_truth.json"

    days, user, *first = _prepared(capsys)
    rows = _imported(url)
    recorded = json.loads(truth_path.read_text())

    assert recorded["context"]["wearableUsers"] == [user] and days == recorded["days"] == 300
    assert first == [300, 0, 0]
    truth = pd.read_csv(data / "demo" / "wearables" / user / "days.csv", parse_dates=["date"])
    assert [row[2] for row in rows] == list(truth["date"].dt.date)
    assert {row[1] for row in rows} == {user} and [row[3] for row in rows] == [row[2].isoformat() for row in rows]
    assert max(abs(row[4] - hours) for row, hours in zip(rows, truth["sleep_hours"])) <= 0.005 + 0.5 / 3600
    assert [row[7] for row in rows] == truth["steps"].astype(int).tolist()
    assert [(row[5], row[6]) for row in rows] == list(zip(truth["hrv_sdnn"].astype(int),
                                                          truth["resting_heart_rate"].astype(int)))

    assert _prepared(capsys) == (300, user, 0, 0, 300)
    assert _imported(url) == rows  # not even an id or a timestamp changed

    truth_path.write_text(json.dumps({k: v for k, v in recorded.items() if k != "context"}))  # seeded before
    assert _prepared(capsys) == (300, user, 0, 0, 300)
    assert json.loads(truth_path.read_text()) == recorded
    with connect(url) as conn:
        assert conn.execute("SELECT source::text, count(*) FROM context_metadata GROUP BY 1 ORDER BY 1").fetchall() \
            == [("APPLE_HEALTH", 300), ("SELF_REPORT", 300)]

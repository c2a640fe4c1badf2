"""`americano protocol new` registers a protocol file in the real source database, as the CLI runs it: the rows
read back are the design's record (docs/DESIGNS.md), pass the snapshot's checks once extracted, and a broken file
is refused with every field named and nothing written."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from americano_pipeline.automation.sensors import DESIGNS_SQL, unreachable_alpha
from americano_pipeline.checks.reports import read_frame, validate_cut
from americano_pipeline.source import extract as source_extract
from americano_pipeline.source.connection import READER_ROLE, connect
from americano_pipeline.source.window import ALL_HISTORY, ExtractWindow
from tests.support import login_url

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MB_EXAMPLE = "docs/protocols/multiple_baseline_goal_setting.yaml"
AMERICANO = [sys.executable, "-m", "americano_pipeline.cli"]


@pytest.fixture
def database(make_database, tmp_path):
    """An empty database of the session cluster and the environment that points the CLI at it (as its owner)."""
    url = make_database()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMERICANO_")}
    env.update(AMERICANO_DATABASE_URL=url, AMERICANO_ADMIN_DATABASE_URL=url, AMERICANO_DATA_DIR=str(tmp_path / "data"),
               AMERICANO_ENV_FILE=str(tmp_path / "none.env"))
    return url, env


def americano(env, *args):
    return subprocess.run([*AMERICANO, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_new_registers_the_multiple_baseline_example(database, pg_cluster, tmp_path):
    url, env = database
    result = americano(env, "protocol", "new", MB_EXAMPLE)
    assert result.returncode == 0, result.stderr
    registered = re.search(r"registered protocol (c[a-z0-9]{24}) with 6 phases; randomization seed 424242",
                           result.stdout)
    assert registered, result.stdout
    protocol_id = registered.group(1)

    with connect(url) as conn:
        protocol = conn.execute('SELECT "userId", "designType"::text, "primaryOutcome", "sampleSizeTarget", '
                                '"minPhaseLength", "analysisPlan", "startDate"::date, "endDate"::date '
                                'FROM experiment_protocols WHERE id = %s', [protocol_id]).fetchone()
        phases = conn.execute('SELECT "phaseLabel", "phaseType"::text, "startDate"::date, "endDate"::date, '
                              '"plannedDuration", "randomizationSeed", "interventionParams" FROM phase_assignments '
                              'WHERE "protocolId" = %s ORDER BY "startDate", "phaseLabel"', [protocol_id]).fetchall()
    user, design, outcome, target, minimum, plan, start, end = protocol
    assert (user, design, outcome, target, minimum) == \
        ("cq2v8x0k3m5n7p9r1t3v5x7z9", "MULTIPLE_BASELINE", "study_minutes", 50, 10)
    assert (str(start), str(end)) == ("2027-02-01", "2027-03-22")
    plan = json.loads(plan)
    assert set(plan) == {"confirmatory", "alternative", "alpha", "description", "multipleBaselineScheme"}
    assert plan["multipleBaselineScheme"] == "koehler_levin" and plan["alternative"] == "greater"

    assert len(phases) == 6 and {row[5] for row in phases} == {424242}
    tiers = {}
    for label, phase_type, first, last, days, _, params in phases:
        assert (last - first).days + 1 == days
        tiers.setdefault(params["tier"], {})[phase_type] = (first, last, params)
    assert set(tiers) == {"study time", "engagement", "performance"}
    assert {params["outcome"] for tier in tiers.values() for _, _, params in tier.values()} == \
        {"study_minutes", "engagement_score", "mean_performance"}
    for tier in tiers.values():
        baseline_first, baseline_last, baseline = tier["BASELINE"]
        first, last, intervention = tier["INTERVENTION_A"]
        assert "startWindow" not in baseline and baseline["weekly_goal"] is False
        assert intervention["weekly_goal"] is True
        earliest, latest = intervention["startWindow"]
        assert earliest <= first.isoformat() <= latest
        assert (baseline_first, baseline_last.toordinal() + 1, last) == (start, first.toordinal(), end)

    # the snapshot's checks accept the record, and the new-phase sensor finds its alpha reachable
    with connect(login_url(pg_cluster, url, READER_ROLE), role=READER_ROLE) as conn:
        files = source_extract.extract(conn, tmp_path / "raw", "s1", ExtractWindow(days=ALL_HISTORY))
        assert unreachable_alpha(conn.execute(DESIGNS_SQL, [[protocol_id]]).fetchall()) == []
    reports = validate_cut({table: read_frame(file.path) for table, file in files.items()})
    assert all(report.passed for report in reports.values()), {t: r.summary() for t, r in reports.items()}

    # the same dates again for the same user: refused, naming the protocol it overlaps; another user's pass
    overlap = (f"  startDate: 2027-02-01..2027-03-22 overlaps protocol {protocol_id} 'Weekly goal setting, "
               "behaviour by behaviour' of user cq2v8x0k3m5n7p9r1t3v5x7z9 (2027-02-01..2027-03-22): start after "
               "2027-03-22")
    for action in ("validate", "new"):
        again = americano(env, "protocol", action, MB_EXAMPLE)
        assert again.returncode == 1
        assert again.stderr.splitlines() == [f"americano protocol {action}: {MB_EXAMPLE}: 1 problem, nothing "
                                             "registered:", overlap]
    other_user = tmp_path / "other_user.yaml"
    other_user.write_text((ROOT / MB_EXAMPLE).read_text().replace("cq2v8x0k3m5n7p9r1t3v5x7z9", "cotheruser"))
    again = americano(env, "protocol", "new", str(other_user))
    assert again.returncode == 0, again.stderr
    assert re.search(r"registered protocol (c[a-z0-9]{24})", again.stdout).group(1) != protocol_id


def test_validate_refuses_a_broken_file_naming_every_field_and_writes_nothing(database, tmp_path):
    url, env = database
    broken = tmp_path / "broken.yaml"
    broken.write_text((ROOT / MB_EXAMPLE).read_text().replace("alpha: 0.05", "alpha: 0.5")
                      .replace("outcome: engagement_score", "outcome: steps")
                      .replace("userId: cq2v8x0k3m5n7p9r1t3v5x7z9", 'userId: ""'))
    for action in ("validate", "new"):
        result = americano(env, "protocol", action, str(broken))
        assert result.returncode != 0
        lines = result.stderr.splitlines()
        assert lines[0] == f"americano protocol {action}: {broken}: 3 problems, nothing registered:"
        fields = [line.split(":")[0].strip() for line in lines[1:]]
        assert fields == ["userId", "analysisPlan.alpha", "tiers[1].outcome"]
        assert "tiers[1].outcome: 'steps' is not a catalogue metric (engagement_score," in result.stderr
    with connect(url) as conn:
        exists = conn.execute("SELECT to_regclass('public.experiment_protocols') IS NOT NULL").fetchone()[0]
        assert not exists or conn.execute("SELECT count(*) FROM experiment_protocols").fetchone()[0] == 0

    valid = americano(env, "protocol", "validate", MB_EXAMPLE)
    assert valid.returncode == 0, valid.stderr
    assert "study time intervention" in valid.stdout and "nothing written" in valid.stdout

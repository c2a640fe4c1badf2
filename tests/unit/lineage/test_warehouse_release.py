"""What the published marts hold, read from the build records (real DuckDB files, no dbt): the version of the
last passing build, or a refusal naming what failed."""

import duckdb
import pytest

from americano_pipeline.lineage.warehouse_release import (
    WarehouseNotReleased,
    failure_path,
    keep_failure,
    publish,
    release,
    staging_path,
)

VERSION = "a" * 32 + ".dir"
INSERT = "insert into main.warehouse_builds values (?, ?, make_timestamptz(2026, 12, 1, 9, ?, 0), ?, ?)"
CREATE = ("create table main.warehouse_builds (invocation_id varchar, command varchar, finished_at timestamptz, "
          "data_version varchar, failed varchar[])")


def warehouse(path, *builds) -> None:
    """A DuckDB file holding these (invocation, command, minute, version, failed) build records."""
    with duckdb.connect(str(path)) as conn:
        conn.execute(CREATE)
        for invocation, command, minute, version, failed in builds:
            conn.execute(INSERT, [invocation, command, minute, version, failed])


def released(path):
    with duckdb.connect(str(path), read_only=True) as conn:
        return release(conn, path)


def test_the_version_is_the_last_build_s_and_a_later_passing_test_keeps_it(tmp_path):
    path = tmp_path / "w.duckdb"
    warehouse(path, ("b1", "build", 1, "old.dir", []), ("b2", "build", 2, VERSION, []), ("t1", "test", 3, "x", []))
    assert (released(path).data_version, released(path).invocation_id) == (VERSION, "b2")


@pytest.mark.parametrize(("builds", "message"), [
    ([("b1", "build", 1, VERSION, ["assert_phases_do_not_overlap"])],
     "the last warehouse build (build b1, finished 2026-12-01 09:01:00+00:00) failed its blocking checks: "
     "assert_phases_do_not_overlap;"),
    ([("b1", "build", 1, VERSION, []), ("r1", "run", 2, VERSION, [])],
     "were last rebuilt by `dbt run` (r1) without their tests"),
    ([("t1", "test", 1, VERSION, [])], "has no build record (main.warehouse_builds)"),
])
def test_a_failed_untested_or_unrecorded_build_is_refused(tmp_path, builds, message):
    path = tmp_path / "w.duckdb"
    warehouse(path, *builds)
    with pytest.raises(WarehouseNotReleased) as refused:
        released(path)
    assert message in str(refused.value)


def test_a_failure_is_kept_beside_the_marts_until_a_build_passes(tmp_path):
    published = tmp_path / "w.duckdb"
    warehouse(published, ("b1", "build", 1, VERSION, []))
    before = published.read_bytes()
    warehouse(staging_path(published), ("b2", "build", 2, "new.dir", ["assert_one_phase_per_protocol_day"]))
    keep_failure(staging_path(published), published)
    assert published.read_bytes() == before and not staging_path(published).exists()
    with pytest.raises(WarehouseNotReleased, match="failed its blocking checks: assert_one_phase_per_protocol_day"):
        released(published)
    staging_path(published).write_bytes(b"")  # dbt stopped before it wrote anything
    keep_failure(staging_path(published), published)
    with pytest.raises(WarehouseNotReleased, match="dbt stopped before it recorded the build"):
        released(published)
    warehouse(staging_path(published), ("b3", "build", 3, "new.dir", []))
    publish(staging_path(published), published)
    assert released(published).data_version == "new.dir" and not failure_path(published).exists()

"""The demo's progress lines: a start and an end with the elapsed time per step, on one line when nothing came in
between; a line per Dagster step as an in-process run executes it; plain lines of at most 120 columns, and a run
that cannot print still runs."""

from __future__ import annotations

import io
import itertools
import re
import uuid

import dagster as dg
import pytest

from americano_pipeline.demo.progress import WIDTH, Progress


def _progress(*ticks: float) -> tuple[Progress, io.StringIO]:
    out = io.StringIO()
    return Progress(out=out, clock=iter(ticks).__next__), out


def test_a_step_prints_a_start_line_and_an_end_line_with_the_elapsed_time_and_detail():
    progress, out = _progress(10.0, 14.06)
    with progress.step("seeding the synthetic study (1 user x 300 days)", name="seeding") as step:
        step.detail = "9,382 events"
    assert out.getvalue().splitlines() == ["seeding the synthetic study (1 user x 300 days) ...",
                                           "seeding done in 4.1 s (9,382 events)"]


def test_steps_nest_with_their_indent():
    progress, out = _progress(0.0, 1.0, 3.5, 20.0)
    with progress.step("snapshot and warehouse"):
        with progress.step("raw_snapshot", indent="  "):
            pass
    assert out.getvalue().splitlines() == [
        "snapshot and warehouse ...",
        "  raw_snapshot ...",
        "  raw_snapshot done in 2.5 s",
        "snapshot and warehouse done in 20.0 s",
    ]


def test_a_step_that_raises_says_so_and_lets_the_error_through():
    progress, out = _progress(0.0, 1.25)
    with pytest.raises(RuntimeError, match="no database"), progress.step("starting the database"):
        raise RuntimeError("no database")
    assert out.getvalue().splitlines()[-1] == "starting the database failed after 1.2 s"


def test_lines_never_exceed_the_width_and_never_use_carriage_returns():
    out = io.StringIO()
    progress = Progress(out=out, clock=itertools.count().__next__)
    with progress.step("x" * 200) as step:
        step.detail = "y" * 50
    with progress.step("a" * 130) as step:
        step.detail = "b" * 30
    lines = out.getvalue().splitlines()
    assert len(lines) == 4 and all(len(line) <= WIDTH for line in lines)
    assert "\r" not in out.getvalue()
    assert lines[-1].startswith("aaa") and lines[-1].endswith("… done in 1.0 s (" + "b" * 30 + ")")


@dg.asset
def upstream():
    return 1


@dg.asset_check(asset=upstream)
def upstream_is_one():
    return dg.AssetCheckResult(passed=True)


@dg.asset
def downstream(upstream):
    return upstream + 1


@dg.asset(deps=[downstream])
def broken():
    raise ValueError("boom")


def _run(job_assets, out, **kwargs):
    defs = dg.Definitions(assets=job_assets, asset_checks=[upstream_is_one],
                          jobs=[dg.define_asset_job("job", selection=dg.AssetSelection.all())])
    instance = dg.DagsterInstance.ephemeral()
    run_id = str(uuid.uuid4())
    instance.add_event_listener(run_id, Progress(out=out).dagster_listener())
    return defs.resolve_job_def("job").execute_in_process(instance=instance, run_id=run_id, raise_on_error=False,
                                                          **kwargs)


def test_each_dagster_step_prints_a_line_as_it_ends_with_its_assets_and_checks():
    out = io.StringIO()
    result = _run([upstream, downstream, broken], out)
    assert not result.success
    lines = out.getvalue().splitlines()
    started = [line.removesuffix(" ...") for line in lines if line.endswith(" ...")]
    ended = {m[1]: m[2] for m in (re.fullmatch(r"(.+?) ((done in|FAILED after) .+)", line) for line in lines) if m}
    assert sorted(started) == sorted(ended) == ["  broken", "  downstream", "  upstream", "  upstream_upstream_is_one"]
    assert lines.index("  upstream ...") < lines.index("  downstream ...") < lines.index("  broken ...")
    assert ended["  upstream"].startswith("done in ") and ended["  upstream"].endswith(" s (1 asset)")
    assert ended["  upstream_upstream_is_one"].endswith(" s (1 check passed)")
    assert ended["  broken"].startswith("FAILED after ")


def test_a_run_whose_progress_cannot_be_printed_still_succeeds():
    class Closed(io.StringIO):
        def write(self, text):
            raise BrokenPipeError

    assert _run([upstream, downstream], Closed()).success

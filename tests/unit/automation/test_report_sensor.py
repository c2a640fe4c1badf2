"""A run whose analysis step failed gets its skipped CENT reports requested over the same partitions, once."""

import dagster as dg
import pytest

from americano_pipeline.assets.report import ANALYSES, cent_report
from americano_pipeline.automation.report_sensor import report_after_failure_sensor, report_rerun
from americano_pipeline.partitions import partition_range_tags, protocols

KEYS = ["c" + "a" * 24, "c" + "b" * 24]


def _analysis(fails: bool) -> dg.AssetsDefinition:
    @dg.asset(key=ANALYSES[0], partitions_def=protocols, backfill_policy=dg.BackfillPolicy.single_run())
    def randomization_result(context) -> None:
        if fails:
            raise dg.Failure(f"{context.partition_keys[0]}: the test asked this analysis to fail")

    return randomization_result


def _failure_context(instance, run_id):
    event = next(iter(instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE))).dagster_event
    return dg.build_run_status_sensor_context(sensor_name=report_after_failure_sensor.name, dagster_event=event,
                                              dagster_instance=instance, dagster_run=instance.get_run_by_id(run_id))


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(protocols.name, KEYS)
        yield instance


def _run(instance, *, fails: bool, selection=None):
    job = dg.define_asset_job("analysis", selection=selection, partitions_def=protocols)
    defs = dg.Definitions(assets=[_analysis(fails), cent_report], jobs=[job])
    return defs.resolve_job_def("analysis").execute_in_process(instance=instance, raise_on_error=False,
                                                               tags=partition_range_tags(KEYS))


def test_a_failed_analysis_requests_the_skipped_reports_over_the_runs_partitions(instance):
    result = _run(instance, fails=True)
    assert not result.success
    assert report_rerun(instance, result.run_id) == partition_range_tags(KEYS)
    request = report_after_failure_sensor(_failure_context(instance, result.run_id))
    assert isinstance(request, dg.RunRequest)
    assert request.tags == partition_range_tags(KEYS)
    assert request.run_key == f"reports-after-{result.run_id}"


def test_a_run_that_did_not_select_the_report_requests_nothing(instance):
    result = _run(instance, fails=True, selection=dg.AssetSelection.keys(ANALYSES[0]))
    assert not result.success
    assert report_rerun(instance, result.run_id) is None
    assert isinstance(report_after_failure_sensor(_failure_context(instance, result.run_id)), dg.SkipReason)


def test_a_successful_run_requests_nothing(instance):
    result = _run(instance, fails=False, selection=dg.AssetSelection.keys(ANALYSES[0]))
    assert result.success
    assert report_rerun(instance, result.run_id) is None

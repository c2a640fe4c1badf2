"""The report asset on the seeded study: after the analyses of one protocol, in the same run, it writes that
protocol's CENT report (HTML and PDF) from the real warehouse and the published results, with the ids the
analyses recorded.

Results, MLflow and reports go to a private data directory (the shared study's warehouse is only read), so other
modules' results are untouched.
"""

import json

import dagster as dg
import pytest

from americano_pipeline.analysis.publish import RESULT_FILE
from americano_pipeline.assets.analysis import analysis_assets
from americano_pipeline.assets.report import KEY, report_assets
from americano_pipeline.partitions import protocols
from americano_pipeline.resources.mlflow_tracking import MlflowTrackingResource
from americano_pipeline.resources.postgres import PostgresResource
from tests.integration.warehouse_support import warehouse_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def reported(source, built, tmp_path_factory):
    """One run: the four analyses, then the report, of the study's first ABAB protocol."""
    assert built.success
    truth = next(p for p in source.truth["protocols"] if p["designType"] == "ABAB")
    output = tmp_path_factory.mktemp("report") / "data"
    with dg.DagsterInstance.ephemeral() as instance, warehouse_env(source.data_dir, AMERICANO_DATA_DIR=str(output)):
        instance.add_dynamic_partitions(protocols.name, [truth["protocolId"]])
        result = dg.materialize(
            [*analysis_assets, *report_assets], instance=instance, partition_key=truth["protocolId"],
            resources={"postgres": PostgresResource(url=source.url), "mlflow_tracking": MlflowTrackingResource()},
            raise_on_error=False)
    return result, truth, output


def test_the_report_is_written_after_the_analyses_in_the_same_run(reported):
    result, truth, output = reported
    assert result.success
    order = [e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"]
    assert order[-1] == "report__cent_report" and len(order) == 5
    directory = output / "reports" / truth["protocolId"]
    assert sorted(p.name for p in directory.iterdir()) == ["report.html", "report.pdf"]
    assert (directory / "report.pdf").read_bytes().startswith(b"%PDF")
    (materialization,) = [e.materialization for e in result.get_asset_materialization_events()
                          if e.materialization.asset_key == KEY]
    assert materialization.partition == truth["protocolId"]
    metadata = materialization.metadata
    assert metadata["protocol_name"].value == truth["name"]
    assert metadata["html"].value == str(directory / "report.html")
    assert metadata["items_not_reported"].value == 8


def test_the_report_states_the_confirmatory_result_and_the_recorded_ids(reported):
    _, truth, output = reported
    html = (output / "reports" / truth["protocolId"] / "report.html").read_text()
    assert truth["name"] in html and "CENT 2015" in html
    confirmatory = json.loads((output / "analysis" / "randomization_result" / truth["protocolId"] /
                               RESULT_FILE).read_text())
    assert confirmatory["role"] == "confirmatory"
    from americano_pipeline.report.numbers import p_value

    assert f"<dt>p-value</dt><dd>{p_value(confirmatory['pValue'])}</dd>" in html
    for asset in ("randomization_result", "its_result", "change_points_result", "sequential_boundaries"):
        provenance = json.loads((output / "analysis" / asset / truth["protocolId"] / RESULT_FILE).read_text())[
            "provenance"]
        assert provenance["mlflowRunId"] in html and provenance["analysisRunId"] in html
        assert provenance["dataVersionHash"] in html
    assert html.index("Confirmatory analysis") < html.index("Ancillary analyses")
    assert html.count("data:image/png;base64,") == 4

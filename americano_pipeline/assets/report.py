"""report/cent_report: one CENT 2015 report per protocol (HTML and PDF), wired to ``americano_pipeline.report``.

Why this shape:
- Partitioned like the analyses (``partitions.protocols``, ``BackfillPolicy.single_run()``), downstream of the
  four analysis assets, and in their group ``analysis``: the ``analysis`` job (``americano demo``, the sensor), the
  ``whole_graph`` job (the nightly schedule) and ``make materialize`` (``--select group:analysis``) all run the
  reports after the analyses, in the same run.
- The body reads the published results and the marts, and writes ``<reports dir>/<protocol_id>/report.html`` and
  ``report.pdf`` atomically (``report.render.publish_report``): a failed render keeps the previous report. Each
  protocol fails alone; the step's failure names every failed protocol and its reason, after the reports that were
  written are recorded as materializations.
- Jinja2 and WeasyPrint are imported inside the body, so loading the code location stays cheap.
"""

import warnings
from collections.abc import Iterator
from dataclasses import replace

import dagster as dg
from americano_pipeline import settings
from americano_pipeline.partitions import protocols

GROUP = "analysis"  # the analyses' group: every job and selection that runs them runs the reports after them
KEY = dg.AssetKey(["report", "cent_report"])
ANALYSES = [dg.AssetKey(["analysis", name]) for name in
            ("randomization_result", "its_result", "change_points_result", "sequential_boundaries")]
MARTS = [dg.AssetKey("dim_protocols"), dg.AssetKey("fct_protocol_daily_outcomes")]

# Single-run backfills take @asset's Beta `backfill_policy` (as assets/analysis.py): its warning silenced for it alone.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy` of function `asset`", category=dg.BetaWarning)


def _metadata(report, html, pdf) -> dict:
    missing = report.not_reported
    return {
        "html": dg.MetadataValue.path(str(html)),
        "pdf": dg.MetadataValue.path(str(pdf)),
        "protocol_name": report.protocol_name,
        "design_type": report.design_type,
        "cent_items": len([item for item in report.items if item.number]),
        "items_not_reported": len(missing),
        "not_reported": dg.MetadataValue.md("\n".join(f"- {item.number or item.title} {item.title}: "
                                                      f"{item.not_reported}" for item in missing) or "none"),
    }


@dg.asset(key=KEY, partitions_def=protocols, group_name=GROUP, deps=[*ANALYSES, *MARTS],
          backfill_policy=dg.BackfillPolicy.single_run(), kinds={"python", "html", "pdf"},
          description="CENT 2015 report of the protocol (HTML and PDF, rendered by WeasyPrint): registration, design "
                      "and randomization, phases as run, deviations, the confirmatory result first, effect sizes with "
                      "intervals, figures, limitations, provenance; every item filled or marked not reported.")
def cent_report(context: dg.AssetExecutionContext) -> Iterator:
    from americano_pipeline.analysis.marts import MartsReader
    from americano_pipeline.lineage.code_state import git_state
    from americano_pipeline.report.build import build_report
    from americano_pipeline.report.inputs import load_inputs
    from americano_pipeline.report.render import publish_report

    git = git_state()
    code = {"commit": git.commit, "dirty": git.dirty, "run_id": context.run_id}
    written, failures = {}, []
    with MartsReader() as reader:
        for protocol_id in context.partition_keys:
            try:
                inputs = load_inputs(protocol_id, settings.analysis_dir(), reader)
                report = build_report(replace(inputs, report_code=code))
                html, pdf = publish_report(report, settings.reports_dir() / protocol_id)
            except Exception as exc:  # one protocol's failure must not cost the others their report
                failures.append(f"{protocol_id}: {type(exc).__name__}: {exc}")
                context.log.error(f"report of {protocol_id} failed: {exc}")
                continue
            written[protocol_id] = _metadata(report, html, pdf)
    if failures:
        for protocol_id, metadata in written.items():
            yield dg.AssetMaterialization(asset_key=KEY, partition=protocol_id, metadata=metadata)
        raise dg.Failure(description=f"{len(failures)} of {len(context.partition_keys)} reports failed (the "
                                     "previous report of each is kept):\n" + "\n".join(failures),
                         metadata={"failed_protocols": ", ".join(f.split(":")[0] for f in failures)})
    for protocol_id, metadata in written.items():
        context.add_asset_metadata(metadata, partition_key=protocol_id)
    yield dg.MaterializeResult()


report_assets = [cent_report]

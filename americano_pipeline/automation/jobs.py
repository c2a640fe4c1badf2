"""The jobs the schedule, the sensor, the demo and CI launch.

Why these: the snapshot must cover every protocol's whole history, so the jobs extract all events
(``source.window.ALL_HISTORY``; the snapshot's 90-day default is for ad-hoc UI runs); the whole-graph job is
partitioned by protocol so that one run can carry the snapshot, the warehouse and the analyses of one protocol
(the sensor) or of a range of protocols (the schedule's single-run backfill); the analysis job re-analyses given
protocols on the warehouse as it is; the report job renders reports alone, when a failed analysis skipped them. The
wearable sync job is partitioned by day (``wearable_sync_schedule``): it writes the source database's
context_metadata, which the next snapshot reads, so it is a job of its own and not part of the whole graph.
"""

import dagster as dg
from americano_pipeline.assets.report import KEY as REPORT
from americano_pipeline.partitions import protocols
from americano_pipeline.source.window import ALL_HISTORY

ALL_HISTORY_CONFIG = {"ops": {"raw_snapshot": {"config": {"days": ALL_HISTORY}}}}

warehouse_job = dg.define_asset_job(
    "snapshot_and_warehouse", selection=dg.AssetSelection.groups("raw", "warehouse", "monitoring", "context_analysis"),
    config=ALL_HISTORY_CONFIG,
    description="Snapshot with its Pandera checks and its drift report, then dbt build with its tests, then the "
                "context-outcome relations of every user.")

whole_graph_job = dg.define_asset_job(
    "whole_graph", selection=dg.AssetSelection.all() - dg.AssetSelection.groups("context"), partitions_def=protocols,
    config=ALL_HISTORY_CONFIG,
    description="Snapshot -> warehouse -> the analyses of the run's protocol partition(s).")

analysis_job = dg.define_asset_job(
    "analysis", selection=dg.AssetSelection.groups("analysis"), partitions_def=protocols,
    description="The four analyses of the run's protocol partition(s), on the current warehouse, then "
                "their CENT reports (report/cent_report, in the same group).")

report_job = dg.define_asset_job(
    "report", selection=dg.AssetSelection.keys(REPORT), partitions_def=protocols,
    description="The CENT reports of the run's protocol partition(s) from the published results, alone: "
                "report_after_failure_sensor runs it when a failed analysis skipped them.")

wearable_sync_job = dg.define_asset_job(
    "wearable_sync", selection=dg.AssetSelection.groups("context"),
    description="The day's Oura and WHOOP sync (partitioned by day, as its assets): land it, check it (blocking), "
                "upsert it into context_metadata.")

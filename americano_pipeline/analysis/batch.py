"""The partition loop of one analysis asset execution, and its failure policy.

Why a loop over many protocols in one execution: ``BackfillPolicy.single_run()`` makes a backfill over many
protocols one run per asset, which pays the heavy imports (and the ITS model compilation) once.

Failure policy:
- A protocol whose data cannot support the method (``AnalysisError``: too short a baseline, an unknown metric ...)
  fails alone: the loop yields the error and goes on with the next protocol.
- Anything else (the warehouse missing, its last build failed its blocking checks, the MLflow store or the
  database down, a bug) propagates at once; what was published before it stays published.
- Provenance: every result records the data version of the cut the marts were built from, read from the same
  connection the marts are read from (``MartsReader.release``), never the newest snapshot.
- Pre-registration: each protocol is analysed on its registered ``primaryOutcome`` unless the run is an
  explicitly labelled exploratory one (``inputs.chosen_metric``).
The caller (the Dagster asset) turns each outcome into events and fails the step naming every failed protocol
(``failure_report``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime, timezone

from americano_pipeline.analysis.errors import AnalysisError
from americano_pipeline.analysis.inputs import chosen_metric
from americano_pipeline.analysis.marts import MartsReader
from americano_pipeline.analysis.methods import Analysis
from americano_pipeline.analysis.protocol import ProtocolData
from americano_pipeline.analysis.runner import Execution, Published, publish_analysis
from americano_pipeline.lineage.tracking import Tracker

Analyse = Callable[[MartsReader, ProtocolData, str], Analysis]


def analyse_protocols(protocol_ids: Iterable[str], execution: Execution, *, method: str, metric: str | None,
                      exploratory: bool, analyse: Analyse, tracker: Tracker,
                      writer: Callable[[], AbstractContextManager]) -> Iterator[Published | AnalysisError]:
    """Analyse and publish each protocol in turn with ``analyse(reader, data, metric)``; yields its ``Published``
    or the ``AnalysisError`` that stopped it (module doc). ``execution.data_version`` is set here, from the
    marts' release."""
    with MartsReader() as reader:
        execution = dataclasses.replace(execution, data_version=reader.release().data_version)
        for protocol_id in protocol_ids:
            started_at = datetime.now(timezone.utc)
            try:
                data = reader.protocol(protocol_id)
                chosen = chosen_metric(data.protocol, method, metric, exploratory)
                analysis = analyse(reader, data, chosen)
            except AnalysisError as exc:
                yield exc
                continue
            yield publish_analysis(execution, data, chosen, exploratory, analysis, tracker=tracker, writer=writer,
                                   started_at=started_at)


def failure_report(asset_key: str, failures: list[AnalysisError], published: int) -> str:
    """The step's failure description: how many protocols failed and why, each on its own line."""
    listed = "\n".join(f"- {failure}" for failure in failures)
    return (f"{asset_key} failed for {len(failures)} of {len(failures) + published} protocols (the other "
            f"{published} are published and materialized):\n{listed}")

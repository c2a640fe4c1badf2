"""What the pipeline published for a protocol: the latest ``result.json`` of each analysis asset, its figures, and
the provenance recorded with it (code commit, data version, MLflow run, ``analysis_runs`` id).

Why the files and not MLflow: ``result.json`` is the pipeline's commit point (``analysis.publish``): it appears
only when the run and its ``analysis_runs`` row are recorded, and names them, so what is served is never half a
result. The caller's ownership of the protocol is checked in the database (row-level security) before this runs.
"""

from __future__ import annotations

import json
from pathlib import Path

from americano_pipeline.analysis.publish import RESULT_FILE

ASSETS = ("its_result", "randomization_result", "change_points_result", "sequential_boundaries")
PROVENANCE_KEYS = ("codeCommit", "codeDirty", "dataVersionHash", "dagsterRunId", "mlflowRunId", "analysisRunId",
                   "startedAt", "completedAt")


def results(root: Path, protocol_id: str, runs: dict[str, dict]) -> list[dict]:
    """Each asset's published result for ``protocol_id`` under ``root`` (``<asset>/<protocol>/result.json``);
    ``runs``: the latest ``analysis_runs`` row per asset, which the file's own provenance names."""
    found = []
    for asset in ASSETS:
        path = root / asset / protocol_id / RESULT_FILE
        try:
            body = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            continue
        header = body.pop("provenance", {})
        provenance = {key: header.get(key) for key in PROVENANCE_KEYS}
        provenance["analysisRunRecorded"] = runs.get(asset, {}).get("analysisRunId") == header.get("analysisRunId")
        found.append({"asset": asset, "method": header.get("method"), "completedAt": header.get("completedAt"),
                      "provenance": provenance, "figures": header.get("figures", []), "result": body})
    return found


def figure(root: Path, protocol_id: str, asset: str, name: str) -> Path | None:
    """The published figure file, or None when there is none by that name (no path outside the result)."""
    if asset not in ASSETS:
        return None
    directory = root / asset / protocol_id
    try:
        header = json.loads((directory / RESULT_FILE).read_text()).get("provenance", {})
    except (FileNotFoundError, ValueError):
        return None
    return directory / name if name in header.get("figures", []) else None

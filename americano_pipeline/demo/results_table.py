"""The ``make demo`` summary: one line per protocol with the headline of every analysis, read from the published
``result.json`` files (so it shows exactly what a reader of the results would see).

Columns: protocol, design, metric, the planted effect when the study is the synthetic one (its ground truth,
beside the estimates), ITS effect (posterior mean and 95% HDI), randomization p (and the tested direction), WWC
verdict, detected vs planned change points (matched within the tolerance, distances in days), the sequential
position, and where the figures are. The protocol's registered confirmatory analysis is marked ``*`` (the others
are supportive). A method without a published result shows "-".
"""

from __future__ import annotations

import json
from pathlib import Path

from americano_pipeline.analysis.publish import RESULT_FILE, result_directory

ASSETS = ("its_result", "randomization_result", "change_points_result", "sequential_boundaries")
HEADERS = ("protocol", "design", "metric", "planted", "ITS effect (95% HDI)", "randomization p", "WWC",
           "change points", "sequential", "figures")
MISSING = "-"
CONFIRMATORY_MARK = "*"
FOOTNOTE = f"{CONFIRMATORY_MARK} the protocol's registered confirmatory analysis; the other columns are supportive"


def _result(root: Path, asset: str, protocol_id: str) -> dict | None:
    path = result_directory(root, asset, protocol_id) / RESULT_FILE
    return json.loads(path.read_text()) if path.exists() else None


def _effect(its: dict | None) -> str:
    if its is None:
        return MISSING
    effect = its["causalEffect"]
    low, high = effect["hdi95"]
    return f"{effect['mean']:+.1f} ({low:+.1f} to {high:+.1f})"


def _p_value(test: dict | None) -> str:
    return MISSING if test is None else f"{test['pValue']:.3g} ({test['alternative']})"


def _change_points(found: dict | None) -> str:
    if found is None:
        return MISSING
    comparison = found["comparison"]
    return (f"{len(comparison['detected'])} found, {comparison['matchedPlanned']}/{len(comparison['planned'])} planned "
            f"matched (P by chance {comparison['matchedByChanceProbability']:.2g})")


def _sequential(plan: dict | None) -> str:
    if plan is None:
        return MISSING
    position = plan["position"]
    z = MISSING if position["z"] is None else f"{position['z']:+.2f}"
    crossed = position["firstCrossingLook"]
    mode = "retro" if plan["mode"] == "retrospective" else "live"
    return (f"{mode} n={position['nObserved']}/{plan['maxN']} z={z} "
            + (f"crossed@{crossed}" if crossed else "not crossed"))


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it (as the user typed the command)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def protocol_ids(root: Path) -> list[str]:
    """Every protocol with at least one published result, sorted."""
    return sorted({path.parent.name for asset in ASSETS for path in (root / asset).glob(f"*/{RESULT_FILE}")})


def _marked(cell: str, result: dict | None) -> str:
    return f"{CONFIRMATORY_MARK}{cell}" if result is not None and result.get("role") == "confirmatory" else cell


def summary_rows(root: Path, ids: list[str] | None = None,
                 planted: dict[str, float] | None = None) -> list[tuple[str, ...]]:
    """One row of ``HEADERS`` per protocol (``ids`` in that order, default every protocol with a result);
    ``planted`` maps a protocol id to its true effect when it is known (the synthetic study)."""
    planted = planted or {}
    rows = []
    for protocol_id in ids if ids is not None else protocol_ids(root):
        results = {asset: _result(root, asset, protocol_id) for asset in ASSETS}
        header = next((r["provenance"] for r in results.values() if r is not None), None)
        its, test = results["its_result"], results["randomization_result"]
        rows.append((
            f"{protocol_id} {header['protocolName']}" if header else protocol_id,
            header["designType"] if header else MISSING,
            header["metric"] if header else MISSING,
            f"{planted[protocol_id]:+.1f}" if protocol_id in planted else MISSING,
            _marked(_effect(its), its),
            _marked(_p_value(test), test),
            MISSING if test is None else test["wwcDesignStandard"]["verdict"],
            _change_points(results["change_points_result"]),
            _sequential(results["sequential_boundaries"]),
            _shown(root / "*" / protocol_id / "*.png"),
        ))
    return rows


def summary_table(root: Path, ids: list[str] | None = None, planted: dict[str, float] | None = None) -> str:
    """``summary_rows`` as an aligned plain-text table (header, rule, rows, the confirmatory footnote)."""
    rows = [HEADERS, *summary_rows(root, ids, planted)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(HEADERS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join([*lines, FOOTNOTE])

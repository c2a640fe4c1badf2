"""The ``make demo`` summary: the headline of every analysis per protocol, read from the published ``result.json``
files (so it shows exactly what a reader of the results would see), in lines that fit a 120-column terminal.

Fields (``HEADERS``, one row each from ``summary_rows``): protocol, design, metric, the planted truth when the
study is the synthetic one (``planted_text`` of its ground truth: the effect, each tier's effect, or the criterion
levels) beside the design's own estimate (B - A, per tier, or the phase means), ITS effect (posterior mean and 95%
HDI, or why it does not run), randomization p (and the tested direction), WWC verdict, detected vs planned change points
(matched within the tolerance, distances in days) and the sequential position; the table says once where the
figures are. The protocol's registered confirmatory analysis is marked ``*`` (the others
are supportive). A method without a published result shows "-"; one whose ``result.json`` cannot be read (not
JSON, or without a field shown here) shows "unreadable result" and is named under the table, so one corrupt file
costs its cells, not the table.
"""

from __future__ import annotations

import json
from pathlib import Path

from americano_pipeline.analysis.publish import RESULT_FILE, result_directory

ASSETS = ("its_result", "randomization_result", "change_points_result", "sequential_boundaries")
HEADERS = ("protocol", "design", "metric", "planted", "estimated", "ITS effect (95% HDI)", "randomization p", "WWC",
           "change points", "sequential")
MISSING = "-"
UNREADABLE = "unreadable result"
_SHAPE_ERRORS = (KeyError, IndexError, TypeError, ValueError)  # a field missing or of the wrong type
CONFIRMATORY_MARK = "*"
FOOTNOTE = f"{CONFIRMATORY_MARK} the protocol's registered confirmatory analysis; the other analyses are supportive"
UNREACHABLE_MARK = "!"


def _read(path: Path) -> dict | None:
    """The result published at ``path``, None when there is none; ValueError when it is not a JSON object."""
    if not path.exists():
        return None
    result = json.loads(path.read_text())
    if not isinstance(result, dict):
        raise ValueError("not a JSON object")
    return result


def _reason(exc: Exception) -> str:
    return f"no field {exc}" if isinstance(exc, KeyError) else str(exc)


class _Published:
    """One protocol's results; a file that cannot be read, or lacks what a cell shows, is recorded in ``problems``
    (path -> why) and each of its cells reads UNREADABLE."""

    def __init__(self, root: Path, protocol_id: str):
        self.paths = {asset: result_directory(root, asset, protocol_id) / RESULT_FILE for asset in ASSETS}
        self.results: dict[str, dict | None] = {}
        self.problems: dict[Path, str] = {}
        for asset, path in self.paths.items():
            try:
                self.results[asset] = _read(path)
            except (OSError, ValueError) as exc:  # JSON and Unicode decoding errors are ValueErrors
                self.results[asset], self.problems[path] = None, _reason(exc)

    def header(self) -> dict | None:
        """The protocol's name, design and metric, from the first result whose provenance has them."""
        for result in self.results.values():
            provenance = result.get("provenance") if result else None
            if isinstance(provenance, dict) and {"protocolName", "designType", "metric"} <= provenance.keys():
                return provenance
        return None

    def cell(self, asset: str, render) -> str:
        """``render(result)`` of ``asset``'s result (None when unpublished), or UNREADABLE."""
        path = self.paths[asset]
        if path in self.problems:
            return UNREADABLE
        try:
            return render(self.results[asset])
        except _SHAPE_ERRORS as exc:
            self.problems[path] = _reason(exc)
            return UNREADABLE


def _effect(its: dict | None) -> str:
    if its is None:
        return MISSING
    if its.get("notRun"):
        return "not run (the design has no interruption to model)"
    effect = its["causalEffect"]
    low, high = effect["hdi95"]
    return f"{effect['mean']:+.1f} ({low:+.1f} to {high:+.1f})"


def _p_value(test: dict | None) -> str:
    if test is None:
        return MISSING
    unreachable = UNREACHABLE_MARK if test.get("alphaCheck", {}).get("reachable") is False else ""
    return f"{test['pValue']:.3g}{unreachable} ({test['alternative']})"


def _tiers_text(pairs) -> str:
    return ", ".join(f"{name} {value:+.1f}" for name, value in sorted(pairs))


def planted_text(truth: dict) -> str:
    """A synthetic protocol's planted truth (``demo.synthetic.ground_truth``) in the terms of its estimate."""
    if truth.get("tiers"):
        return _tiers_text((tier["tier"], tier["trueEffect"]) for tier in truth["tiers"])
    if truth.get("criteria"):
        levels = [truth["baselineLevel"], *truth["criteria"]]
        return "phase means " + ", ".join(f"{level:.0f}" for level in levels)
    return f"B-A {truth['trueEffect']:+.1f}"


def _estimate(test: dict | None) -> str:
    """The design's own estimate from its randomization result: per tier B - A, per phase mean, or B - A."""
    if test is None:
        return MISSING
    sizes = test["effectSizes"]
    if test.get("test") == "multiple_baseline_test":
        return _tiers_text((row["tier"], row["difference"]) for row in sizes["tiers"])
    if test.get("test") == "changing_criterion_test":
        return "phase means " + ", ".join(f"{row['mean']:.0f}" for row in sizes["phases"])
    return f"B-A {test['observedEffect']:+.1f}"


def _alpha_notes(root: Path, ids: list[str]) -> list[str]:
    """One line per protocol whose design cannot reach its alpha: the arithmetic and the smallest fix."""
    notes = []
    for protocol_id in ids:
        test = _Published(root, protocol_id).results.get("randomization_result") or {}
        check = test.get("alphaCheck") if isinstance(test, dict) else None
        if isinstance(check, dict) and check.get("reachable") is False:
            notes.append(f"{UNREACHABLE_MARK} {protocol_id}: {check.get('message')}")
    return notes


def _change_points(found: dict | None) -> str:
    if found is None:
        return MISSING
    comparison = found["comparison"]
    return (f"{len(comparison['detected'])} found, {comparison['matchedPlanned']}/{len(comparison['planned'])} planned "
            f"matched (P by chance {comparison['matchedByChanceProbability']:.2g})")


def _sequential(plan: dict | None) -> str:
    if plan is None:
        return MISSING
    if plan.get("notRun"):
        return "not run (does not fit the design)"
    position = plan["position"]
    z = MISSING if position["z"] is None else f"{position['z']:+.2f}"
    crossed = position["firstCrossingLook"]
    mode = "retro" if plan["mode"] == "retrospective" else "live"
    return (f"{mode} n={position['nObserved']}/{plan['maxN']} z={z} "
            + (f"crossed@{crossed}" if crossed else "not crossed"))


def shown_path(path: Path) -> str:
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


def _wwc(test: dict | None) -> str:
    return MISSING if test is None else test["wwcDesignStandard"]["verdict"]


def _row(root: Path, protocol_id: str, planted: dict[str, dict]) -> tuple[tuple[str, ...], dict[Path, str]]:
    """The protocol's row of ``HEADERS`` and its unreadable result files (path -> why)."""
    published = _Published(root, protocol_id)
    header = published.header()
    row = (
        f"{protocol_id} {header['protocolName']}" if header else protocol_id,
        header["designType"] if header else MISSING,
        header["metric"] if header else MISSING,
        planted_text(planted[protocol_id]) if protocol_id in planted else MISSING,
        published.cell("randomization_result", _estimate),
        published.cell("its_result", lambda its: _marked(_effect(its), its)),
        published.cell("randomization_result", lambda test: _marked(_p_value(test), test)),
        published.cell("randomization_result", _wwc),
        published.cell("change_points_result", _change_points),
        published.cell("sequential_boundaries", _sequential),
    )
    return row, published.problems


def _rows(root: Path, ids: list[str] | None, planted: dict[str, dict] | None):
    """(rows, unreadable files -> why) of the protocols ``ids`` (default every protocol with a result)."""
    rows, problems = [], {}
    for protocol_id in ids if ids is not None else protocol_ids(root):
        row, unreadable = _row(root, protocol_id, planted or {})
        rows.append(row)
        problems.update(unreadable)
    return rows, problems


def summary_rows(root: Path, ids: list[str] | None = None,
                 planted: dict[str, dict] | None = None) -> list[tuple[str, ...]]:
    """One row of ``HEADERS`` per protocol (``ids`` in that order, default every protocol with a result);
    ``planted`` maps a protocol id to its ground truth when it is known (the synthetic study)."""
    return _rows(root, ids, planted)[0]


WIDTH = 120  # a terminal's width: every line of the table fits it


def _fitted(line: str) -> str:
    return line if len(line) <= WIDTH else line[:WIDTH - 1] + "…"


def _wrapped(note: str) -> str:
    import textwrap

    return textwrap.fill(note, width=WIDTH, subsequent_indent="    ", break_on_hyphens=False)


def _block(row: tuple[str, ...]) -> list[str]:
    """One protocol's lines: who it is, then planted truth beside the estimates, then the supportive analyses."""
    cell = dict(zip(HEADERS, row))
    protocol_id, _, name = cell["protocol"].partition(" ")
    return [_fitted(line) for line in (
        f"{name or protocol_id} ({protocol_id}, {cell['design']}, {cell['metric']})",
        f"  planted    {cell['planted']}",
        f"  estimated  {cell['estimated']}   randomization p {cell['randomization p']}   WWC {cell['WWC']}",
        f"  ITS {cell['ITS effect (95% HDI)']}",
        f"  change points {cell['change points']}   sequential {cell['sequential']}",
    )]


def summary_table(root: Path, ids: list[str] | None = None, planted: dict[str, dict] | None = None) -> str:
    """``summary_rows`` as text that fits ``WIDTH`` columns: a block of five lines per protocol (its name, id,
    design and metric; the planted truth; right under it the design's estimate, the randomization test and the WWC
    verdict; the ITS; change points and sequential position), where the figures are, the confirmatory footnote,
    then one line per design that cannot reach its alpha (wrapped) and one per result file that could not be read
    (its path whole)."""
    ids = ids if ids is not None else protocol_ids(root)
    body, problems = _rows(root, ids, planted)
    lines = [line for row in body for line in _block(row)]
    figures = f"figures: {shown_path(root / '<analysis>' / '<protocol>' / '*.png')}"
    notes = [f"{UNREADABLE} {shown_path(path)}: {why}" for path, why in problems.items()]
    return "\n".join([*lines, _fitted(figures), FOOTNOTE, *map(_wrapped, _alpha_notes(root, ids)), *notes])

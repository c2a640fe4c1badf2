"""Reproducing a published analysis from its ``analysis_runs`` row: the recorded code, the recorded data version,
the recorded parameters, run again in a temporary place, and every number compared with what was published.

How, and why each step:
1. The row (``recorded_run``) names the commit, the data version, the method (``analysisType``) and its parameters
   (``inputParams``). A row whose code was dirty (``codeDirty``) is refused: the commit alone is not the code that
   ran. ``allow_dirty`` re-runs it with the current work tree instead, a meaningful check only while that tree still
   holds the changes it ran with (the caller warns).
2. The code: a detached ``git worktree`` of the commit in a temporary directory (``code_at``), removed afterwards.
3. The data: the snapshot cut rebuilt byte for byte from DVC (``lineage.data_version.restore``, which verifies
   every file's md5, so a corrupt cache or remote is an error, never silently different data), with a
   ``current.dvc`` beside it naming the version, as the pipeline keeps it.
4. The warehouse: ``dbt build`` of the recorded commit's ``dbt_project`` with this environment's dbt, pointed at the
   restored data and a private DuckDB file (``AMERICANO_DATA_DIR``, ``AMERICANO_DUCKDB_PATH``), its target and
   log directories private too, so the checkout's own manifest is never touched. Its blocking tests run as in the
   pipeline; the build records the data version it read (``warehouse_builds``).
5. The analysis: ``driver.py`` in a child process with ``PYTHONPATH`` set to the recorded code, so
   that commit's marts reader, method, statistics and runner compute and write ``result.json``; no MLflow run, no
   ``analysis_runs`` row, nothing published.
6. The comparison (``compare``): the published ``result.json`` (the file in ``artifactPaths`` while it still holds
   this run, else the run's MLflow artifact) against the reproduced one, and the row's ``inputParams`` and
   ``resultsSummary`` against the reproduced row. Recursively: strings, booleans, nulls and the keys of every
   object exactly, numbers within a relative 1e-9 (absolute 1e-12 near zero, where a relative bound means
   nothing), ``NaN`` equal to ``NaN``. Ignored: the ids and times of the publication itself (``PROVENANCE_IDS``).
Everything temporary (the work tree, the restored data, the warehouse) is removed afterwards, also on failure.

What is not recorded, and so taken from the environment: the time zone the marts cut days by
(``AMERICANO_TIMEZONE``) and the installed packages (the virtual environment's dbt, DuckDB, NumPy, PyMC ...).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from americano_pipeline import settings

if TYPE_CHECKING:
    from americano_pipeline.lineage.analysis_runs import AnalysisRunRow

RESULT_FILE = "result.json"  # analysis.publish.RESULT_FILE (not imported: it would load the publishing layer)
DRIVER = Path(__file__).with_name("driver.py")
# Fields of result.json's provenance that every publication sets anew: never compared.
PROVENANCE_IDS = frozenset({"mlflowRunId", "analysisRunId", "dagsterRunId", "startedAt", "completedAt"})
RELATIVE_TOLERANCE, ABSOLUTE_TOLERANCE = 1e-9, 1e-12


class ReproductionError(ValueError):
    """The run cannot be reproduced as asked: unknown id, dirty code, a commit or file that is gone, a build or
    re-run that failed. The message says which and why."""


def recorded_run(conn, run_id: str) -> AnalysisRunRow:
    """The ``analysis_runs`` row ``run_id`` (a reader connection); ``ReproductionError`` if there is none."""
    from americano_pipeline.lineage.analysis_runs import AnalysisRunRow

    row = conn.execute(
        'SELECT id, "protocolId", "runName", "analysisType", "codeCommitHash", "dataVersionHash", "inputParams", '
        '"mlflowRunId", "artifactPaths", "resultsSummary", "startedAt", "completedAt" FROM analysis_runs '
        "WHERE id = %s", (run_id,)).fetchone()
    if row is None:
        raise ReproductionError(f"no analysis run {run_id!r} in analysis_runs (the id is provenance.analysisRunId "
                                "of a result.json, or the id column of analysis_runs)")
    return AnalysisRunRow(id=row[0], protocol_id=row[1], run_name=row[2], analysis_type=row[3], code_commit=row[4],
                          data_version=row[5], input_params=dict(row[6] or {}), mlflow_run_id=row[7],
                          artifact_paths=list(row[8] or []), results_summary=dict(row[9] or {}), started_at=row[10],
                          completed_at=row[11])


# ---- comparison -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    path: str  # e.g. result.json:effectSizes.NAP, result.json:permutationDistribution[3]
    published: object
    reproduced: object


@dataclass
class Comparison:
    numbers: int = 0  # numbers compared (within tolerance or not)
    values: int = 0  # every leaf compared: numbers, strings, booleans, nulls
    differences: list[Difference] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.differences


_MISSING = "<missing>"


def _join(path: str, key) -> str:
    return f"{path}{key}" if not path or path.endswith(":") else f"{path}.{key}"


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def numbers_equal(published: float, reproduced: float) -> bool:
    """Equal within ``RELATIVE_TOLERANCE`` (``ABSOLUTE_TOLERANCE`` near zero); integers exactly; NaN equals NaN."""
    if isinstance(published, int) and isinstance(reproduced, int):
        return published == reproduced
    if math.isnan(published) or math.isnan(reproduced):
        return math.isnan(published) and math.isnan(reproduced)
    return math.isclose(published, reproduced, rel_tol=RELATIVE_TOLERANCE, abs_tol=ABSOLUTE_TOLERANCE)


def compare(published, reproduced, *, path: str = "", into: Comparison | None = None,
            ignore: Callable[[str], bool] = lambda path: False) -> Comparison:
    """Every leaf of ``published`` against ``reproduced`` (module doc, step 6); paths ``ignore`` accepts are
    skipped. Returns the counts and the differences, in document order."""
    found = into if into is not None else Comparison()
    if ignore(path):
        return found
    if isinstance(published, dict) and isinstance(reproduced, dict):
        for key in list(published) + [key for key in reproduced if key not in published]:
            child = _join(path, key)
            if ignore(child):
                continue
            if key not in reproduced or key not in published:
                found.differences.append(Difference(child, published.get(key, _MISSING),
                                                    reproduced.get(key, _MISSING)))
                continue
            compare(published[key], reproduced[key], path=child, into=found, ignore=ignore)
        return found
    if isinstance(published, list) and isinstance(reproduced, list):
        if len(published) != len(reproduced):
            found.differences.append(Difference(f"{path} (length)", len(published), len(reproduced)))
        for index, (left, right) in enumerate(zip(published, reproduced)):
            compare(left, right, path=f"{path}[{index}]", into=found, ignore=ignore)
        return found
    found.values += 1
    if _is_number(published) and _is_number(reproduced):
        found.numbers += 1
        if not numbers_equal(published, reproduced):
            found.differences.append(Difference(path, published, reproduced))
    elif type(published) is not type(reproduced) or published != reproduced:
        found.differences.append(Difference(path, published, reproduced))
    return found


def _shown(value, other=None, width: int = 70) -> str:
    """``value`` for a report line: a long string around its first difference from ``other``."""
    if isinstance(value, str) and isinstance(other, str) and len(value) > width:
        first = next((i for i, (a, b) in enumerate(zip(value, other)) if a != b), min(len(value), len(other)))
        start = max(0, first - width // 3)
        return repr(("..." if start else "") + value[start:start + width] + ("..." if start + width < len(value)
                                                                              else ""))
    text = repr(value)
    return text if len(text) <= width else text[:width - 3] + "..."


def report_lines(differences: list[Difference], limit: int = 40) -> list[str]:
    """One line per difference (path: published, reproduced), the elements of one list that differ in more than
    three places as one line (how many, and the first), at most ``limit`` lines."""
    groups: dict[str, list[Difference]] = {}
    for difference in differences:
        groups.setdefault(re.sub(r"\[\d+\]$", "[]", difference.path), []).append(difference)

    def line(difference: Difference) -> str:
        return (f"{difference.path}: published {_shown(difference.published, difference.reproduced)}, "
                f"reproduced {_shown(difference.reproduced, difference.published)}")

    lines = []
    for key, members in groups.items():
        if key.endswith("[]") and len(members) > 3:
            lines.append(f"{key}: {len(members):,} elements differ, the first {line(members[0])}")
        else:
            lines.extend(line(member) for member in members)
    if len(lines) > limit:
        lines = lines[:limit] + [f"... and {len(lines) - limit} more"]
    return lines


def _publication_ids(path: str) -> bool:
    prefix = "result.json:provenance."
    return path.startswith(prefix) and path[len(prefix):] in PROVENANCE_IDS


def compare_run(run: AnalysisRunRow, published: dict, reproduced: dict) -> Comparison:
    """The published ``result.json`` and the row against the reproduction's (module doc, step 6)."""
    comparison = Comparison()
    compare(published, reproduced["resultJson"], path="result.json:", into=comparison, ignore=_publication_ids)
    compare(run.input_params, reproduced["inputParams"], path="inputParams", into=comparison)
    compare(run.results_summary, reproduced["resultsSummary"], path="resultsSummary", into=comparison)
    return comparison


# ---- the published result ---------------------------------------------------------------------------------------


def published_result(run: AnalysisRunRow, tracking_uri: str, scratch: Path) -> tuple[dict, str]:
    """The ``result.json`` this run published, and where it was read: the file in ``artifactPaths`` while it still
    holds this run (a later run of the same protocol replaces it), else the run's MLflow artifact."""
    paths = [Path(path) for path in run.artifact_paths if Path(path).name == RESULT_FILE]
    for path in paths:
        if path.is_file():
            document = json.loads(path.read_text())
            if document.get("provenance", {}).get("analysisRunId") == run.id:
                return document, str(path)
    if run.mlflow_run_id:
        try:
            from mlflow.artifacts import download_artifacts

            from americano_pipeline.third_party import quiet_mlflow

            quiet_mlflow()
            local = download_artifacts(run_id=run.mlflow_run_id, artifact_path=RESULT_FILE,
                                       dst_path=str(scratch), tracking_uri=tracking_uri)
            return json.loads(Path(local).read_text()), f"MLflow run {run.mlflow_run_id} ({tracking_uri})"
        except Exception as exc:  # noqa: BLE001 - reported with the reason below
            reason = f"its MLflow run {run.mlflow_run_id} has no result.json artifact ({type(exc).__name__}: " \
                     f"{' '.join(str(exc).split())[:300]})"
    else:
        reason = "the row names no MLflow run"
    where = ", ".join(map(str, paths)) or "no result.json"
    raise ReproductionError(f"the result.json analysis run {run.id} published is gone: {where} in artifactPaths no "
                            f"longer holds it, and {reason}")


# ---- code, data, warehouse, re-run ------------------------------------------------------------------------------


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)


@contextmanager
def code_at(commit: str, into: Path, root: Path = settings.PROJECT_ROOT) -> Iterator[Path]:
    """A detached git work tree of ``commit`` (of the repository at ``root``) at ``into``; removed (and pruned)
    afterwards, whatever happened."""
    resolved = _git(root, "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}")
    if resolved.returncode != 0:
        raise ReproductionError(f"commit {commit} is not in the git repository at {root}; fetch it (git fetch) "
                                "and run again")
    added = _git(root, "worktree", "add", "--detach", "--quiet", str(into), resolved.stdout.strip())
    if added.returncode != 0:
        raise ReproductionError(f"git worktree add of {commit} failed: {added.stderr.strip()}")
    try:
        yield into
    finally:
        _git(root, "worktree", "remove", "--force", str(into))
        shutil.rmtree(into, ignore_errors=True)
        _git(root, "worktree", "prune")


def restore_data(run: AnalysisRunRow, data_dir: Path, tracked: Path, remote: str | None) -> Path:
    """The run's snapshot cut at ``<data_dir>/raw/current`` (byte for byte, every file's md5 verified), with the
    ``current.dvc`` that names its version beside it (the build records it)."""
    from americano_pipeline.lineage.data_version import restore

    target = data_dir / "raw" / "current"
    target.parent.mkdir(parents=True, exist_ok=True)
    restore(tracked, run.data_version, target, remote)
    target.with_name("current.dvc").write_text(f"outs:\n- md5: {run.data_version}\n  path: current\n")
    return target


def _tail(text: str, lines: int = 25) -> str:
    """The end of a child's output: from dbt's "Completed with" summary (what failed) if it has one."""
    kept = text.strip().splitlines()
    summary = next((index for index, line in enumerate(kept) if "Completed with" in line), None)
    return "\n".join(kept[summary:][:lines] if summary is not None else kept[-lines:])


def _environment(data_dir: Path, **extra: str) -> dict[str, str]:
    """This environment, pointed at ``data_dir`` (``PYTHONPATH`` only as ``extra`` gives it)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return {**env, "AMERICANO_DATA_DIR": str(data_dir),
            "AMERICANO_DUCKDB_PATH": str(data_dir / "americano_analytics.duckdb"), "MPLBACKEND": "Agg", **extra}


def build_warehouse(code_root: Path, data_dir: Path, work: Path) -> Path:
    """``dbt build`` of ``code_root``'s dbt project into ``<data_dir>/americano_analytics.duckdb`` (module doc,
    step 4); ``ReproductionError`` with the end of dbt's output if it fails."""
    project = code_root / "dbt_project"
    dbt = Path(sys.executable).parent / "dbt"
    command = [str(dbt), "--no-use-colors", "build", "--project-dir", str(project), "--profiles-dir", str(project),
               "--target-path", str(work / "dbt_target"), "--log-path", str(work / "dbt_logs")]
    done = subprocess.run(command, capture_output=True, text=True, cwd=work, env=_environment(data_dir))
    if done.returncode != 0:
        raise ReproductionError(f"dbt build of the recorded commit's warehouse failed (exit {done.returncode}):\n"
                                f"{_tail(done.stdout + done.stderr)}")
    return data_dir / "americano_analytics.duckdb"


def rerun(run: AnalysisRunRow, code_root: Path, data_dir: Path, work: Path) -> dict:
    """The analysis re-run with the code at ``code_root`` (module doc, step 5); returns the driver's answer with
    the reproduced ``result.json`` under ``resultJson``."""
    spec, answer, driver = work / "spec.json", work / "answer.json", work / "driver" / DRIVER.name
    driver.parent.mkdir()
    shutil.copyfile(DRIVER, driver)
    spec.write_text(json.dumps({"code_root": str(code_root), "asset": run.analysis_type,
                                "protocol_id": run.protocol_id, "params": run.input_params,
                                "code_commit": run.code_commit, "output_root": str(work / "analysis"),
                                "answer": str(answer)}))
    done = subprocess.run([sys.executable, str(driver), str(spec)], capture_output=True, text=True, cwd=work,
                          env=_environment(data_dir, PYTHONPATH=str(code_root)))
    if done.returncode != 0:
        raise ReproductionError(f"re-running {run.analysis_type} of protocol {run.protocol_id} with the recorded "
                                f"code failed (exit {done.returncode}):\n{_tail(done.stdout + done.stderr)}")
    reproduced = json.loads(answer.read_text())
    reproduced["resultJson"] = json.loads(Path(reproduced["result"]).read_text())
    return reproduced


@dataclass(frozen=True)
class Reproduction:
    run: AnalysisRunRow
    code: str  # what code ran: "commit <sha> (git worktree)" or "the current work tree (...)"
    published_from: str
    comparison: Comparison
    seconds: dict[str, float]  # per step


def reproduce_run(run: AnalysisRunRow, *, allow_dirty: bool = False, tracked: Path | None = None,
                  remote: str | None = None, tracking_uri: str | None = None,
                  project_root: Path = settings.PROJECT_ROOT,
                  progress: Callable[[str], None] = lambda line: None) -> Reproduction:
    """Reproduce ``run`` (module doc) and compare; ``ReproductionError`` when it cannot be re-run at all."""
    from americano_pipeline.lineage.data_version import checked_version

    if run.analysis_type not in ("its_result", "randomization_result", "change_points_result",
                                 "sequential_boundaries"):
        raise ReproductionError(f"analysis run {run.id} is a {run.analysis_type!r} run; only the four result assets "
                                "(its_result, randomization_result, change_points_result, sequential_boundaries) "
                                "are reproduced")
    checked_version(run.data_version)
    if run.code_dirty and not allow_dirty:
        raise ReproductionError(
            f"analysis run {run.id} ran with uncommitted changes on top of commit {run.code_commit[:12]} "
            "(inputParams.codeDirty=true), so that commit is not the code that ran and it cannot be reproduced from "
            "it. --allow-dirty re-runs it with the current work tree instead: a meaningful check only while that "
            "tree still holds the changes it ran with")
    tracked = tracked or settings.current_snapshot_dir()
    tracking_uri = tracking_uri or settings.mlflow_tracking_uri()
    seconds: dict[str, float] = {}
    work = Path(tempfile.mkdtemp(prefix="americano-reproduce-"))
    try:
        published, published_from = published_result(run, tracking_uri, work)
        with _code(run, allow_dirty, work / "code", project_root) as (code_root, code):
            progress(f"code: {code}")
            started = time.monotonic()
            restore_data(run, work / "data", tracked, remote)
            seconds["restore"] = time.monotonic() - started
            progress(f"data: version {run.data_version} restored from DVC ({seconds['restore']:.1f} s)")
            started = time.monotonic()
            build_warehouse(code_root, work / "data", work)
            seconds["dbt build"] = time.monotonic() - started
            progress(f"warehouse: dbt build of {code_root / 'dbt_project'} ({seconds['dbt build']:.1f} s)")
            started = time.monotonic()
            reproduced = rerun(run, code_root, work / "data", work)
            seconds["analysis"] = time.monotonic() - started
            progress(f"analysis: {run.analysis_type} of protocol {run.protocol_id} re-run "
                     f"({seconds['analysis']:.1f} s)")
        return Reproduction(run, code, published_from, compare_run(run, published, reproduced), seconds)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def _code(run: AnalysisRunRow, allow_dirty: bool, into: Path, project_root: Path) -> Iterator[tuple[Path, str]]:
    if run.code_dirty and allow_dirty:
        yield project_root, (f"the current work tree {project_root} (--allow-dirty: the run's code was commit "
                             f"{run.code_commit[:12]} plus uncommitted changes)")
        return
    with code_at(run.code_commit, into, project_root) as root:
        yield root, f"commit {run.code_commit} (a git worktree in {root})"

"""`americano reproduce`: a published analysis re-run from its analysis_runs row (recorded commit, DVC data version,
recorded parameters) reproduces every number; a corrupt data version and a changed parameter are caught.

On the seeded study (session fixtures ``source`` and ``built``), copied to a private data directory so nothing of
the shared study changes: real PostgreSQL rows, the real DVC cache, a real dbt build, a real MLflow store. The
recorded code is a git worktree of HEAD when the checkout is clean (CI's fresh clone); a dev checkout with
uncommitted changes records codeDirty=true, and the tests reproduce with --allow-dirty (the current work tree).
"""

import json
import shutil
import time

import dagster as dg
import pytest

from americano_pipeline.analysis.publish import RESULT_FILE
from americano_pipeline.assets.analysis import analysis_assets
from americano_pipeline.commands.reproduce import reproduce
from americano_pipeline.lineage.analysis_runs import new_cuid
from americano_pipeline.lineage.code_state import git_state
from americano_pipeline.lineage.data_version import VersionNotFound
from americano_pipeline.partitions import partition_range_tags, register_protocols
from americano_pipeline.reproduction.rerun import ReproductionError, code_at
from americano_pipeline.resources.mlflow_tracking import MlflowTrackingResource
from americano_pipeline.resources.postgres import PostgresResource
from americano_pipeline.settings import PROJECT_ROOT
from americano_pipeline.source.connection import connect
from tests.integration.warehouse_support import warehouse_env, warehouse_path

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DIRTY = git_state().dirty  # a dev checkout: reproduce with the current work tree (--allow-dirty)
ITS_CONFIG = {"ops": {"analysis__its_result": {"config": {"draws": 300, "tune": 300, "seed": 3}}}}


def copy_data(source_dir, target):
    """The study's snapshot store (with its DVC repository and cache) and its built warehouse, in ``target``."""
    shutil.copytree(source_dir / "raw", target / "raw", symlinks=True)
    shutil.copyfile(warehouse_path(source_dir), warehouse_path(target))
    return target


def env(data_dir):
    return warehouse_env(data_dir, AMERICANO_DVC_REMOTE="")


def run_id(data_dir, asset, protocol_id) -> str:
    return json.loads((data_dir / "analysis" / asset / protocol_id / RESULT_FILE).read_text())["provenance"][
        "analysisRunId"]


def copy_row(url, original: str, **params) -> str:
    """A copy of analysis_runs row ``original`` under a new id, its inputParams changed by ``params``."""
    copy = new_cuid()
    with connect(url) as conn:
        conn.execute(
            """INSERT INTO analysis_runs (id, "protocolId", "runName", "analysisType", "codeCommitHash",
                   "dataVersionHash", "inputParams", "mlflowRunId", "artifactPaths", "resultsSummary", "startedAt",
                   "completedAt")
               SELECT %s, "protocolId", "runName", "analysisType", "codeCommitHash", "dataVersionHash",
                      "inputParams" || %s::jsonb, "mlflowRunId", "artifactPaths", "resultsSummary", "startedAt",
                      "completedAt"
               FROM analysis_runs WHERE id = %s""", (copy, json.dumps(params), original))
    return copy


def worktrees() -> str:
    import subprocess

    return subprocess.run(["git", "-C", str(PROJECT_ROOT), "worktree", "list"], capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def published(source, built, tmp_path_factory):
    """A private copy of the study with the randomization test of every protocol and one (short) ITS published."""
    assert built.success
    data_dir = copy_data(source.data_dir, tmp_path_factory.mktemp("reproduce") / "data")
    postgres = PostgresResource(url=source.url)
    its_protocol = next(p["protocolId"] for p in source.truth["protocols"] if p["key"] == "ab_reminder")
    with dg.DagsterInstance.ephemeral() as instance, env(data_dir):
        keys = register_protocols(instance, postgres)
        resources = {"postgres": postgres, "mlflow_tracking": MlflowTrackingResource()}
        for selected, partitions, config in (("randomization_result", keys, {}),
                                             ("its_result", [its_protocol], ITS_CONFIG)):
            outcome = dg.materialize(analysis_assets, instance=instance, tags=partition_range_tags(partitions),
                                     run_config=config, selection=[dg.AssetKey(["analysis", selected])],
                                     resources=resources, raise_on_error=False)
            assert outcome.success, selected
    return data_dir


def protocol_of(source, key: str) -> str:
    return next(p["protocolId"] for p in source.truth["protocols"] if p["key"] == key)


def test_a_published_randomization_test_reproduces_identically(published, source, capsys):
    identifier = run_id(published, "randomization_result", protocol_of(source, "abab_reward"))
    started = time.monotonic()
    with env(published):
        assert reproduce(identifier, allow_dirty=DIRTY, url=source.url) is True
    out = capsys.readouterr().out
    print(out, f"{time.monotonic() - started:.1f} s")
    assert "\nidentical: " in out and " numbers " in out
    assert ("current work tree" if DIRTY else "(a git worktree in ") in out
    assert "americano-reproduce-" not in worktrees()  # the worktree is gone


def test_a_published_its_reproduces_identically(published, source, capsys):
    identifier = run_id(published, "its_result", protocol_of(source, "ab_reminder"))
    with env(published):
        assert reproduce(identifier, allow_dirty=DIRTY, url=source.url) is True
    out = capsys.readouterr().out
    print(out)
    assert "\nidentical: " in out


def test_a_changed_seed_in_the_row_is_reported_as_differences(published, source, capsys):
    # the alternating design's test is Monte Carlo (over 10,000 placements), so its p-value depends on the seed
    original = run_id(published, "randomization_result", protocol_of(source, "alt_retrieval"))
    tampered = copy_row(source.url, original, seed=1)
    with env(published):
        assert reproduce(tampered, allow_dirty=DIRTY, url=source.url) is False
    out = capsys.readouterr().out
    print(out)
    assert "published: MLflow run " in out  # the file on disk holds the original run, its MLflow artifact this one
    assert "  result.json:provenance.parameters.seed: published 0, reproduced 1\n" in out
    assert "  result.json:pValue: published " in out and "\nidentical" not in out


def test_a_changed_n_permutations_is_reported(published, source, capsys):
    # 50 < the ABAB design's placements: the exact test becomes a Monte Carlo one
    original = run_id(published, "randomization_result", protocol_of(source, "abab_reward"))
    tampered = copy_row(source.url, original, n_permutations=50)
    with env(published):
        assert reproduce(tampered, allow_dirty=DIRTY, url=source.url) is False
    out = capsys.readouterr().out
    assert "  result.json:provenance.parameters.n_permutations: published 10000, reproduced 50\n" in out
    assert "  result.json:exact: published True, reproduced False\n" in out


def test_a_corrupt_copy_of_the_data_version_is_refused(published, source, tmp_path):
    identifier = run_id(published, "randomization_result", protocol_of(source, "abab_reward"))
    corrupt = tmp_path / "data"
    copy_data(published, corrupt)
    shutil.copytree(published / "analysis", corrupt / "analysis")
    objects = corrupt / "raw" / ".dvc" / "cache" / "files" / "md5"
    version = source.data_version  # the version every row of the study records
    entry = json.loads((objects / version[:2] / version[2:]).read_text())[0]
    cached = objects / entry["md5"][:2] / entry["md5"][2:]
    cached.chmod(0o644)
    content = bytearray(cached.read_bytes())
    content[len(content) // 2] ^= 0xFF  # one byte of one Parquet file of the cut
    cached.write_bytes(bytes(content))
    with env(corrupt), pytest.raises(VersionNotFound, match=f"{entry['relpath']} of data version .*is corrupt"):
        reproduce(identifier, allow_dirty=DIRTY, url=source.url)
    assert "americano-reproduce-" not in worktrees()


def test_an_unknown_id_and_a_dirty_run_without_allow_dirty_are_refused(published, source):
    with env(published), pytest.raises(ReproductionError, match="no analysis run 'cnothere"):
        reproduce("cnothere000000000000000000", url=source.url)
    original = run_id(published, "randomization_result", protocol_of(source, "abab_reward"))
    dirty = copy_row(source.url, original, codeDirty=True)
    with env(published), pytest.raises(ReproductionError, match="uncommitted changes .*--allow-dirty"):
        reproduce(dirty, url=source.url)


def test_a_worktree_of_the_checkouts_head_is_made_and_removed(tmp_path):
    with code_at("HEAD", tmp_path / "code") as root:
        assert (root / "americano_pipeline" / "analysis" / "runner.py").is_file()
        assert (root / "dbt_project" / "dbt_project.yml").is_file()
        assert str(root) in worktrees()
    assert not (tmp_path / "code").exists() and str(tmp_path / "code") not in worktrees()

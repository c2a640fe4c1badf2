"""git.dirty tells the truth: false for a clean checkout even after the pipeline wrote its data, true once a
tracked source file is edited or a new source file appears."""

import subprocess

from americano_pipeline.lineage.code_state import GitState, git_state


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), "-c", "user.email=ci@example.org", "-c", "user.name=ci", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


def checkout(tmp_path):
    """A small clone-like work tree: code, and a git-ignored data directory as the project has."""
    repo = tmp_path / "project"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "module.py").write_text("VALUE = 1\n")
    (repo / ".gitignore").write_text("/data/*\n")
    git(repo.parent, "init", "-q", str(repo))
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "code")
    return repo


def test_a_clean_checkout_with_generated_data_is_not_dirty(tmp_path):
    repo = checkout(tmp_path)
    (repo / "data" / "raw" / ".dvc").mkdir(parents=True)
    (repo / "data" / "raw" / "current.dvc").write_text("outs: []\n")
    assert git_state(repo) == GitState(git(repo, "rev-parse", "HEAD"), False)


def test_an_edited_tracked_file_makes_it_dirty(tmp_path):
    repo = checkout(tmp_path)
    (repo / "pkg" / "module.py").write_text("VALUE = 2\n")
    assert git_state(repo).dirty is True


def test_a_new_source_file_makes_it_dirty(tmp_path):
    repo = checkout(tmp_path)
    (repo / "pkg" / "new.py").write_text("")
    assert git_state(repo).dirty is True


def test_outside_a_work_tree_the_commit_is_unknown_and_counted_dirty(tmp_path):
    assert git_state(tmp_path) == GitState("unknown", True)

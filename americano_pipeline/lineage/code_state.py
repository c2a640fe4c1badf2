"""The state of the code that produced a result: the git commit and whether the work tree differs from it.

Why "dirty" matters: a commit reproduces the code only when nothing is changed or added beside it. Generated data
never counts: ``data/`` is git-ignored, and DVC keeps its own repository there (``lineage.data_version``), so a
fresh clone that ran ``make demo`` or ``make test`` still records ``git.dirty=false``; an edited or new source
file records ``true``.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from americano_pipeline import settings


@dataclass(frozen=True)
class GitState:
    commit: str  # full SHA, or "unknown" outside a git work tree
    dirty: bool  # uncommitted changes or untracked files: the commit alone does not reproduce the code


def git_state(root: Path = settings.PROJECT_ROOT) -> GitState:
    """HEAD of the work tree holding the code, and whether ``git status --porcelain`` shows anything."""
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        return GitState("unknown", True)
    status = subprocess.run(["git", "-C", str(root), "status", "--porcelain"], capture_output=True, text=True)
    return GitState(head.stdout.strip(), status.returncode != 0 or bool(status.stdout.strip()))

"""How a command that checks a file before writing says no: one heading, then every problem on its own line."""

from __future__ import annotations

import sys


def refused(where: str, problems: list[str], consequence: str) -> bool:
    """Print ``<where>: N problem(s), <consequence>:`` and the problems, indented, on stderr; False (the exit)."""
    count = len(problems)
    print(f"{where}: {count} problem{'s' * (count != 1)}, {consequence}:", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    return False

"""Which rows an extract takes: the last N days of events (or all history), one user or all.

Why its own module: the window is run configuration (Dagster config, jobs, the CLI) as much as extract logic, and
reading it must not import the Arrow/ADBC machinery of the extract itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

ALL_HISTORY = 0  # ``days`` that takes every event, whatever its age
DEFAULT_DAYS = 90  # the original export script's default window


@dataclass(frozen=True)
class ExtractWindow:
    """Run config of the original export script: the last ``days`` days of events (0 = all), one user or all."""

    days: int = DEFAULT_DAYS
    user_id: str | None = None

    def __post_init__(self):
        if self.days < 0:
            raise ValueError(f"days must be >= 0 ({ALL_HISTORY} = all history), got {self.days}")

    def where(self, table: str) -> str:
        """The WHERE clause for ``table``, values as quoted literals (binary COPY takes no bind parameters)."""
        clauses = []
        if self.days != ALL_HISTORY and table == "behavioral_events":
            clauses.append(f'"timestamp" >= now() - make_interval(days => {sql.Literal(self.days).as_string()})')
        if self.user_id:
            user = sql.Literal(self.user_id).as_string()
            if table in ("behavioral_events", "experiment_protocols", "context_metadata"):
                clauses.append(f'"userId" = {user}')
            else:
                clauses.append(f'"protocolId" IN (SELECT id FROM experiment_protocols WHERE "userId" = {user})')
        return " WHERE " + " AND ".join(clauses) if clauses else ""

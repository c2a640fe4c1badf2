"""dbt-duckdb plugin: wait, within a bound, for another process to release the DuckDB file before dbt connects.

Why: DuckDB allows one writer process and refuses a second one at once ("Could not set lock on file ...:
Conflicting lock is held in <program> (PID n)"). A nightly dbt run that starts while an analysis or a notebook
still holds the file should wait for it, but not forever. dbt-duckdb's own ``retries`` cannot give that bound:
dbt re-opens a failed connection from its error handlers, so each retry budget is spent several times over.
This plugin runs before every connection attempt of the dbt process and waits only until ONE process-wide
deadline (``timeout_seconds``, AMERICANO_DUCKDB_LOCK_TIMEOUT), then fails with DuckDB's message, which names
the process holding the lock. Nothing is written while waiting, so the file is never left half-built.
"""

import time

import duckdb
from dbt.adapters.duckdb.plugins import BasePlugin

_FIRST_PAUSE, _LONGEST_PAUSE = 0.1, 2.0


class DuckDBLockTimeout(RuntimeError):
    """Another process kept the DuckDB file locked for longer than the configured timeout."""


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict) -> None:
        raw = str(plugin_config.get("timeout_seconds", "60"))
        try:
            self._timeout = float(raw)
        except ValueError:
            self._timeout = -1.0
        if not self._timeout >= 0:
            raise ValueError(f"AMERICANO_DUCKDB_LOCK_TIMEOUT must be a number of seconds >= 0, got {raw!r}")
        self._deadline = None

    def update_connection_config(self, creds, config: dict) -> None:
        """Called by dbt-duckdb right before it connects: return once the file can be opened for writing."""
        if self._deadline is None:
            self._deadline = time.monotonic() + self._timeout
        pause = _FIRST_PAUSE
        while True:
            try:
                duckdb.connect(creds.path).close()
                return
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise
                remaining = self._deadline - time.monotonic()
                if remaining <= 0:
                    raise DuckDBLockTimeout(
                        f"{exc} -- dbt waited {self._timeout:g} s (AMERICANO_DUCKDB_LOCK_TIMEOUT) for that process "
                        "to release the file; stop it or retry later. DuckDB allows one writer process; readers "
                        "should open the file with read_only=True."
                    ) from None
                time.sleep(min(pause, remaining))
                pause = min(pause * 2, _LONGEST_PAUSE)

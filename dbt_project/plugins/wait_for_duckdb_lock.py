"""dbt-duckdb plugin: wait, within a bound, for another process to release the DuckDB file before dbt connects.

Why: DuckDB allows one writer process and refuses a second one at once ("Could not set lock on file ...:
Conflicting lock is held in <program> (PID n)"). A nightly dbt run that starts while an analysis or a notebook
still holds the file should wait for it, but not forever. dbt-duckdb's own ``retries`` cannot give that bound:
dbt re-opens a failed connection from its error handlers, so each retry budget is spent several times over.
This plugin runs before every connection attempt of the dbt process and waits only until ONE process-wide
deadline (``timeout_seconds``, AMERICANO_DUCKDB_LOCK_TIMEOUT), then fails with DuckDB's message, which names
the process holding the lock. Nothing is written while waiting, so the file is never left half-built. The
waiting itself is the pipeline's (``americano_pipeline.lineage.warehouse_release.open_when_free``), so dbt and the
Dagster asset that stages the warehouse wait and fail alike.
"""

import time

from dbt.adapters.duckdb.plugins import BasePlugin

from americano_pipeline.lineage.warehouse_release import lock_timeout, open_when_free


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict) -> None:
        self._timeout = lock_timeout(str(plugin_config.get("timeout_seconds", "60")))
        self._deadline = None

    def update_connection_config(self, creds, config: dict) -> None:
        """Called by dbt-duckdb right before it connects: return once the file can be opened for writing."""
        if self._deadline is None:
            self._deadline = time.monotonic() + self._timeout
        open_when_free(creds.path, self._deadline, self._timeout).close()

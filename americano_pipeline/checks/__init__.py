"""Data-quality gates: Pandera schemas derived from the source DDL (``schemas``), validation reports that name
row, column, rule and value (``reports``), and the quarantine/promote gate a new snapshot cut passes before it
becomes current (``gate``). The Dagster asset checks are built from these in ``assets.raw``."""

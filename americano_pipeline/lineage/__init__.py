"""Where every number came from: the one data version (``data_version``: DVC's hash of the current snapshot cut,
and restore by hash), the snapshot store it versions (``snapshot_store``), the code state (``code_state``: git
commit and dirty flag), the MLflow runs and their standard tags (``tracking``) and the study app's provenance table
(``analysis_runs``). Dagster-free: the assets and the analysis layer call it with plain values."""

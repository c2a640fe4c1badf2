"""The source database, the study app's PostgreSQL: how to reach it (``connection``), which one is configured
(``database``: an external URL or the embedded cluster), the embedded local cluster that is the default
(``cluster``), the one DDL file and what is derived from it (``schema``), and the consistent extract of a cut
(``extract``).

This layer knows nothing of snapshots as versions, checks, Dagster or MLflow; everything above reads the source
through it.
"""

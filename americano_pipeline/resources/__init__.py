"""Dagster resources only: configuration and a client for PostgreSQL, DVC and MLflow. No policy lives here; what
to do with a client is the business of ``source``, ``lineage``, ``checks`` and ``analysis``."""

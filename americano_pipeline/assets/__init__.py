"""Thin Dagster wiring of the pipeline layers: snapshots, the dbt warehouse, the analyses."""

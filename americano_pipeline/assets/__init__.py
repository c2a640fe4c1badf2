"""Thin Dagster wiring of the pipeline layers: the snapshot (``raw``), the dbt warehouse (``dbt``), the analyses
(``analysis``), and the one translation of a Dagster context into provenance tags (``provenance``). Asset bodies
read inputs, call the layers below, and turn what they return into materializations, checks and metadata."""

"""Dagster resources: configuration from environment variables, connections opened only when used."""

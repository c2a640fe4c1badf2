"""The analysis layer without Dagster: read a protocol from the warehouse, run the statistics core on it, draw the
figures, and publish the result with its provenance (MLflow run, ``analysis_runs`` row, atomic files).

The Dagster assets (``americano_pipeline.assets.analysis``) only wire these functions to partitions, config and
resources, so everything here can be called and tested directly.
"""

"""The research API for the study app (FastAPI): the four on-demand analyses of the app's seed endpoints and the
results the pipeline published, each request acting as the one user its bearer token names.

Modules, one job each: ``tokens`` (HMAC bearer tokens and their secret), ``models`` (request and response shapes,
exactly the app's field names), ``users`` (PostgreSQL as the ``americano_api`` login under row-level security),
``warehouse`` (the read-only marts restricted to the caller), ``pool`` (the bounded worker pool for CPU-bound
fits), ``research`` (the four computations on the statistics core), ``recording`` (each on-demand computation as
an exploratory run), ``published`` (the pipeline's result files), ``errors`` (HTTP mapping), ``app`` (routes).
"""

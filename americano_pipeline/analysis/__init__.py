"""The analysis layer without Dagster: a protocol's registered design and daily rows (``protocol``), read from the
one marts reader (``marts``), turned into each method's inputs by documented rules (``inputs``), analysed by the
statistics core (``methods``, with ``comparisons`` against the design and ``figures``), and published with its
provenance in an order that never leaves half a result (``runner``, ``publish``); ``batch`` is the loop over a
run's protocols and its failure policy.

The Dagster assets (``americano_pipeline.assets.analysis``) only wire these functions to partitions, config and
resources, so everything here can be called and tested directly.
"""

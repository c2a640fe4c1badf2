"""Reproducing a published analysis (``americano reproduce``): ``rerun`` rebuilds the recorded code, data and
warehouse and compares every number; ``driver`` is the script that re-runs the recorded asset's method with the
recorded commit's own code in a child process (never imported by the package).

Why its own package above ``assets/``: the re-run does what an analysis asset does for one partition, with the
asset's config classes, so it sits where it may import them.
"""

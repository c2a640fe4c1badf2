"""Single-case randomization tests by design, and what they share.

Why a package: each design (alternating treatments, multiple baseline, changing criterion) has its own reference
set — the assignments its randomization could have produced — and its own statistic, but all share one result
type, one way to list or sample a reference set, one extremeness rule and one p-value (``core``), plus the
registration arithmetic (``registration``). The phase (reversal) test keeps its home in ``stats.randomization``,
which re-exports the public names of this package: callers import every randomization test from there. Nothing
is imported here, so loading one design module does not load the others.
"""

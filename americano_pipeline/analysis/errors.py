"""The one exception type of the analysis layer.

Why its own type: a backfill over many protocols must tell "this protocol's data cannot support this method"
(the partition fails, the others go on) apart from an infrastructure failure (database, MLflow store, a bug),
which stops the run. Messages name the protocol, the method and what is missing or wrong.
"""

from __future__ import annotations


class AnalysisError(ValueError):
    """A method cannot run on a protocol's data or design; the message says which, why and what would fix it."""

    def __init__(self, protocol_id: str, method: str, problem: str):
        super().__init__(f"protocol {protocol_id}: {method}: {problem}")
        self.protocol_id = protocol_id
        self.method = method
        self.problem = problem

"""Request and response shapes of the research API: the study app's field names and types, exactly (DESIGN.md §6).

Why pydantic models rather than dicts: the OpenAPI schema the app type-checks against is generated from them (a
``tuple[float, float]`` publishes as a two-item tuple, a field without a default as required), and a bad body is
refused with a 422 naming the field before any work starts. Requests forbid unknown fields (a misspelt optional
field would otherwise be ignored silently); responses allow extra fields, which the statistics core adds (the
app ignores them). Numbers are finite: NaN and Infinity are not JSON.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

USER_ID = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", description="the app's user id")
METRIC = Field(min_length=1, max_length=64, pattern=r"^[a-z_]+$",
               description="a metric of the warehouse's catalogue (GET /api/analytics/research/metrics)")
MAX_DAYS = 3650


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Response(BaseModel):
    model_config = ConfigDict(extra="allow")


class PriorParams(Request):
    effectMean: float
    effectSd: float = Field(gt=0)


class BayesianITSRequest(Request):
    userId: str = USER_ID
    metric: str = METRIC
    interventionDate: date
    prePeriodDays: int = Field(ge=2, le=MAX_DAYS)
    postPeriodDays: int = Field(ge=1, le=MAX_DAYS)
    priorParams: PriorParams | None = None


class CausalEffect(Response):
    mean: float
    sd: float
    hdi95: tuple[float, float]
    probability_positive: float


class Counterfactual(Response):
    dates: list[str]
    predicted: list[float]
    observed: list[float]
    lower95: list[float]
    upper95: list[float]


class Diagnostics(Response):
    rhat: float
    ess_bulk: float
    ess_tail: float


class BayesianITSResponse(Response):
    causalEffect: CausalEffect
    counterfactual: Counterfactual
    diagnostics: Diagnostics
    interpretation: str


class RandomizationRequest(Request):
    userId: str = USER_ID
    protocolId: str = Field(pattern=r"^c[a-z0-9]{24}$", description="a CUID of one of the caller's protocols")
    metric: str = METRIC
    nPermutations: int = Field(default=10_000, ge=100, le=100_000)


class RandomizationResponse(Response):
    observedEffect: float
    pValue: float
    effectSize: float | None = Field(description="Cohen's d; null when the pooled sd is 0")
    interpretation: str
    permutationDistribution: list[float]
    passesSCEDStandards: bool


class ChangePointsRequest(Request):
    userId: str = USER_ID
    metric: str = METRIC
    startDate: date
    endDate: date
    minSegmentLength: int = Field(default=7, ge=2, le=MAX_DAYS)


class ChangePoint(Response):
    date: str
    confidence: float
    beforeMean: float
    afterMean: float
    percentChange: float | None = Field(description="null when the mean before is exactly 0")


class ChangePointsResponse(Response):
    changePoints: list[ChangePoint]
    algorithm: str


class SequentialRequest(Request):
    alphaLevel: float = Field(gt=0, lt=1)
    spendingFunction: Literal["obrien_fleming", "pocock"]
    maxN: int = Field(ge=2, le=100_000)
    nInterimAnalyses: int = Field(ge=1, le=50)


class Boundary(Response):
    n: int
    criticalValue: float
    alphaSpent: float


class SequentialResponse(Response):
    boundaries: list[Boundary]
    warning: str


class Provenance(Response):
    """Where a published result came from."""

    codeCommit: str | None = None
    dataVersionHash: str | None = None
    mlflowRunId: str | None = None
    analysisRunId: str | None = None


class PublishedResult(Response):
    asset: str
    method: str | None
    completedAt: str | None
    provenance: Provenance
    figures: list[str]
    result: dict


class ProtocolSummary(Response):
    id: str
    protocolName: str
    designType: str
    primaryOutcome: str
    startDate: str
    endDate: str | None


class ProtocolResults(Response):
    protocol: ProtocolSummary
    results: list[PublishedResult]


class Metrics(Response):
    metrics: list[str]

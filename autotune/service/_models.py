"""The API's answers as pydantic models (requests are ``autotune.study.queue.StudyRequest``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from autotune.study.queue import Progress
from autotune.study.read import knobs_text
from autotune.values import TrialRecord

State = Literal["queued", "running", "done", "cancelled", "failed"]


class Created(BaseModel):
    name: str
    url: str = Field(description="Where the study's state is read (GET).")


class TrialOut(BaseModel):
    """One completed trial: its deployment and what the emulator measured."""

    trial_number: int
    instance_type: str
    batch_size: int
    knobs: dict[str, Any] = Field(description="The hardware generation's settings, by name.")
    config: str = Field(description="The knobs in a few words.")
    p50_ms: float
    p95_ms: float
    p99_ms: float
    throughput: float = Field(description="Sequences per second.")
    cost_per_1m_usd: float
    cost_per_hour_usd: float
    fleet_size: int | None
    bottleneck: str
    traffic: dict[str, Any] = Field(
        default_factory=dict,
        description="The traffic it was measured at: open-loop (qps, arrival, sequences per "
        "request) or closed-loop (clients).",
    )
    max_batch_delay_ms: float = Field(0.0, description="Open loop: the server's batch delay.")
    capacity_qps: float | None = Field(None, description="Requests/s within the SLO, if asked.")

    @classmethod
    def of(cls, r: TrialRecord) -> TrialOut:
        return cls(
            trial_number=r.trial_number,
            instance_type=r.deployment.instance_type,
            batch_size=r.workload.batch_size,
            knobs={k: v for k, v in r.deployment.to_dict().items() if k != "instance_type"},
            config=knobs_text(r.deployment),
            p50_ms=r.latency.p50_ms,
            p95_ms=r.latency.p95_ms,
            p99_ms=r.latency.p99_ms,
            throughput=r.result.throughput,
            cost_per_1m_usd=r.cost.per_1m_usd,
            cost_per_hour_usd=r.cost.per_hour_usd,
            fleet_size=r.cost.fleet_size,
            bottleneck=r.result.bottleneck,
            traffic=r.evaluation.load.traffic(),
            max_batch_delay_ms=r.evaluation.load.max_batch_delay_ms,
            capacity_qps=r.result.capacity_qps,
        )


class ProgressOut(BaseModel):
    n: int = Field(description="Finished trials (completed, or could not deploy).")
    total: int = Field(description="Finished trials asked for.")


class StudyOut(BaseModel):
    """A study's state, progress and best trials so far."""

    name: str
    url: str
    state: State
    objective: str
    n_complete: int
    n_failed: int = Field(description="Trials whose config could not deploy.")
    n_running: int
    progress: ProgressOut
    best: list[TrialOut] = Field(description="Best so far (the Pareto set for 'pareto').")
    submitted_by: str | None = None
    error: str | None = Field(None, description="Why a failed study failed.")
    submitted_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @classmethod
    def of(cls, p: Progress, url: str, best: list[TrialRecord]) -> StudyOut:
        return cls(
            name=p.name,
            url=url,
            state=p.state,
            objective=p.objective,
            n_complete=p.n_complete,
            n_failed=p.n_finished - p.n_complete,
            n_running=p.n_running,
            progress=ProgressOut(n=p.n_finished, total=p.total),
            best=[TrialOut.of(r) for r in best],
            submitted_by=p.submitted_by,
            error=p.error,
            submitted_at=p.submitted_at,
            started_at=p.started_at,
            finished_at=p.finished_at,
        )


class StudyList(BaseModel):
    studies: list[StudyOut]


class FailedOut(BaseModel):
    trial_number: int
    reason: str


class TrialsOut(BaseModel):
    name: str
    trials: list[TrialOut]
    failed: list[FailedOut] = Field(description="Trials whose config could not deploy.")


class BestOut(BaseModel):
    name: str
    objective: str
    feasible: bool = Field(description="Whether a completed trial meets the constraints.")
    best: list[TrialOut]


class Health(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]


__all__ = [
    "BestOut",
    "Created",
    "FailedOut",
    "Health",
    "ProgressOut",
    "State",
    "StudyList",
    "StudyOut",
    "TrialOut",
    "TrialsOut",
]

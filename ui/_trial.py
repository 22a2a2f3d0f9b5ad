"""One trial in detail: its stages, cores, bottleneck, latency spread and a request timeline."""

from __future__ import annotations

from dataclasses import dataclass

from autotune.catalog import get_instance
from autotune.study.read import num
from autotune.values import StageResult, TrialRecord

MB = 1e6


def deployment_mode(record: TrialRecord) -> str:
    """How the cores are used, in the words of the record's hardware generation."""
    return record.result.mode


@dataclass(frozen=True)
class StageRow:
    """One pipeline stage's plan and simulated timing (times in ms, sizes in MB)."""

    stage: int
    n_ops: int
    tensor_gflop: float
    weight_mb: float
    resident_mb: float
    streamed_mb: float
    estimated_ms: float
    service_ms: float
    compute_ms: float
    dram_ms: float
    link_ms: float
    busy_pct: float


STAGE_COLUMNS = {
    "stage": "stage",
    "n_ops": "ops",
    "tensor_gflop": "tensor GFLOP",
    "weight_mb": "weights (MB)",
    "resident_mb": "on-chip (MB)",
    "streamed_mb": "streamed (MB)",
    "estimated_ms": "compiler estimate (ms)",
    "service_ms": "service (ms)",
    "compute_ms": "compute (ms)",
    "dram_ms": "DRAM (ms)",
    "link_ms": "link (ms)",
    "busy_pct": "busy (%)",
}


def stage_table(stages: tuple[StageRow, ...]) -> list[dict[str, object]]:
    """The stages with readable column names and the one display rounding."""
    return [
        {STAGE_COLUMNS[k]: num(v) if isinstance(v, float) else v for k, v in vars(s).items()}
        for s in stages
    ]


@dataclass(frozen=True)
class ChipUtilization:
    chip: int
    cores: tuple[int, ...]  # global core indices
    utilization: tuple[float, ...]  # busy fraction of each core, 0..1

    @property
    def mean(self) -> float:
        return sum(self.utilization) / len(self.utilization)


@dataclass(frozen=True)
class LatencySummary:
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    tail_ratio: float  # p99 / p50: how far the tail is from the typical request


@dataclass(frozen=True)
class TrialDetail:
    stages: tuple[StageRow, ...]
    chips: tuple[ChipUtilization, ...]
    bottleneck: str  # one sentence
    latency: LatencySummary
    host_utilization: float


def _stage_row(s: StageResult) -> StageRow:
    return StageRow(
        stage=s.index,
        n_ops=s.n_ops,
        tensor_gflop=s.tensor_flops / 1e9,
        weight_mb=s.weight_bytes / MB,
        resident_mb=s.resident_bytes / MB,
        streamed_mb=s.streamed_bytes / MB,
        estimated_ms=s.estimated_s * 1e3,
        service_ms=s.service_s * 1e3,
        compute_ms=s.compute_s * 1e3,
        dram_ms=s.dram_s * 1e3,
        link_ms=s.link_s * 1e3,
        busy_pct=s.busy_fraction * 100,
    )


def chips(record: TrialRecord) -> tuple[ChipUtilization, ...]:
    """Per-core utilization grouped by chip (4 NeuronCores per inf1 chip, from the catalog)."""
    per_chip = get_instance(record.deployment.instance_type).accelerator.cores_per_chip
    util = record.result.core_utilization
    return tuple(
        ChipUtilization(
            start // per_chip,
            tuple(range(start, min(start + per_chip, len(util)))),
            tuple(util[start : start + per_chip]),
        )
        for start in range(0, len(util), per_chip)
    )


def latency_summary(record: TrialRecord) -> LatencySummary:
    p50 = record.latency.p50_ms
    return LatencySummary(
        p50,
        record.latency.p95_ms,
        record.latency.p99_ms,
        record.latency.mean_ms,
        record.latency.p99_ms / p50 if p50 > 0 else float("nan"),
    )


def bottleneck_sentence(record: TrialRecord) -> str:
    detail = record.result.bottleneck_detail.strip()
    return f"Limited by {record.result.bottleneck}" + (f": {detail}." if detail else ".")


def trial_detail(record: TrialRecord) -> TrialDetail:
    """Everything the trial page shows about one trial."""
    return TrialDetail(
        tuple(_stage_row(s) for s in record.result.stages),
        chips(record),
        bottleneck_sentence(record),
        latency_summary(record),
        record.result.host_utilization,
    )


@dataclass(frozen=True)
class TimelineBar:
    """One request on one stage, reconstructed from the stored stage service times."""

    request: int
    client: int
    copy: int  # which model copy (NeuronCore group) served it
    stage: int
    core: int  # global index of the core running this stage of this copy
    start_ms: float
    end_ms: float


TIMELINE_NOTE = (
    "Reconstructed from the stored per-stage service times with a deterministic pipeline "
    "recursion (end = max(arrival, stage free) + service; closed-loop clients, round-robin "
    "over copies). It shows the schedule's shape, not the simulator's jittered trace."
)


def timeline(record: TrialRecord, n_requests: int = 12) -> tuple[TimelineBar, ...]:
    """Start and end of each stage for the first ``n_requests`` requests.

    ``concurrency`` closed-loop clients each send a request (one batch) as soon as their
    previous one returns; client ``c`` uses copy ``c mod copies``. Within a copy, each stage
    serves requests first come, first served.
    """
    service = [s.service_s * 1e3 for s in record.result.stages]
    cores = record.result.copy_cores or ((0,),)
    copies = len(cores)
    clients = max(1, record.result.concurrency)
    free = [[0.0] * len(service) for _ in range(copies)]
    done: list[float] = []
    bars: list[TimelineBar] = []
    for request in range(n_requests):
        client = request % clients
        copy = client % copies
        t = done[request - clients] if request >= clients else 0.0
        for stage, s in enumerate(service):
            start = max(t, free[copy][stage])
            t = start + s
            free[copy][stage] = t
            core = cores[copy][stage] if stage < len(cores[copy]) else stage
            bars.append(TimelineBar(request, client, copy, stage, core, start, t))
        done.append(t)
    return tuple(bars)

"""``autotune validate``: every published row beside the emulator's figures for it."""

from __future__ import annotations

from dataclasses import dataclass

from autotune.emulator import CompileCache
from autotune.evaluation import evaluate
from autotune.reference._measured import MeasuredRow, figure, measured_rows
from autotune.reference._published import (
    PUBLISHED_MODEL,
    PUBLISHED_PRICE_SET,
    PUBLISHED_SEQ_LEN,
    PUBLISHED_TASK,
    PublishedRow,
    published_rows,
)
from autotune.values import Evaluation, Experiment, Load, Workload


@dataclass(frozen=True)
class Validated:
    """One published row and the emulator's evaluation of the same deployment and load."""

    row: PublishedRow
    evaluation: Evaluation

    @property
    def throughput_error_pct(self) -> float:
        return _pct(self.evaluation.result.throughput, self.row.throughput)

    @property
    def p95_error_pct(self) -> float:
        return _pct(self.evaluation.result.latency.p95_ms, self.row.latency_p95_s * 1e3)

    def to_dict(self) -> dict[str, object]:
        r, ev = self.row, self.evaluation
        return {
            "instance_type": r.instance_type,
            "batch_size": r.batch_size,
            "mode": r.mode,
            "deployment": ev.deployment.to_dict(),
            "clients": r.clients,
            "throughput_published": r.throughput,
            "throughput": round(ev.result.throughput, 2),
            "throughput_error_pct": self.throughput_error_pct,
            "p95_ms_published": r.latency_p95_s * 1e3,
            "p95_ms": round(ev.result.latency.p95_ms, 3),
            "p95_error_pct": self.p95_error_pct,
            "cost_per_1m_published": r.cost_per_1m_usd,
            "cost_per_1m_usd": round(ev.cost.per_1m_usd, 4),
            "bottleneck": ev.result.bottleneck,
        }


def _pct(emulated: float, published: float) -> float:
    return round((emulated / published - 1) * 100, 2)


def validate_rows(requests: int = 2000) -> list[Validated]:
    """Each published row with the emulator's throughput, p95 and cost for it."""
    cache = CompileCache()
    workload = Workload(PUBLISHED_MODEL, PUBLISHED_TASK, PUBLISHED_SEQ_LEN)
    out = []
    for row in published_rows():
        experiment = Experiment(
            Workload(workload.model, workload.task, workload.seq_len, row.batch_size),
            row.deployment,
            Load(concurrency=row.clients, requests=requests),
            PUBLISHED_PRICE_SET,
        )
        out.append(Validated(row, evaluate(experiment, cache)))
    return out


@dataclass(frozen=True)
class MeasuredCheck:
    """One public measurement (a span) beside the emulator's figure for it."""

    row: MeasuredRow
    evaluation: Evaluation

    @property
    def value(self) -> float:
        r = self.evaluation.result
        return figure(self.row.metric, r.throughput, r.latency.p50_ms, r.latency.mean_ms)

    @property
    def error(self) -> float:
        return self.row.error(self.value)


def validate_measured(
    rows: list[MeasuredRow] | None = None, requests: int = 2000
) -> list[MeasuredCheck]:
    """Each public measurement (by default the NeuronCore-v2 rows) with the emulator's figure."""
    cache = CompileCache.in_memory()
    return [
        MeasuredCheck(row, evaluate(row.experiment(requests), cache))
        for row in (measured_rows() if rows is None else rows)
    ]

"""``autotune validate``: every public figure beside the emulator's, in and out of sample.

``validate_rows`` gives the blog's table as the blog printed it (throughput, p95 and cost per
row); ``validation_table`` gives every public figure (blog and released rows) with its span and
error; ``cross_validation`` refits leaving one source out at a time and predicts that source.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from autotune.emulator import CompileCache
from autotune.evaluation import evaluate
from autotune.hardware import Calibration, load_calibration
from autotune.reference._fit import fit
from autotune.reference._measurements import Measurement, measurements
from autotune.reference._predict import predict_with_copies
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
    """Each blog row with the emulator's throughput, p95 and cost for it."""
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
class ValidationRow:
    """One public figure, the emulator's prediction of it, and the error.

    ``error`` is relative: 0 inside the published span ``[lo, hi]``, else the distance to its
    nearest end divided by that end. ``source`` names the publication (rows are grouped by it).
    """

    id: str
    source: str
    metric: str
    predicted: float
    lo: float
    hi: float
    error: float
    batch: int
    clients: int
    copies: int
    generation: str  # "neuroncore-v1", or "gpu" with its stack: "gpu:tensorrt-fp16"

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "source": self.source,
            "metric": self.metric,
            "predicted": round(self.predicted, 4),
            "lo": self.lo,
            "hi": self.hi,
            "error": round(self.error, 4),
        }

    def line(self) -> str:
        span = f"{self.lo:g}" if self.lo == self.hi else f"{self.lo:g}-{self.hi:g}"
        return (
            f"{self.id:36s} {self.metric:10s} {self.predicted:10.2f} {span:>14s} "
            f"{self.error * 100:6.1f}%  {self.source}"
        )


def source_of(m: Measurement) -> str:
    """The publication a figure comes from: its source up to the first ';' or ','."""
    return m.source.split(";")[0].split(",")[0].strip()


def _row(m: Measurement, predicted: float, copies: int) -> ValidationRow:
    from autotune.reference._fit import group_of, stack_of

    stack = stack_of(m)
    generation = group_of(m) if stack is None else f"gpu:{stack}"
    return ValidationRow(
        id=m.id,
        source=source_of(m),
        metric=m.metric,
        predicted=predicted,
        lo=m.lo,
        hi=m.hi,
        error=m.error(predicted),
        batch=m.experiment.workload.batch_size,
        clients=m.experiment.load.concurrency or copies,
        copies=copies,
        generation=generation,
    )


def _by_source(rows: list[ValidationRow]) -> list[ValidationRow]:
    order = list(dict.fromkeys(r.source for r in rows))
    return sorted(rows, key=lambda r: order.index(r.source))


def validation_table(
    *,
    calibration: Calibration | None = None,
    cache: CompileCache | None = None,
    requests: int = 1000,
    rows: Sequence[Measurement] | None = None,
) -> list[ValidationRow]:
    """Every public figure the catalog can run (or ``rows``), predicted with ``calibration``
    (default: the shipped one), grouped by source."""
    rows = list(rows) if rows is not None else measurements()[0]
    cache = cache or CompileCache()
    predicted = predict_with_copies(rows, calibration or load_calibration(), cache, requests)
    return _by_source([_row(m, *p) for m, p in zip(rows, predicted, strict=True)])


def cross_validation(
    *,
    cache: CompileCache | None = None,
    requests: int = 300,
    max_nfev: int = 60,
    progress: Callable[[str], None] | None = None,
    rows: Sequence[Measurement] | None = None,
) -> list[ValidationRow]:
    """Leave-one-source-out: refit without each source (from the fit's round-number prior),
    predict that source's figures. Minutes: each source is a refit."""
    rows = list(rows) if rows is not None else measurements()[0]
    cache = cache or CompileCache()
    out: list[ValidationRow] = []
    for source in dict.fromkeys(source_of(m) for m in rows):
        held = [m for m in rows if source_of(m) == source]
        kept = [m for m in rows if source_of(m) != source]
        cal = fit(kept, cache, requests=requests, max_nfev=max_nfev)
        predicted = predict_with_copies(held, cal, cache, max(requests, 1000))
        out.extend(_row(m, *p) for m, p in zip(held, predicted, strict=True))
        if progress:
            worst = max(r.error for r in out[-len(held) :])
            progress(f"left out {source}: worst {worst:.1%}")
    return out


def median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    return math.nan if not n else (ordered[(n - 1) // 2] + ordered[n // 2]) / 2

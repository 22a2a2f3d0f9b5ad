"""Every public measurement as one figure to reproduce: the blog's table and the released rows.

``public_measurements.csv`` holds measurements from other public sources (Neuron performance
pages, neuronperf, a sequence-length sweep, NVIDIA's TensorRT tables); each row is one emulated
benchmark and one measured figure with the span ``[lo, hi]`` published across software versions.
Rows whose instance the catalog does not know yet are skipped with a note.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from importlib import resources

from autotune.catalog import load_instances
from autotune.reference._published import (
    PUBLISHED_MODEL,
    PUBLISHED_PRICE_SET,
    PUBLISHED_SEQ_LEN,
    PUBLISHED_TASK,
    published_rows,
)
from autotune.values import Deployment, Experiment, Load, Workload

BLOG_SOURCE = "AWS blog 2021-05-04 (Neuron SDK 1.13)"
METRICS = ("throughput", "p50_ms", "p95_ms", "mean_ms")


@dataclass(frozen=True)
class PublicRow:
    """One row of ``public_measurements.csv``; empty cells are None."""

    id: str
    model: str
    task: str
    seq_len: int
    instance: str
    batch: int
    pipeline_cores: int | None
    group_sizes: tuple[int, ...] | None
    copies: int | None
    concurrency: int
    stack: str | None
    metric: str
    lo: float
    hi: float
    source: str

    @property
    def deployment(self) -> Deployment:
        return Deployment.of(
            self.instance,
            pipeline_cores=self.pipeline_cores,
            group_sizes=self.group_sizes,
            stack=self.stack,
        )


@dataclass(frozen=True)
class Measurement:
    """A published figure and the experiment that reproduces it."""

    id: str
    source: str
    metric: str  # one of METRICS
    lo: float
    hi: float
    experiment: Experiment

    def error(self, predicted: float) -> float:
        """0 inside the published span, else the relative distance to its nearest end."""
        if predicted < self.lo:
            return (self.lo - predicted) / self.lo
        return max(0.0, (predicted - self.hi) / self.hi)

    def log_error(self, predicted: float) -> float:
        """Signed log distance to the span (what the fit minimises)."""
        if predicted < self.lo:
            return math.log(predicted / self.lo)
        return max(0.0, math.log(predicted / self.hi))


def _optional(text: str) -> int | None:
    return int(text) if text.strip() else None


def public_rows() -> list[PublicRow]:
    text = resources.files("autotune.reference").joinpath("public_measurements.csv").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    rows = []
    for r in csv.DictReader(lines):
        groups = r["group_sizes"].strip()
        rows.append(
            PublicRow(
                id=r["id"],
                model=r["model"],
                task=r["task"],
                seq_len=int(r["seq_len"]),
                instance=r["instance"],
                batch=int(r["batch"]),
                pipeline_cores=_optional(r["pipeline_cores"]),
                group_sizes=tuple(int(g) for g in groups.split(",")) if groups else None,
                copies=_optional(r["copies"]),
                concurrency=int(r["concurrency"]),
                stack=r["stack"].strip() or None,
                metric=r["metric"],
                lo=float(r["lo"]),
                hi=float(r["hi"]),
                source=r["source"],
            )
        )
    return rows


def blog_measurements() -> list[Measurement]:
    """The blog's throughput and p95 of each row, with the clients Little's law recovers."""
    out = []
    for row in published_rows():
        workload = Workload(PUBLISHED_MODEL, PUBLISHED_TASK, PUBLISHED_SEQ_LEN, row.batch_size)
        experiment = Experiment(
            workload, row.deployment, Load(concurrency=row.clients), PUBLISHED_PRICE_SET
        )
        name = f"blog-{row.instance_type}-b{row.batch_size}-{row.mode}"
        p95 = row.latency_p95_s * 1e3
        thr = row.throughput
        out.append(Measurement(name, BLOG_SOURCE, "throughput", thr, thr, experiment))
        out.append(Measurement(name, BLOG_SOURCE, "p95_ms", p95, p95, experiment))
    return out


def released_measurements() -> tuple[list[Measurement], list[str]]:
    """The rows of ``public_measurements.csv`` the catalog can run, and a note per skipped row."""
    known = load_instances()
    out, notes = [], []
    for row in public_rows():
        if row.instance not in known:
            notes.append(f"{row.id} ({row.metric}): {row.instance} is not in the catalog")
            continue
        workload = Workload(row.model, row.task, row.seq_len, row.batch)
        experiment = Experiment(workload, row.deployment, Load(concurrency=row.concurrency))
        out.append(Measurement(row.id, row.source, row.metric, row.lo, row.hi, experiment))
    return out, notes


def measurements() -> tuple[list[Measurement], list[str]]:
    """Every public figure the emulator can reproduce (blog first), and the skipped rows."""
    released, notes = released_measurements()
    return blog_measurements() + released, notes

"""Public measurements given as a range across software versions (``public_measurements.csv``
columns): one row is one emulated bench call and one measured figure.

So far the NeuronCore-v2 rows (``neuroncore_v2_measurements.csv``); neuronperf, which measured
them, runs the closed-loop clients as worker threads, so a row's worker threads per copy are its
clients per copy.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from importlib import resources

from autotune.values import Deployment, Experiment, Load, Workload

NEURONCORE_V2_ROWS = "neuroncore_v2_measurements.csv"


@dataclass(frozen=True)
class MeasuredRow:
    id: str
    model: str
    task: str
    seq_len: int
    instance_type: str
    batch_size: int
    copies: int
    concurrency: int
    metric: str  # throughput, p50_ms or mean_ms
    lo: float
    hi: float
    source: str

    def experiment(self, requests: int = 2000) -> Experiment:
        workers = max(1, self.concurrency // self.copies)
        return Experiment(
            Workload(self.model, self.task, self.seq_len, self.batch_size),
            Deployment.of(self.instance_type, copies=self.copies, workers_per_copy=workers),
            Load(concurrency=self.concurrency, requests=requests),
        )

    def error(self, value: float) -> float:
        """Relative distance from ``value`` to the published span (0 inside it)."""
        if value < self.lo:
            return (self.lo - value) / self.lo
        return (value - self.hi) / self.hi if value > self.hi else 0.0

    def log_miss(self, value: float) -> float:
        """Signed log distance to the span's geometric middle: what a fit minimises."""
        return math.log(value / math.sqrt(self.lo * self.hi))


def measured_rows(name: str = NEURONCORE_V2_ROWS) -> list[MeasuredRow]:
    text = resources.files("autotune.reference").joinpath(name).read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return [
        MeasuredRow(
            id=r["id"],
            model=r["model"],
            task=r["task"],
            seq_len=int(r["seq_len"]),
            instance_type=r["instance"],
            batch_size=int(r["batch"]),
            copies=int(r["copies"]),
            concurrency=int(r["concurrency"]),
            metric=r["metric"],
            lo=float(r["lo"]),
            hi=float(r["hi"]),
            source=r["source"],
        )
        for r in csv.DictReader(lines)
    ]


def figure(metric: str, throughput: float, p50_ms: float, mean_ms: float) -> float:
    """The figure a row measured, from an evaluation's throughput and latencies."""
    return {"throughput": throughput, "p50_ms": p50_ms, "mean_ms": mean_ms}[metric]

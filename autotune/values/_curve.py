"""Latency against load: one deployment's percentiles from light load to saturation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class LoadPoint:
    """One open-loop rate (requests/s at one instance) and what it measured there."""

    qps: float
    utilization: float  # the rate as a share of the saturation throughput
    p50_ms: float
    p95_ms: float
    p99_ms: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> LoadPoint:
        return cls(*(float(raw[k]) for k in ("qps", "utilization", "p50_ms", "p95_ms", "p99_ms")))


def knee(points: Sequence[LoadPoint]) -> int | None:
    """Index of the knee of the p95 curve: the point farthest below the chord from the lightest
    to the heaviest load (both axes scaled to [0, 1]), where p95 turns from flat to steep.
    None with fewer than three points or a curve that never rises."""
    if len(points) < 3:
        return None
    x0, x1 = points[0].qps, points[-1].qps
    y0, y1 = points[0].p95_ms, points[-1].p95_ms
    if x1 <= x0 or y1 <= y0:
        return None
    gaps = [(p.qps - x0) / (x1 - x0) - (p.p95_ms - y0) / (y1 - y0) for p in points]
    best = max(range(1, len(points) - 1), key=lambda i: gaps[i])
    return best if gaps[best] > 0 else None

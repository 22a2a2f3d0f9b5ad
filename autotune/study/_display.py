"""How results read on every surface (command line, dashboard, API): one rounding, one wording."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from autotune.study._settings import Goals
from autotune.values import Deployment

SIGNIFICANT = 3


def num(value: float, digits: int = SIGNIFICANT) -> str:
    """The one display rounding: ``digits`` significant digits, whole numbers kept whole
    (``4.56``, ``17.6``, ``0.00910``, ``1938``). Applied once, to the stored value."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}"


def metric_text(name: str, value: float, goals: Goals) -> str:
    """An objective's value with its unit: ``p95 4.56 ms``, ``1938 seq/s``, ``$0.286 per 1M``
    or ``$1.18/h for the fleet``."""
    if name == "p95_ms":
        return f"p95 {num(value)} ms"
    if name == "throughput":
        return f"{num(value)} seq/s"
    return f"${num(value)}/h for the fleet" if goals.target_qps else f"${num(value)} per 1M"


def constraints_text(goals: Goals) -> str:
    """The study's constraints and load in a few words (``p95 <= 20 ms, >= 500 seq/s``)."""
    parts = []
    if goals.max_p95_ms is not None:
        parts.append(f"p95 <= {goals.max_p95_ms:g} ms")
    if goals.min_throughput is not None:
        parts.append(f">= {goals.min_throughput:g} seq/s")
    if goals.target_qps is not None:
        parts.append(f"fleet for {goals.target_qps:g} seq/s")
    return ", ".join(parts) or "no constraints"


def compact(values: Sequence[Any]) -> str:
    """A list in a few characters: ``4 x 1`` for a run of equal values, else comma-separated."""
    if len(values) > 3 and len(set(values)) == 1:
        return f"{len(values)} x {values[0]}"
    return ",".join(map(str, values))


def knobs_text(deployment: Deployment) -> str:
    """The generation's knobs in a few words (``pipeline cores 4, group sizes 4 x 4``)."""
    parts = []
    for name, value in deployment.knobs:
        shown = compact(value) if isinstance(value, tuple) else str(value)
        parts.append(f"{name.replace('_', ' ')} {shown}")
    return ", ".join(parts) or "-"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"

"""How results read on every surface (command line, dashboard, API): one rounding, one wording."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from autotune.values import Deployment


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

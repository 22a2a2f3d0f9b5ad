"""How sure the emulator is of a prediction: the cross-validated error of its regime.

A regime is the hardware generation (a GPU with its serving stack, as "gpu:tensorrt-fp16"), the
batch range and the load (one client per model copy or fewer: light; more: queued).
``uncertainty.yaml`` holds the leave-one-source-out error of each regime, written by
``benchmarks/fit_calibration.py --cv --write-uncertainty``; a regime without cross-validated
figures falls back to its stack, its generation, then to every figure.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from importlib import resources
from typing import Any

import yaml

from autotune.values import Uncertainty


def regime(generation: str, batch: int, clients: int, copies: int) -> tuple[str, str, str]:
    """(generation, batch range, load): one client per copy or fewer is a light load."""
    batches = "1" if batch == 1 else "2-8" if batch <= 8 else "9+"
    return generation, batches, "light" if clients <= copies else "queued"


@functools.cache
def _table() -> dict[str, Any]:
    text = resources.files("autotune.hardware").joinpath("uncertainty.yaml").read_text()
    return dict(yaml.safe_load(text))


def _lookup(entries: Sequence[dict[str, Any]], key: str) -> float | None:
    values = [e[key] for e in entries if e.get(key) is not None]
    return max(values) if values else None


def uncertainty_of(generation: str, batch: int, clients: int, copies: int) -> Uncertainty:
    """The cross-validated relative error of a prediction in this regime."""
    table = _table()
    key = regime(generation, batch, clients, copies)
    exact = [r for r in table["regimes"] if (r["generation"], r["batch"], r["load"]) == key]
    broader = [
        table["generations"].get(generation, {}),
        table["generations"].get(generation.split(":")[0], {}),
        table["all"],
    ]
    values = {}
    for kind in ("throughput_rel", "latency_rel"):
        values[kind] = _lookup(exact, kind) or next(
            (e[kind] for e in broader if e.get(kind) is not None), 0.0
        )
    return Uncertainty(float(values["throughput_rel"]), float(values["latency_rel"]))

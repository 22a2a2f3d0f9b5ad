"""Fitting the emulator's unknown constants to public measurements.

Near-minimax least squares: each figure's residual is its signed log distance to the published
span (0 inside it), raised to the power 2.5 so that the sum is of |error|^5 and no single row
carries most of the error. Constants of different generations (and of different GPU serving
stacks) never meet in one row, so each group is fitted on its own rows. A constant that a
group's rows cannot determine is not moved: for a GPU stack those come from the blog's stack
(TorchScript under AMP), and a stack with no rows at all takes the blog stack's constants.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from autotune.catalog import get_instance
from autotune.emulator import CompileCache
from autotune.hardware import Calibration
from autotune.hardware.gpu import DEFAULT_STACK, STACKS
from autotune.reference._measurements import Measurement
from autotune.reference._predict import predict

V1 = "neuroncore-v1"


@dataclass(frozen=True)
class Free:
    """A constant the fit moves, within physically plausible bounds."""

    name: str
    lo: float
    hi: float


V1_FREE = (
    Free("sram_bytes_per_core", 2e6, 24e6),
    Free("te_max_efficiency", 0.1, 1.0),
    Free("te_fill_rows", 1.0, 256.0),
    Free("dram_efficiency", 0.3, 1.0),
    Free("core_dma_fraction", 0.1, 1.0),
    Free("stage_overhead_s", 1e-6, 1e-3),
    Free("host_overhead_s", 1e-5, 3e-3),
    Free("host_per_sequence_s", 1e-6, 1e-3),
    Free("jitter_sigma", 0.001, 0.3),
)
EFFICIENCY, LAUNCH = Free("engine_efficiency", 0.02, 1.0), Free("kernel_launch_s", 1e-7, 2e-4)
HOST, JITTER = Free("host_overhead_s", 1e-6, 3e-3), Free("jitter_sigma", 0.001, 0.5)
# What each stack's rows determine: the blog's p95 fixes the spread; mean latencies at several
# batch sizes separate a per-request cost from per-kernel dispatch; batch-1 rows alone do not,
# and device-bound rows (TorchScript FP16 at batch 8 and 32) say nothing of dispatch, which is
# TorchScript's in both of its stacks.
GPU_FREE = {
    "torchscript-amp": (EFFICIENCY, LAUNCH, HOST, JITTER),
    "torchscript-fp16": (EFFICIENCY,),
    "eager-fp32": (EFFICIENCY, LAUNCH),
    "tensorrt-fp16": (EFFICIENCY, LAUNCH, HOST),
    "tensorrt-int8": (EFFICIENCY, LAUNCH, HOST),
}


def group_of(m: Measurement) -> str:
    """Which constants a measurement depends on: a generation, or a GPU serving stack."""
    deployment = m.experiment.deployment
    generation = get_instance(deployment.instance_type).accelerator.generation
    if generation == "gpu":
        return str(deployment.knob("stack", DEFAULT_STACK))
    return generation


def residuals(rows: Sequence[Measurement], predicted: Sequence[float]) -> list[float]:
    """Each figure's signed log distance to its span, to the power 2.5 (near-minimax)."""
    out = []
    for m, p in zip(rows, predicted, strict=True):
        r = m.log_error(p)
        out.append(r * abs(r) ** 1.5)
    return out


def _set(cal: Calibration, group: str, values: Mapping[str, float]) -> dict[str, Any]:
    out = dict(cal)
    if group == V1:
        out[V1] = dataclasses.replace(cal[V1], **values)
    else:
        out["gpu"] = {**cal["gpu"], group: dataclasses.replace(cal["gpu"][group], **values)}
    return out


def _get(cal: Calibration, group: str) -> Any:
    return cal[V1] if group == V1 else cal["gpu"][group]


def fit_group(
    group: str,
    rows: Sequence[Measurement],
    start: Calibration,
    cache: CompileCache,
    requests: int,
    max_nfev: int,
) -> Calibration:
    """``start`` with the free constants of ``group`` fitted to ``rows``."""
    free = V1_FREE if group == V1 else GPU_FREE[group]
    lo = np.log([f.lo for f in free])
    hi = np.log([f.hi for f in free])
    x0 = np.log([getattr(_get(start, group), f.name) for f in free])

    def calibration(x: np.ndarray) -> Calibration:
        return _set(
            start, group, {f.name: float(math.exp(v)) for f, v in zip(free, x, strict=True)}
        )

    def objective(x: np.ndarray) -> list[float]:
        return residuals(rows, predict(rows, calibration(x), cache, requests))

    result = least_squares(
        objective,
        np.clip(x0, lo + 1e-9, hi - 1e-9),
        bounds=(lo, hi),
        diff_step=0.02,
        max_nfev=max_nfev,
    )
    return calibration(result.x)


def fit(
    rows: Sequence[Measurement],
    cache: CompileCache,
    *,
    start: Calibration | None = None,
    requests: int = 300,
    max_nfev: int = 200,
    progress: Callable[[str], None] | None = None,
) -> Calibration:
    """Every group's constants fitted to its rows, from ``start`` (default: the round-number
    prior); GPU stacks borrow what their rows cannot determine from the blog's stack."""
    groups: dict[str, list[Measurement]] = {}
    for m in rows:
        groups.setdefault(group_of(m), []).append(m)
    cal: Calibration = dict(start or prior())
    for group in (V1, *STACKS):  # the blog's stack comes first among the stacks
        if group not in (V1, DEFAULT_STACK):
            cal = _borrow(cal, group, every=group not in groups)
        if group in groups:
            cal = fit_group(group, groups[group], cal, cache, requests, max_nfev)
            if progress:
                progress(f"fitted {group} on {len(groups[group])} figures")
    return cal


def prior() -> Calibration:
    """Round-number starting points of the fit (and what a group without rows keeps)."""
    from autotune.hardware.gpu import Constants as StackConstants
    from autotune.hardware.neuroncore_v1 import Constants

    v1 = Constants(
        sram_bytes_per_core=10e6,  # the pipeline heuristic's ~5M BF16 weights per core
        te_max_efficiency=0.4,
        te_fill_rows=8.0,
        dram_efficiency=0.8,
        core_dma_fraction=0.5,
        stage_overhead_s=1e-4,
        host_overhead_s=2e-4,
        host_per_sequence_s=1e-4,
        jitter_sigma=0.02,
    )
    stack = StackConstants(
        engine_efficiency=0.2, kernel_launch_s=3e-5, host_overhead_s=3e-4, jitter_sigma=0.05
    )
    return {V1: v1, "gpu": dict.fromkeys(STACKS, stack)}


def _borrow(cal: Calibration, stack: str, every: bool = False) -> Calibration:
    """The blog stack's constants for what ``stack``'s rows cannot determine (or for all)."""
    blog = cal["gpu"][DEFAULT_STACK]
    own = {f.name for f in GPU_FREE[stack]}
    values = {
        f.name: getattr(blog, f.name)
        for f in dataclasses.fields(blog)
        if every or f.name not in own
    }
    return _set(cal, stack, values)

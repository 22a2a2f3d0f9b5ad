"""The record of one finished trial, as autotune stores it beside Optuna's own tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TrialRecord:
    """What one trial deployed and what the emulator measured for it.

    Plain types only, so that storage depends on no emulator class. Keyed by Optuna's trial id;
    ``stages`` holds JSON values (lists, not tuples, inside the dicts) so that a stored record
    reads back equal to the one written. What storage adds to its row (when, and by which
    autotune release, the row was written) is bookkeeping, not part of the record.
    """

    study_name: str
    optuna_trial_id: int
    trial_number: int
    model: str
    task: str
    seq_len: int
    instance_type: str
    batch_size: int
    pipeline_cores: int
    group_sizes: tuple[int, ...]
    concurrency: int
    price_set: str
    throughput: float  # sequences per second
    latency_p50_ms: float
    latency_p95_ms: float
    latency_p99_ms: float
    latency_mean_ms: float
    cost_per_hour_usd: float
    cost_per_1m_usd: float
    fleet_size: int | None
    bottleneck: str
    bottleneck_detail: str
    core_utilization: tuple[float, ...]
    host_utilization: float
    stages: tuple[dict[str, Any], ...]  # one plan + timing row per pipeline stage
    plan_key: str
    compile_seconds: float
    numeric_error: float | None
    emulator_version: str
    seed: int

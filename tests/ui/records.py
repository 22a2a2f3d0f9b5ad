"""Hand-made trial records of the dashboard tests."""

from __future__ import annotations

import dataclasses
from typing import Any

from autotune.study import Goals
from storage import TrialRecord

PARETO = Goals("pareto")


def rec(number: int, **changes: Any) -> TrialRecord:
    """A one-chip inf1.xlarge trial; ``changes`` override any field."""
    base = TrialRecord(
        study_name="s",
        optuna_trial_id=number + 1,
        trial_number=number,
        model="m",
        task="question-answering",
        seq_len=32,
        instance_type="inf1.xlarge",
        batch_size=1,
        pipeline_cores=1,
        group_sizes=(1, 1, 1, 1),
        concurrency=4,
        price_set="on-demand",
        throughput=1000.0,
        latency_p50_ms=1.0,
        latency_p95_ms=1.2,
        latency_p99_ms=1.5,
        latency_mean_ms=1.05,
        cost_per_hour_usd=0.228,
        cost_per_1m_usd=0.06,
        fleet_size=None,
        bottleneck="compute",
        bottleneck_detail="stage 0 is 99% busy",
        core_utilization=(0.9, 0.8, 0.7, 0.6),
        host_utilization=0.01,
        stages=(
            {
                "index": 0,
                "n_ops": 10,
                "tensor_flops": 2e9,
                "weight_bytes": 3_000_000,
                "resident_bytes": 2_000_000,
                "streamed_bytes": 1_000_000,
                "estimated_s": 0.0009,
                "service_s": 0.001,
                "compute_s_sim": 0.0006,
                "dram_s": 0.0004,
                "link_s": 0.0,
                "busy_fraction": 0.5,
            },
        ),
        plan_key="k",
        compile_seconds=0.1,
        numeric_error=None,
        emulator_version="0",
        seed=0,
    )
    return dataclasses.replace(base, **changes)


def pipeline(number: int, services_ms: list[float], **changes: Any) -> TrialRecord:
    stages = tuple({"index": i, "service_s": s / 1e3} for i, s in enumerate(services_ms))
    return rec(number, pipeline_cores=len(services_ms), stages=stages, **changes)


# Trial 0 fast and dear, 1 slow and cheap, 2 dominated by 1, 3 a repeat of 1's config.
FAST = rec(0, latency_p95_ms=1.0, cost_per_1m_usd=0.05, throughput=4000.0)
CHEAP = rec(1, batch_size=2, latency_p95_ms=2.0, cost_per_1m_usd=0.01, throughput=6000.0)
WORSE = rec(2, batch_size=4, latency_p95_ms=3.0, cost_per_1m_usd=0.02, throughput=5000.0)
REPEAT = dataclasses.replace(CHEAP, trial_number=3, optuna_trial_id=4)
RECORDS = [FAST, CHEAP, WORSE, REPEAT]

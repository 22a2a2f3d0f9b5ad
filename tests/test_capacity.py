"""Capacity under a latency SLO: bisection agrees with a fine grid of arrival rates."""

from __future__ import annotations

import dataclasses

import pytest

from autotune.emulator import CompileCache
from autotune.evaluation import capacity, evaluate
from autotune.values import Deployment, Experiment, Load, Workload
from tests.study.helpers import MINILM


def test_bisection_is_within_two_percent_of_a_fine_grid() -> None:
    # Four data-parallel copies batching up to 4 requests within 1 ms: queueing, batching and
    # the chip's shared DRAM all move p95 with the rate.
    cache = CompileCache()
    load = Load(qps=1.0, requests=1000, max_batch_delay_ms=1.0)
    deployment = Deployment.of("inf1.xlarge", pipeline_cores=1)
    base = Experiment(Workload(MINILM, seq_len=32, batch_size=4), deployment, load)
    light = evaluate(base, cache)
    slo = 3 * light.result.latency.p95_ms  # two thirds of the budget left for queueing
    found = capacity(base, slo, cache).result.capacity_qps
    saturation = light.result.saturation_throughput / load.sequences_per_request
    grid = [saturation * k / 200 for k in range(1, 241)]  # steps of 0.5% of saturation
    ok = [
        q
        for q in grid
        if evaluate(
            dataclasses.replace(base, load=dataclasses.replace(load, qps=q)), cache
        ).result.latency.p95_ms
        <= slo
    ]
    assert ok and found == pytest.approx(max(ok), rel=0.02)

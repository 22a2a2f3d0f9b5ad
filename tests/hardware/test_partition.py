"""The contiguous partition against brute force, on arbitrary operator lists (no graph needed),
priced by the NeuronCore-v1 stage model."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autotune.emulator import capture, op_costs
from autotune.hardware import Matmul, OpCost
from autotune.hardware._partition import partition
from autotune.hardware.neuroncore_v1._compiler import StageModel, fuse
from tests.toy import compile_toy, toy_acc, toy_calibration, toy_instance
from tests.toy_models import ROWS, WIDTHS, Chain

V1 = "neuroncore-v1"

OP = st.builds(
    lambda m, k, n, vec, w, act, gather: OpCost(
        "op",
        "linear",
        (Matmul(1, m, k, n),) if m else (),
        float(vec),
        0.0,
        (("w", w),) if w else (),
        gather,
        act,
        act,
    ),
    m=st.integers(0, 256),
    k=st.integers(1, 512),
    n=st.integers(1, 512),
    vec=st.integers(0, 10**6),
    w=st.integers(0, 2 * 10**6),
    act=st.integers(0, 10**6),
    gather=st.integers(0, 10**5),
)


def _reference_seconds(units, acc, constants, cores):
    """The stage time the compiler's docstrings describe, written out independently."""
    n = constants
    compute = sum(u.seconds for u in units)
    weights = sum(u.weight_bytes for u in units)
    acts = [u.activation_bytes for u in units]
    working = max(min(a, n.sram_bytes_per_core) for a in acts)
    sram = n.sram_bytes_per_core
    spill = sum(
        min(u.activation_bytes - sram, (math.ceil(u.activation_bytes / sram) - 1) * u.weight_bytes)
        if sram
        else u.activation_bytes
        for u in units
        if u.activation_bytes > sram
    )
    resident = min(weights, max(0.0, n.sram_bytes_per_core - working))
    dram = weights - resident + spill + sum(u.gather_bytes for u in units)
    chip = acc.dram_bandwidth_per_chip
    bandwidth = min(chip * n.dram_efficiency / min(cores, 4), chip * n.core_dma_fraction)
    return max(compute, dram / bandwidth) + n.stage_overhead_s


@settings(max_examples=60)
@given(
    ops=st.lists(OP, min_size=1, max_size=8),
    data=st.data(),
    sram=st.sampled_from([0.0, 2e5, 1e6, 1e9]),
    dma=st.sampled_from([0.1, 1.0]),
)
def test_partition_matches_brute_force(ops, data, sram, dma):
    acc = toy_acc()
    c = toy_calibration(sram_bytes_per_core=sram, core_dma_fraction=dma)[V1]
    units = fuse(ops, acc, c)
    parts = data.draw(st.integers(1, len(units)), label="parts")
    starts = partition(len(units), parts, StageModel(units, acc, c, parts))
    assert len(starts) == parts
    assert starts[0] == 0 and starts == sorted(set(starts)) and starts[-1] < len(units)
    bounds = list(itertools.pairwise([*starts, len(units)]))
    slowest = max(_reference_seconds(units[a:b], acc, c, parts) for a, b in bounds)
    best = min(
        max(
            _reference_seconds(units[a:b], acc, c, parts)
            for a, b in itertools.pairwise((0, *cuts, len(units)))
        )
        for cuts in itertools.combinations(range(1, len(units)), parts - 1)
    )
    assert slowest <= best * (1 + 1e-9)


def test_stage_model_matches_the_reference_on_a_real_graph():
    program = capture(Chain().eval(), {"x": torch.randn(ROWS, WIDTHS[0])})
    cal = toy_calibration(sram_bytes_per_core=150_000.0)
    plan = compile_toy(program, toy_instance(), cal, 3, batch=ROWS)
    units = fuse(op_costs(program), toy_acc(), cal[V1])
    assert len(units) == len(WIDTHS) - 1  # bias-free linears: nothing to fuse
    start = 0
    for stage in plan.stages:
        part = units[start : start + stage.n_ops]
        expected = _reference_seconds(part, toy_acc(), cal[V1], 3)
        assert stage.estimated_s == pytest.approx(expected, rel=1e-12)
        start += stage.n_ops

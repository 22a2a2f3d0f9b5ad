"""The contiguous partition against brute force, on arbitrary operator lists (no graph needed),
priced by the NeuronCore-v1 stage model."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autotune.emulator import capture, op_costs
from autotune.hardware import Matmul, OpCost
from autotune.hardware._partition import partition
from autotune.hardware.neuroncore_v1._compiler import StageModel, op_seconds
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


def _reference_seconds(ops, acc, constants, cores):
    """The stage time the compiler's docstrings describe, written out independently."""
    n = constants
    dtype = acc.compute_dtype_bytes
    compute = sum(op_seconds(op, acc, n) for op in ops)
    weights = sum(op.weight_elements for op in ops) * dtype
    acts = [(op.act_in_elements + op.act_out_elements) * dtype for op in ops]
    working = max(min(a, n.sram_bytes_per_core) for a in acts)
    spill = sum(a for a in acts if a > n.sram_bytes_per_core)
    resident = min(weights, max(0.0, n.sram_bytes_per_core - working))
    dram = weights - resident + spill + sum(op.gather_elements for op in ops) * dtype
    bandwidth = acc.dram_bandwidth_per_chip * n.dram_efficiency / min(cores, 4)
    return max(compute, dram / bandwidth) + n.stage_overhead_s


@settings(max_examples=60)
@given(
    ops=st.lists(OP, min_size=1, max_size=8),
    data=st.data(),
    sram=st.sampled_from([0.0, 2e5, 1e6, 1e9]),
)
def test_partition_matches_brute_force(ops, data, sram):
    parts = data.draw(st.integers(1, len(ops)), label="parts")
    acc, c = toy_acc(), toy_calibration(sram_bytes_per_core=sram)[V1]
    starts = partition(len(ops), parts, StageModel(ops, acc, c, parts))
    assert len(starts) == parts
    assert starts[0] == 0 and starts == sorted(set(starts)) and starts[-1] < len(ops)
    bounds = list(itertools.pairwise([*starts, len(ops)]))
    slowest = max(_reference_seconds(ops[a:b], acc, c, parts) for a, b in bounds)
    best = min(
        max(
            _reference_seconds(ops[a:b], acc, c, parts)
            for a, b in itertools.pairwise((0, *cuts, len(ops)))
        )
        for cuts in itertools.combinations(range(1, len(ops)), parts - 1)
    )
    assert slowest <= best * (1 + 1e-9)


def test_stage_model_matches_the_reference_on_a_real_graph():
    program = capture(Chain().eval(), {"x": torch.randn(ROWS, WIDTHS[0])})
    cal = toy_calibration(sram_bytes_per_core=150_000.0)
    plan = compile_toy(program, toy_instance(), cal, 3, batch=ROWS)
    ops = op_costs(program)
    start = 0
    for stage in plan.stages:
        part = ops[start : start + stage.n_ops]
        expected = _reference_seconds(part, toy_acc(), cal[V1], 3)
        assert stage.estimated_s == pytest.approx(expected, rel=1e-12)
        start += stage.n_ops

"""The compiler on tiny graphs with hand-computed timings, and partition optimality."""

from __future__ import annotations

import dataclasses
import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from autotune.catalog import get_instance
from autotune.emulator import capture, compile_plan, op_costs, plan_key
from autotune.emulator._compiler import _StageModel, op_seconds, partition, te_efficiency
from autotune.emulator._graph import Matmul, OpCost
from autotune.errors import InputError

# Chain of bias-free linears; every K is a multiple of 128 and every N of 64 (the toy systolic
# array), so with the ideal calibration each matmul runs at exactly the TensorEngine peak.
WIDTHS = (128, 256, 384, 128, 512, 256, 128)
ROWS = 64


class OneLinear(nn.Module):
    def __init__(self, k: int = 256, n: int = 128, bias: bool = True):
        super().__init__()
        self.fc = nn.Linear(k, n, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


class Chain(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.Linear(a, b, bias=False) for a, b in itertools.pairwise(WIDTHS)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(128, 128, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x) + x


@pytest.fixture(scope="module")
def linear_program():
    return capture(OneLinear().eval(), {"x": torch.randn(ROWS, 256)})


@pytest.fixture(scope="module")
def chain_program():
    return capture(Chain().eval(), {"x": torch.randn(ROWS, WIDTHS[0])})


def compile_toy(program, accelerator, calibration, pipeline_cores=1):
    return compile_plan(
        program,
        model="toy",
        identity="toy-id",
        task="question-answering",
        batch=ROWS,
        seq_len=1,
        pipeline_cores=pipeline_cores,
        accelerator=accelerator,
        calibration=calibration,
        emulator_version="test",
    )


# One Linear(256, 128) over 64 rows, by hand.
LINEAR_COMPUTE = 2 * 64 * 256 * 128 / 1e12 + 64 * 128 / 1e10  # TensorEngine + bias add
LINEAR_WEIGHT_BYTES = (256 * 128 + 128) * 2
LINEAR_ACT_BYTES = (64 * 256 + 64 * 128) * 2
OVERHEAD = 1e-6


def test_weights_resident_stage_is_compute_bound(linear_program, toy_acc, toy_cal):
    plan = compile_toy(linear_program, toy_acc(), toy_cal())
    (stage,) = plan.stages
    assert stage.compute_s == pytest.approx(LINEAR_COMPUTE, rel=1e-12)
    assert stage.estimated_s == pytest.approx(LINEAR_COMPUTE + OVERHEAD, rel=1e-12)
    assert stage.tensor_flops == 2 * 64 * 256 * 128
    assert (stage.vector_flops, stage.scalar_flops) == (64 * 128, 0)
    assert stage.weight_bytes == stage.resident_bytes == LINEAR_WEIGHT_BYTES
    assert (stage.streamed_bytes, stage.spill_bytes, stage.gather_bytes) == (0, 0, 0)
    assert stage.working_set_bytes == LINEAR_ACT_BYTES
    assert stage.cached_weights == ("fc.weight", "fc.bias")
    assert stage.streamed_weights == ()
    # The host sends int64 tokens (8 bytes per element) and gets FP32 outputs back.
    assert plan.input_bytes == stage.act_in_bytes == 64 * 256 * 8
    assert plan.output_bytes == stage.act_out_bytes == 64 * 128 * 4
    assert plan.precision == "bf16"
    assert plan.device_bytes == LINEAR_WEIGHT_BYTES + 2 * LINEAR_ACT_BYTES


def test_weights_beyond_on_chip_memory_stream_from_dram(linear_program, toy_acc, toy_cal):
    sram = 50_000  # the activations (49,152 B) leave 848 B for weights
    plan = compile_toy(linear_program, toy_acc(), toy_cal(sram_bytes_per_core=sram))
    (stage,) = plan.stages
    assert stage.resident_bytes == sram - LINEAR_ACT_BYTES == 848
    assert stage.streamed_bytes == LINEAR_WEIGHT_BYTES - 848
    assert stage.dram_bytes == stage.streamed_bytes
    assert stage.compute_s == pytest.approx(LINEAR_COMPUTE, rel=1e-12)
    # DRAM-bound: 64,944 B at 1 GB/s (one core, so no sharing) plus the stage overhead.
    assert stage.estimated_s == pytest.approx(64_944 / 1e9 + OVERHEAD, rel=1e-12)
    # Whole tensors are listed: the bias fits in the 848 B, the weight matrix does not.
    assert stage.cached_weights == ("fc.bias",)
    assert stage.streamed_weights == ("fc.weight",)


def test_dram_efficiency_scales_the_streaming_time(linear_program, toy_acc, toy_cal):
    plan = compile_toy(
        linear_program, toy_acc(), toy_cal(sram_bytes_per_core=50_000, dram_efficiency=0.5)
    )
    assert plan.stages[0].estimated_s == pytest.approx(64_944 / 0.5e9 + OVERHEAD, rel=1e-12)


def test_activations_beyond_on_chip_memory_spill(linear_program, toy_acc, toy_cal):
    plan = compile_toy(linear_program, toy_acc(), toy_cal(sram_bytes_per_core=40_000))
    (stage,) = plan.stages
    assert stage.working_set_bytes == 40_000
    assert stage.activation_bytes == stage.spill_bytes == LINEAR_ACT_BYTES
    assert stage.resident_bytes == 0
    dram = LINEAR_WEIGHT_BYTES + LINEAR_ACT_BYTES
    assert stage.dram_bytes == dram
    assert stage.estimated_s == pytest.approx(dram / 1e9 + OVERHEAD, rel=1e-12)


def test_te_efficiency_of_partial_tiles_and_short_matmuls(toy_acc, toy_cal):
    cal = toy_cal(te_max_efficiency=0.5, te_fill_rows=32)
    # K = 100 fills 100 of 128 array rows, N = 96 uses 96 of 128 columns (two 64-wide tiles),
    # and M = 32 streamed rows amortise 32 rows of fill: 32 / (32 + 32).
    expected = 0.5 * (32 / 64) * (100 / 128) * (96 / 128)
    assert te_efficiency(Matmul(1, 32, 100, 96), toy_acc(), cal) == pytest.approx(expected)
    assert te_efficiency(Matmul(1, 512, 128, 64), toy_acc(), toy_cal()) == 1.0


def test_compile_uses_te_efficiency(toy_acc, toy_cal):
    program = capture(OneLinear(100, 96, bias=False).eval(), {"x": torch.randn(32, 100)})
    cal = toy_cal(te_max_efficiency=0.5, te_fill_rows=32)
    efficiency = 0.5 * (32 / 64) * (100 / 128) * (96 / 128)
    (stage,) = compile_toy(program, toy_acc(), cal).stages
    assert stage.compute_s == pytest.approx(2 * 32 * 100 * 96 / (1e12 * efficiency), rel=1e-12)


def test_catalog_neuroncore_peak_is_16_tflops(toy_cal):
    program = capture(OneLinear(bias=False).eval(), {"x": torch.randn(128, 256)})
    acc = get_instance("inf1.xlarge").accelerator
    (stage,) = compile_toy(program, acc, toy_cal()).stages
    assert stage.compute_s == pytest.approx(2 * 128 * 256 * 128 / 16e12, rel=1e-12)


def test_gpu_op_is_bound_by_the_slower_of_engines_and_memory(linear_program, toy_acc, toy_cal):
    gpu = toy_acc(name="toy-gpu", kind="gpu", cores_per_chip=1, systolic_rows=1, systolic_cols=1)
    cal = toy_cal()  # GPU tensor efficiency 0.5, kernel launch 1 us
    (op,) = op_costs(linear_program)
    moved = (256 * 128 + 128 + 64 * 256 + 64 * 128) * 2  # weights + activations, FP16
    engines = 2 * 64 * 256 * 128 / (1e12 * 0.5) + 64 * 128 / 1e10
    assert moved / 1e9 > engines
    assert op_seconds(op, gpu, cal) == pytest.approx(moved / 1e9 + 1e-6, rel=1e-12)
    plan = compile_toy(linear_program, gpu, cal)
    (stage,) = plan.stages
    assert plan.precision == "fp16-amp"
    assert stage.estimated_s == stage.compute_s == pytest.approx(moved / 1e9 + 1e-6)
    assert stage.resident_bytes == 0  # a GPU keeps no weights on chip between inferences


def _chain_op_seconds() -> list[float]:
    return [2 * ROWS * k / 1e12 * n for k, n in itertools.pairwise(WIDTHS)]


def _best_max_stage(times: list[float], parts: int, overhead: float) -> float:
    """Brute force over every contiguous split into ``parts`` non-empty stages."""
    n = len(times)
    best = math.inf
    for cuts in itertools.combinations(range(1, n), parts - 1):
        bounds = (0, *cuts, n)
        best = min(best, max(sum(times[a:b]) + overhead for a, b in itertools.pairwise(bounds)))
    return best


@pytest.mark.parametrize("parts", [1, 2, 3, 4, 5, 6])
def test_partition_is_contiguous_exact_and_optimal(chain_program, toy_acc, toy_cal, parts):
    plan = compile_toy(chain_program, toy_acc(), toy_cal(), pipeline_cores=parts)
    ops = op_costs(chain_program)
    times = _chain_op_seconds()
    assert len(plan.stages) == parts == plan.pipeline_cores
    assert [s.index for s in plan.stages] == list(range(parts))
    # Contiguous, non-empty, covering every operator in graph order.
    start = 0
    for stage in plan.stages:
        assert stage.n_ops >= 1
        assert stage.first_op == ops[start].name
        assert stage.last_op == ops[start + stage.n_ops - 1].name
        assert stage.compute_s == pytest.approx(sum(times[start : start + stage.n_ops]), rel=1e-12)
        start += stage.n_ops
    assert start == len(ops)
    slowest = max(s.estimated_s for s in plan.stages)
    assert slowest <= _best_max_stage(times, parts, OVERHEAD) * (1 + 1e-9)


def test_stage_boundaries_carry_the_activations(chain_program, toy_acc, toy_cal):
    plan = compile_toy(chain_program, toy_acc(), toy_cal(), pipeline_cores=6)
    outs = [ROWS * n * 2 for n in WIDTHS[1:]]  # BF16 output of each linear
    assert [s.act_out_bytes for s in plan.stages[:-1]] == outs[:-1]
    assert [s.act_in_bytes for s in plan.stages[1:]] == outs[:-1]
    assert plan.stages[0].act_in_bytes == ROWS * WIDTHS[0] * 8
    assert plan.stages[-1].act_out_bytes == ROWS * WIDTHS[-1] * 4


def test_a_skip_connection_crosses_the_boundary_too(toy_acc, toy_cal):
    program = capture(Residual().eval(), {"x": torch.randn(ROWS, 128)})
    plan = compile_toy(program, toy_acc(), toy_cal(), pipeline_cores=2)
    first, second = plan.stages
    assert (first.last_op, second.first_op) == ("linear", "add")
    assert first.act_out_bytes == second.act_in_bytes == 2 * ROWS * 128 * 2  # fc(x) and x


def test_streaming_stages_share_the_chips_bandwidth(chain_program, toy_acc, toy_cal):
    """Two stages on one chip: the compiler assumes each gets half the DRAM bandwidth."""
    cal = toy_cal(sram_bytes_per_core=0.0)  # everything streams or spills
    plan = compile_toy(chain_program, toy_acc(), cal, pipeline_cores=2)
    for stage in plan.stages:
        assert stage.resident_bytes == 0
        expected = max(stage.compute_s, stage.dram_bytes / (1e9 / 2)) + OVERHEAD
        assert stage.estimated_s == pytest.approx(expected, rel=1e-12)


def test_more_pipeline_cores_than_operators_is_an_input_error(linear_program, toy_acc, toy_cal):
    with pytest.raises(InputError, match=r"pipeline cores 2 exceed .* 1 operators"):
        compile_toy(linear_program, toy_acc(), toy_cal(), pipeline_cores=2)


def test_plan_key_is_a_content_hash_of_every_field(toy_acc):
    acc = get_instance("inf1.xlarge").accelerator
    base = ("id", "question-answering", 1, 128, 4, acc, "v1")
    key = plan_key(*base)
    assert key == plan_key(*base)
    assert len(key) == 64 and int(key, 16) >= 0
    variants = [
        ("id2", *base[1:]),
        (base[0], "sequence-classification", *base[2:]),
        (*base[:2], 2, *base[3:]),
        (*base[:3], 64, *base[4:]),
        (*base[:4], 1, *base[5:]),
        (*base[:5], get_instance("g4dn.xlarge").accelerator, base[6]),
        (*base[:6], "v2"),
    ]
    keys = {plan_key(*v) for v in variants}
    assert len(keys) == len(variants) and key not in keys


# --- partition optimality on arbitrary operator lists (no graph needed) -------------------

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


def _reference_seconds(ops, acc, cal, cores):
    """The stage time the compiler's docstrings describe, written out independently."""
    n = cal.neuron
    dtype = acc.compute_dtype_bytes
    compute = sum(op_seconds(op, acc, cal) for op in ops)
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
def test_partition_matches_brute_force(toy_acc, toy_cal, ops, data, sram):
    parts = data.draw(st.integers(1, len(ops)), label="parts")
    acc, cal = toy_acc(), toy_cal(sram_bytes_per_core=sram)
    starts = partition(len(ops), parts, _StageModel(ops, acc, cal, parts))
    assert len(starts) == parts
    assert starts[0] == 0 and starts == sorted(set(starts)) and starts[-1] < len(ops)
    bounds = list(itertools.pairwise([*starts, len(ops)]))
    slowest = max(_reference_seconds(ops[a:b], acc, cal, parts) for a, b in bounds)
    best = min(
        max(
            _reference_seconds(ops[a:b], acc, cal, parts)
            for a, b in itertools.pairwise((0, *cuts, len(ops)))
        )
        for cuts in itertools.combinations(range(1, len(ops)), parts - 1)
    )
    assert slowest <= best * (1 + 1e-9)


def test_stage_model_matches_the_reference_on_a_real_graph(chain_program, toy_acc, toy_cal):
    cal = toy_cal(sram_bytes_per_core=150_000.0)
    plan = compile_toy(chain_program, toy_acc(), cal, pipeline_cores=3)
    ops = op_costs(chain_program)
    start = 0
    for stage in plan.stages:
        part = ops[start : start + stage.n_ops]
        assert stage.estimated_s == pytest.approx(
            _reference_seconds(part, toy_acc(), cal, 3), rel=1e-12
        )
        start += stage.n_ops


def test_plan_json_round_trip(chain_program, toy_acc, toy_cal):
    from autotune.emulator import Plan

    plan = compile_toy(chain_program, toy_acc(), toy_cal(), pipeline_cores=3)
    assert Plan.from_json(plan.to_json()) == plan
    assert dataclasses.is_dataclass(plan) and plan.weight_parameters == sum(
        w * h for w, h in itertools.pairwise(WIDTHS)
    )

"""The NeuronCore-v1 compiler (neuron-cc, emulated) on tiny graphs with hand-computed timings."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from autotune.catalog import get_instance
from autotune.emulator import capture, op_costs
from autotune.errors import InputError
from autotune.hardware import Matmul, Plan
from autotune.hardware.neuroncore_v1._compiler import fuse, te_efficiency
from tests.toy import TOY_V1, compile_toy, toy_acc, toy_calibration, toy_instance
from tests.toy_models import ROWS, WIDTHS, Chain, OneLinear, Residual

V1 = "neuroncore-v1"


@pytest.fixture(scope="module")
def linear_program():
    return capture(OneLinear().eval(), {"x": torch.randn(ROWS, 256)})


@pytest.fixture(scope="module")
def chain_program():
    return capture(Chain().eval(), {"x": torch.randn(ROWS, WIDTHS[0])})


def compile_on_toy(program, calibration, pipeline_cores=1, accelerator=None):
    instance = toy_instance(accelerator or toy_acc())
    return compile_toy(program, instance, calibration, pipeline_cores, batch=ROWS)


# One Linear(256, 128) over 64 rows, by hand. The bias add runs on the VectorEngine over the
# tiles the TensorEngine produces (its epilogue): the two engines overlap.
LINEAR_COMPUTE = max(2 * 64 * 256 * 128 / 1e12, 64 * 128 / 1e10)
LINEAR_WEIGHT_BYTES = (256 * 128 + 128) * 2
LINEAR_ACT_BYTES = (64 * 256 + 64 * 128) * 2
OVERHEAD = TOY_V1.stage_overhead_s


def test_weights_resident_stage_is_compute_bound(linear_program):
    plan = compile_on_toy(linear_program, toy_calibration())
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
    assert plan.generation == V1 and plan.knob("pipeline_cores") == 1
    assert plan.device_bytes == LINEAR_WEIGHT_BYTES + 2 * LINEAR_ACT_BYTES


def test_weights_beyond_on_chip_memory_stream_from_dram(linear_program):
    sram = 50_000  # the activations (49,152 B) leave 848 B for weights
    plan = compile_on_toy(linear_program, toy_calibration(sram_bytes_per_core=sram))
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


def test_dram_efficiency_scales_the_streaming_time(linear_program):
    cal = toy_calibration(sram_bytes_per_core=50_000, dram_efficiency=0.5)
    plan = compile_on_toy(linear_program, cal)
    assert plan.stages[0].estimated_s == pytest.approx(64_944 / 0.5e9 + OVERHEAD, rel=1e-12)


def test_activations_beyond_on_chip_memory_are_tiled(linear_program):
    """Only the part of the activations that does not fit goes through DRAM (once)."""
    plan = compile_on_toy(linear_program, toy_calibration(sram_bytes_per_core=40_000))
    (stage,) = plan.stages
    assert stage.working_set_bytes == 40_000
    assert stage.activation_bytes == LINEAR_ACT_BYTES
    assert stage.spill_bytes == LINEAR_ACT_BYTES - 40_000 == 9_152
    assert stage.resident_bytes == 0
    dram = LINEAR_WEIGHT_BYTES + 9_152
    assert stage.dram_bytes == dram
    assert stage.estimated_s == pytest.approx(dram / 1e9 + OVERHEAD, rel=1e-12)
    assert stage.phases == ((pytest.approx(LINEAR_COMPUTE), dram),)


def test_spill_grows_smoothly_with_the_batch():
    """Doubling the rows past the on-chip memory doubles the tiled traffic: no cliff."""
    spills = []
    for rows in (64, 128, 256):
        program = capture(OneLinear().eval(), {"x": torch.randn(rows, 256)})
        (stage,) = compile_on_toy(program, toy_calibration(sram_bytes_per_core=40_000)).stages
        spills.append(stage.spill_bytes)
    acts = [(r * 256 + r * 128) * 2 for r in (64, 128, 256)]
    assert spills == [a - 40_000 for a in acts]


def test_a_large_batch_runs_in_passes_when_that_moves_less():
    """4,096 rows: 3.1 MB of activations, 1 MB on chip. Spilling would move 2.1 MB; four passes
    of rows, each streaming the 65.8 kB of weights again, move three more weight reads."""
    program = capture(OneLinear().eval(), {"x": torch.randn(4096, 256)})
    (stage,) = compile_on_toy(program, toy_calibration(sram_bytes_per_core=1e6)).stages
    acts = 4096 * (256 + 128) * 2
    assert stage.activation_bytes == acts and acts - 1e6 > 3 * LINEAR_WEIGHT_BYTES
    assert stage.spill_bytes == 3 * LINEAR_WEIGHT_BYTES
    assert stage.dram_bytes == 4 * LINEAR_WEIGHT_BYTES


def test_a_per_core_dma_limit_caps_a_lone_core(linear_program):
    cal = toy_calibration(sram_bytes_per_core=50_000, core_dma_fraction=0.25)
    (stage,) = compile_on_toy(linear_program, cal).stages
    # 1 GB/s chip, but one core's DMA moves at most a quarter of it.
    assert stage.estimated_s == pytest.approx(64_944 / 0.25e9 + OVERHEAD, rel=1e-12)


def test_te_efficiency_of_partial_tiles_and_short_matmuls():
    cal = toy_calibration(te_max_efficiency=0.5, te_fill_rows=32)[V1]
    # K = 100 fills 100 of 128 array rows, N = 96 uses 96 of 128 columns (two 64-wide tiles),
    # and M = 32 streamed rows amortise 32 rows of fill: 32 / (32 + 32).
    expected = 0.5 * (32 / 64) * (100 / 128) * (96 / 128)
    assert te_efficiency(Matmul(1, 32, 100, 96), toy_acc(), cal) == pytest.approx(expected)
    assert te_efficiency(Matmul(1, 512, 128, 64), toy_acc(), TOY_V1) == 1.0


def test_compile_uses_te_efficiency():
    program = capture(OneLinear(100, 96, bias=False).eval(), {"x": torch.randn(32, 100)})
    cal = toy_calibration(te_max_efficiency=0.5, te_fill_rows=32)
    efficiency = 0.5 * (32 / 64) * (100 / 128) * (96 / 128)
    (stage,) = compile_on_toy(program, cal).stages
    assert stage.compute_s == pytest.approx(2 * 32 * 100 * 96 / (1e12 * efficiency), rel=1e-12)


def test_catalog_neuroncore_peak_is_16_tflops():
    program = capture(OneLinear(bias=False).eval(), {"x": torch.randn(128, 256)})
    inf1 = get_instance("inf1.xlarge")
    (stage,) = compile_toy(program, inf1, toy_calibration(), 1, batch=128).stages
    assert stage.compute_s == pytest.approx(2 * 128 * 256 * 128 / 16e12, rel=1e-12)


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
def test_partition_is_contiguous_exact_and_optimal(chain_program, parts):
    plan = compile_on_toy(chain_program, toy_calibration(), pipeline_cores=parts)
    ops = op_costs(chain_program)
    times = _chain_op_seconds()
    assert len(plan.stages) == parts == plan.knob("pipeline_cores")
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


def test_stage_boundaries_carry_the_activations(chain_program):
    plan = compile_on_toy(chain_program, toy_calibration(), pipeline_cores=6)
    outs = [ROWS * n * 2 for n in WIDTHS[1:]]  # BF16 output of each linear
    assert [s.act_out_bytes for s in plan.stages[:-1]] == outs[:-1]
    assert [s.act_in_bytes for s in plan.stages[1:]] == outs[:-1]
    assert plan.stages[0].act_in_bytes == ROWS * WIDTHS[0] * 8
    assert plan.stages[-1].act_out_bytes == ROWS * WIDTHS[-1] * 4


def test_a_skip_connection_crosses_the_boundary_too():
    program = capture(Residual().eval(), {"x": torch.randn(ROWS, 128)})
    plan = compile_on_toy(program, toy_calibration(), pipeline_cores=2)
    first, second = plan.stages
    assert (first.last_op, second.first_op) == ("linear", "layer_norm")
    # norm(fc(x)) + x: fc(x) and x cross the boundary.
    assert first.act_out_bytes == second.act_in_bytes == 2 * ROWS * 128 * 2


def test_element_wise_epilogues_fuse_into_their_matmul():
    """fc -> gelu is one unit: it cannot be split, and the GELU (ScalarEngine) overlaps the
    matmul (TensorEngine) over the tiles; the layer norm and the add after it are units."""
    program = capture(Residual(gelu=True).eval(), {"x": torch.randn(ROWS, 128)})
    ops = op_costs(program)
    assert [op.target for op in ops] == ["linear", "gelu", "layer_norm", "add"]
    units = fuse(ops, toy_acc(), TOY_V1)
    targets = [[op.target for op in u.ops] for u in units]
    assert targets == [["linear", "gelu"], ["layer_norm"], ["add"]]
    matmul = 2 * ROWS * 128 * 128 / 1e12
    gelu = ROWS * 128 * 8 / 2e10
    assert units[0].seconds == pytest.approx(max(matmul, gelu), rel=1e-12)
    with pytest.raises(InputError, match=r"pipeline cores 4 exceed the model's 3 operators"):
        compile_on_toy(program, toy_calibration(), pipeline_cores=4)


def test_streaming_stages_share_the_chips_bandwidth(chain_program):
    """Two stages on one chip: the compiler assumes each gets half the DRAM bandwidth."""
    cal = toy_calibration(sram_bytes_per_core=0.0)  # everything streams or spills
    plan = compile_on_toy(chain_program, cal, pipeline_cores=2)
    for stage in plan.stages:
        assert stage.resident_bytes == 0
        expected = max(stage.compute_s, stage.dram_bytes / (1e9 / 2)) + OVERHEAD
        assert stage.estimated_s == pytest.approx(expected, rel=1e-12)


def test_more_pipeline_cores_than_operators_is_an_input_error(linear_program):
    with pytest.raises(InputError, match=r"pipeline cores 2 exceed .* 1 operators"):
        compile_on_toy(linear_program, toy_calibration(), pipeline_cores=2)


def test_plan_json_round_trip(chain_program):
    plan = compile_on_toy(chain_program, toy_calibration(), pipeline_cores=3)
    assert Plan.from_json(plan.to_json()) == plan
    weights = sum(s.weight_bytes for s in plan.stages) // 2  # BF16
    assert weights == sum(w * h for w, h in itertools.pairwise(WIDTHS))

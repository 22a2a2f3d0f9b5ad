"""The GPU generation: one stage on the whole device, each kernel bound by engines or memory."""

from __future__ import annotations

import pytest
import torch

from autotune.catalog import get_instance
from autotune.emulator import capture, op_costs
from autotune.errors import InputError
from autotune.hardware import generation_of
from autotune.hardware.gpu import op_seconds
from autotune.values import Deployment
from tests.toy import TOY_GPU, compile_toy, toy_acc, toy_calibration, toy_instance
from tests.toy_models import ROWS, OneLinear


@pytest.fixture(scope="module")
def linear_program():
    return capture(OneLinear().eval(), {"x": torch.randn(ROWS, 256)})


def toy_gpu():
    acc = toy_acc(
        name="toy-gpu", generation="gpu", cores_per_chip=1, systolic_rows=1, systolic_cols=1
    )
    return toy_instance(acc)


def test_gpu_op_is_bound_by_the_slower_of_engines_and_memory(linear_program):
    gpu = toy_gpu()
    (op,) = op_costs(linear_program)
    moved = (256 * 128 + 128 + 64 * 256 + 64 * 128) * 2  # weights + activations, FP16
    engines = 2 * 64 * 256 * 128 / (1e12 * 0.5) + 64 * 128 / 1e10  # tensor efficiency 0.5
    assert moved / 1e9 > engines
    assert op_seconds(op, gpu.accelerator, TOY_GPU) == pytest.approx(moved / 1e9 + 1e-6, rel=1e-12)
    plan = compile_toy(linear_program, gpu, toy_calibration(), None, batch=ROWS)
    (stage,) = plan.stages
    assert plan.precision == "fp16-amp"
    assert plan.generation == "gpu" and plan.compile_knobs == ()
    assert stage.estimated_s == stage.compute_s == pytest.approx(moved / 1e9 + 1e-6)
    assert stage.resident_bytes == 0  # a GPU keeps no weights on chip between inferences


def test_neuroncore_knobs_do_not_apply_to_a_gpu():
    g4dn = get_instance("g4dn.xlarge")
    with pytest.raises(InputError, match=r"--group-sizes do not apply to g4dn.xlarge \(gpu\)"):
        generation_of(g4dn).resolve(g4dn, Deployment.of(g4dn.name, group_sizes=(1, 1)))

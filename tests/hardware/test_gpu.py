"""The GPU generation: one stage on the whole device, each kernel bound by engines or memory."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from autotune.catalog import get_instance, load_accelerators
from autotune.emulator import capture, op_costs
from autotune.errors import InputError
from autotune.hardware import generation_of
from autotune.hardware.gpu import STACKS, engine_peak, kernels, op_seconds
from autotune.values import Deployment
from tests.toy import TOY_GPU, compile_toy, toy_acc, toy_calibration, toy_instance
from tests.toy_models import ROWS, Chain, OneLinear


@pytest.fixture(scope="module")
def linear_program():
    return capture(OneLinear().eval(), {"x": torch.randn(ROWS, 256)})


def toy_gpu(**changes):
    acc = toy_acc(
        name="toy-gpu", generation="gpu", cores_per_chip=1, systolic_rows=1, systolic_cols=1
    )
    return toy_instance(dataclasses.replace(acc, **changes))


def test_gpu_op_is_bound_by_the_slower_of_engines_and_memory(linear_program):
    gpu = toy_gpu()
    (op,) = op_costs(linear_program)
    moved = (256 * 128 + 128 + 64 * 256 + 64 * 128) * 2  # weights + activations, FP16
    engines = 2 * 64 * 256 * 128 / (1e12 * 0.5) + 64 * 128 / 1e10  # engine efficiency 0.5
    assert moved / 1e9 > engines
    fp16 = STACKS["torchscript-fp16"]
    assert op_seconds(op, gpu.accelerator, fp16, TOY_GPU) == pytest.approx(moved / 1e9, rel=1e-12)
    plan = compile_toy(linear_program, gpu, toy_calibration(), None, batch=ROWS)
    (stage,) = plan.stages
    assert plan.precision == "fp16-amp"
    assert plan.generation == "gpu" and plan.compile_knobs == (("stack", "torchscript-amp"),)
    # Under AMP the FP32 weights and input are cast to FP16 first (read 4, write 2 bytes each),
    # then the matmul moves FP16 operands; three kernels whose 1 us dispatches hide behind the
    # device's time.
    casts = (256 * 128 + 128 + 64 * 256) * 6 / 1e9
    assert stage.estimated_s == stage.compute_s == pytest.approx(casts + moved / 1e9)
    assert kernels(op, STACKS["torchscript-amp"]) == 3 and kernels(op, fp16) == 1
    assert stage.resident_bytes == 0  # a GPU keeps no weights on chip between inferences


def test_dispatch_bound_when_kernels_are_tiny():
    """The host launches asynchronously: many tiny kernels take their dispatch time (under AMP
    each bias-free linear is three: a cast of its weight, one of its input, the matmul)."""
    program = capture(Chain((64, 64, 64, 64, 64)).eval(), {"x": torch.randn(1, 64)})
    fast = toy_gpu(dram_bandwidth_per_chip=1e15)
    plan = compile_toy(program, fast, toy_calibration(), None, batch=1)
    assert plan.stages[0].compute_s == pytest.approx(12 * TOY_GPU.kernel_launch_s, rel=1e-12)


def test_each_stack_computes_in_its_precision(linear_program):
    """FP32 eager runs on the FP32 units with 4-byte elements; INT8 on the INT8 tensor path."""
    acc = load_accelerators()["t4"]
    (op,) = op_costs(linear_program)
    fp32 = STACKS["eager-fp32"]
    moved = (256 * 128 + 128 + 64 * 256 + 64 * 128) * 4
    arithmetic = 2 * 64 * 256 * 128 / (8.1e12 * 0.5) + 64 * 128 / 8.1e12
    assert op_seconds(op, acc, fp32, TOY_GPU) == pytest.approx(max(arithmetic, moved / 320e9))
    assert engine_peak(acc, STACKS["tensorrt-int8"]) == 130e12
    assert engine_peak(acc, STACKS["tensorrt-fp16"]) == 65e12


def test_stack_is_a_knob_validated_once():
    g4dn = get_instance("g4dn.xlarge")
    gpu = generation_of(g4dn)
    assert [d.name for d in gpu.dimensions] == ["stack"]
    default = gpu.resolve(g4dn, Deployment(g4dn.name))
    assert default.knob("stack") == "torchscript-amp"  # the blog's: old results keep their meaning
    assert gpu.choices(g4dn, "stack", {}, "all") == list(STACKS)
    trt = gpu.deployment(g4dn, {"stack": "tensorrt-fp16"})
    assert gpu.chosen(trt) == {"stack": "tensorrt-fp16"}
    assert gpu.precision(trt) == "fp16"
    with pytest.raises(
        InputError, match=r"unknown GPU serving stack 'onnx'; accepted: torchscript-amp, "
    ):
        gpu.resolve(g4dn, Deployment.of(g4dn.name, stack="onnx"))


def _plan_for(deployment):
    from autotune.emulator import compile_model
    from autotune.models import resolve_model
    from autotune.values import Workload

    inst = get_instance(deployment.instance_type)
    source = resolve_model("distilbert-base-uncased")
    workload = Workload("distilbert-base-uncased", source.task, 16, 1)
    return compile_model(source, workload, inst, deployment).plan


def test_the_same_generation_serves_every_gpu_by_its_catalog_figures():
    from autotune.catalog import load_instances

    gpus = {n: i for n, i in load_instances().items() if i.accelerator.generation == "gpu"}
    assert {i.accelerator.name for i in gpus.values()} == {"t4", "a10g", "l4"}
    assert {generation_of(i).name for i in gpus.values()} == {"gpu"}


def test_neuroncore_knobs_do_not_apply_to_a_gpu():
    g4dn = get_instance("g4dn.xlarge")
    with pytest.raises(InputError, match=r"--group-sizes do not apply to g4dn.xlarge \(gpu\)"):
        generation_of(g4dn).resolve(g4dn, Deployment.of(g4dn.name, group_sizes=(1, 1)))

"""GPU instances: the model runs as one stage on the whole device, one copy per GPU.

The same generation serves every GPU of the catalog (T4, A10G, L4): nothing here asks which
one; the catalog's peaks, memory bandwidth and host link are all it reads. The knob is the
serving ``stack`` (TorchScript under AMP as the AWS blog ran it, TorchScript FP16, eager FP32
PyTorch, TensorRT FP16 or INT8): on a GPU the software matters as much as the chip, so each
stack has its own fitted constants (``calibration.yaml``), its own arithmetic engine and its own
element size.

Timing: the host launches kernels asynchronously, so a request takes the longer of the host's
dispatch of every kernel and the device's work; each kernel on the device takes the slower of
its arithmetic and its device-memory traffic. Eager FP32 at batch 1 is flat from sequence 8 to
256 on an A10G because dispatch, not arithmetic, sets it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from autotune.catalog import Accelerator, Instance
from autotune.errors import InputError
from autotune.hardware._calibration import parse_constants
from autotune.hardware._graph import GraphSummary, OpCost
from autotune.hardware._knobs import Dimension, refuse_unknown
from autotune.hardware._plan import Plan, Stage
from autotune.hardware._service import Placement, Server, ServiceModel, check_device_memory
from autotune.values import Deployment, Knob


@dataclass(frozen=True)
class Stack:
    """A serving stack: the precision it computes in and the engine whose peak it runs at.

    Under ``autocast`` (AMP) the weights stay FP32: each matmul first casts its FP32 operands to
    FP16 (one extra kernel per operand, reading 4 and writing 2 bytes per element), and the
    element-wise operators run in FP32 on 4-byte activations.
    """

    precision: str
    engine: str  # "tensor" (FP16 tensor cores), "int8" (INT8 tensor cores), "fp32" (CUDA cores)
    dtype_bytes: int
    framework: str  # stacks of one framework share its dispatch and its GEMM kernels
    autocast: bool = False


STACKS = {
    "torchscript-amp": Stack("fp16-amp", "tensor", 2, "torchscript", autocast=True),  # the blog's
    "torchscript-fp16": Stack("fp16", "tensor", 2, "torchscript"),
    "eager-fp32": Stack("fp32", "fp32", 4, "eager"),
    "tensorrt-fp16": Stack("fp16", "tensor", 2, "tensorrt"),
    "tensorrt-int8": Stack("int8", "int8", 1, "tensorrt"),
}
DEFAULT_STACK = "torchscript-amp"


@dataclass(frozen=True)
class Constants:
    """One stack's unknowns, fitted on its released rows."""

    engine_efficiency: float  # achievable fraction of the stack's engine peak
    kernel_launch_s: float  # host dispatch per kernel (framework, launch)
    host_overhead_s: float  # per request on the host: inputs to tensors, outputs back
    jitter_sigma: float  # log-normal spread of every service time


def engine_peak(acc: Accelerator, stack: Stack) -> float:
    if stack.engine == "int8":
        return acc.int8_ops_per_core or 2 * acc.tensor_flops_per_core
    return acc.vector_flops_per_core if stack.engine == "fp32" else acc.tensor_flops_per_core


def op_seconds(op: OpCost, acc: Accelerator, stack: Stack, c: Constants) -> float:
    """Device time of one operator's kernels: each the slower of its arithmetic and its memory
    traffic (AMP's casts are memory-bound kernels of their own)."""
    tensor = op.tensor_flops / (engine_peak(acc, stack) * c.engine_efficiency)
    engines = tensor + op.vector_flops / acc.vector_flops_per_core
    engines += op.scalar_flops / acc.scalar_flops_per_core
    elements = op.weight_elements + op.act_in_elements + op.act_out_elements
    bandwidth = acc.dram_bandwidth_per_chip
    if not stack.autocast:
        return max(engines, elements * stack.dtype_bytes / bandwidth)
    if not op.matmuls:  # element-wise work stays in FP32
        return max(engines, elements * 4 / bandwidth)
    casts = (op.weight_elements + op.act_in_elements) * (4 + 2) / bandwidth
    return casts + max(engines, elements * 2 / bandwidth)


def kernels(op: OpCost, stack: Stack) -> int:
    """Kernels the host launches for one operator: AMP casts each FP32 operand of a matmul."""
    if stack.autocast and op.matmuls:
        return 1 + (1 if op.weights else 0) + (1 if op.act_in_elements else 0)
    return 1


def device_seconds(ops: tuple[OpCost, ...], acc: Accelerator, stack: Stack, c: Constants) -> float:
    """One inference: the longer of the host's kernel dispatch and the device's kernels."""
    dispatch = sum(kernels(op, stack) for op in ops) * c.kernel_launch_s
    return max(dispatch, sum(op_seconds(op, acc, stack, c) for op in ops))


def _stack_of(deployment: Deployment) -> str:
    return str(deployment.knob("stack", DEFAULT_STACK))


class Gpu:
    name = "gpu"
    dimensions: tuple[Dimension, ...] = (Dimension("stack", "s"),)

    def choices(
        self, instance: Instance, dimension: str, chosen: Mapping[str, Knob], wanted: Any
    ) -> list[Knob]:
        if wanted == "all":
            return list(STACKS)
        return [check_stack(str(s)) for s in wanted]

    def deployment(self, instance: Instance, chosen: Mapping[str, Knob]) -> Deployment:
        return Deployment.of(instance.name, stack=chosen.get("stack", DEFAULT_STACK))

    def chosen(self, deployment: Deployment) -> dict[str, Knob]:
        return {"stack": _stack_of(deployment)}

    def resolve(self, instance: Instance, deployment: Deployment) -> Deployment:
        refuse_unknown(instance, dict(deployment.knobs), {"stack": f"{{{', '.join(STACKS)}}}"})
        return Deployment.of(instance.name, stack=check_stack(_stack_of(deployment)))

    def baselines(self, instance: Instance, weights: int) -> list[dict[str, Knob]]:
        return [{"stack": DEFAULT_STACK}]

    def compile_knobs(self, deployment: Deployment) -> tuple[tuple[str, Knob], ...]:
        return (("stack", _stack_of(deployment)),)  # a TensorRT engine is another artifact

    def precision(self, deployment: Deployment) -> str:
        return STACKS[check_stack(_stack_of(deployment))].precision

    def compile(
        self,
        graph: GraphSummary,
        accelerator: Accelerator,
        compile_knobs: Mapping[str, Knob],
        constants: Mapping[str, Constants],
    ) -> tuple[Stage, ...]:
        name = check_stack(str(compile_knobs["stack"]))
        stack, ops = STACKS[name], graph.ops
        compute = device_seconds(ops, accelerator, stack, constants[name])
        dtype = stack.dtype_bytes
        weights = sum(op.weight_elements for op in ops) * dtype
        peak = max((op.act_in_elements + op.act_out_elements) * dtype for op in ops)
        stage = Stage.of_ops(
            0,
            ops,
            compute_s=compute,
            weight_bytes=weights,
            resident_bytes=0,
            streamed_bytes=weights,
            gather_bytes=sum(op.gather_elements for op in ops) * dtype,
            spill_bytes=0,
            table_bytes=sum(op.table_elements for op in ops) * dtype,
            working_set_bytes=0,
            activation_bytes=peak,
            act_in_bytes=graph.input_bytes,
            act_out_bytes=graph.output_bytes,
            cached_weights=(),
            streamed_weights=tuple(name for op in ops for name, _ in op.weights),
            estimated_s=compute,
        )
        return (stage,)

    def place(self, plan: Plan, instance: Instance, deployment: Deployment) -> Placement:
        placement = Placement(instance, plan, deployment, ((0,),), "gpu")
        check_device_memory(placement)
        return placement

    def service(self, placement: Placement, constants: Mapping[str, Constants]) -> ServiceModel:
        instance, plan = placement.instance, placement.plan
        c = constants[str(plan.knob("stack"))]
        stage = plan.stages[0]
        return ServiceModel(
            copies=((Server(0, 0, ((stage.compute_s, 0.0),), 0.0),),),
            stage_names=("the GPU",),
            cores=instance.cores,
            host_slots=max(1, instance.vcpus),
            host_s=c.host_overhead_s,
            transfer_s=(plan.input_bytes + plan.output_bytes)
            / instance.accelerator.host_link_bandwidth,
            stage_overhead_s=0.0,
            domain_bandwidth=instance.accelerator.dram_bandwidth_per_chip,
            core_bandwidth=instance.accelerator.dram_bandwidth_per_chip,
            jitter_sigma=c.jitter_sigma,
        )

    def settings(self, placement: Placement) -> dict[str, Any]:
        return {
            "generation": self.name,
            "stack": str(placement.plan.knob("stack")),
            "compiler_args": [],
            "environment": {},
            "copies": [{}],
        }

    def parse_constants(self, raw: Mapping[str, Any]) -> dict[str, Constants]:
        return {name: parse_constants(Constants, raw[name]) for name in STACKS}


def check_stack(stack: str) -> str:
    """``stack`` if it is a known serving stack; an ``InputError`` naming them otherwise."""
    if stack not in STACKS:
        raise InputError(f"unknown GPU serving stack {stack!r}; accepted: {', '.join(STACKS)}")
    return stack


GPU = Gpu()

"""Functional path: really execute a plan's stages on CPU, one NeuronCore after another.

Each stage runs only its own slice of the graph and sees only what the previous stage handed
over, exactly what would cross the boundary on the device. Precision follows neuron-cc's default
auto-cast: matrix-multiply operands (weights and activations) are rounded to BF16 while partial
sums stay FP32, and activations cross stage boundaries in BF16; model inputs and outputs are FP32.
TensorEngine operators see BF16-rounded operands, accumulate in FP32 and round their result to
BF16 as it leaves the array; Vector and Scalar engine work runs in FP32.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from autotune.hardware import Plan

if TYPE_CHECKING:
    import torch
    from torch.export import ExportedProgram

# Operators the TensorEngine runs: their floating operands are cast to BF16.
_TENSOR_ENGINE = (
    "linear",
    "mm",
    "addmm",
    "bmm",
    "matmul",
    "baddbmm",
    "scaled_dot_product_attention",
    "embedding",
)


@dataclass(frozen=True)
class StageProgram:
    """The graph nodes one core runs and the values it receives and sends."""

    index: int
    nodes: tuple[Any, ...]
    receives: tuple[str, ...]
    sends: tuple[str, ...]


def _round(value: Any, dtype: Any) -> Any:
    import torch

    if isinstance(value, torch.Tensor) and value.is_floating_point() and dtype is not None:
        return value.to(dtype).to(value.dtype)
    return value


def split_stages(graph_module: Any, plan: Plan) -> list[StageProgram]:
    """Assign every graph node to the stage of the plan that owns it (by first operator)."""
    starts = {stage.first_op: stage.index for stage in plan.stages}
    # Weights (get_attr) are not computed: each stage reads its own from its core's memory.
    body = [
        n for n in graph_module.graph.nodes if n.op not in ("placeholder", "output", "get_attr")
    ]
    owner: dict[str, int] = {}
    stage = 0
    for node in body:
        stage = starts.get(node.name, stage)
        owner[node.name] = stage
    stages = []
    for k in range(len(plan.stages)):
        nodes = tuple(n for n in body if owner[n.name] == k)
        names = {n.name for n in nodes}
        receives = sorted(
            {
                a.name
                for n in nodes
                for a in n.all_input_nodes
                if a.name not in names and a.op != "get_attr"
            }
        )
        later = [n for n in body if owner[n.name] > k] + [
            n for n in graph_module.graph.nodes if n.op == "output"
        ]
        sends = sorted(
            {
                a.name
                for n in later
                for a in n.all_input_nodes
                if owner.get(a.name, -1) <= k and a.op != "get_attr"
            }
        )
        stages.append(StageProgram(k, nodes, tuple(receives), tuple(sends)))
    return stages


def _run_stage(
    graph_module: Any, stage: StageProgram, received: dict[str, Any], dtype: Any
) -> dict[str, Any]:
    import torch
    from torch.fx import Interpreter
    from torch.fx.node import map_arg

    interpreter = Interpreter(graph_module)
    env = dict(received)

    def value(n: Any) -> Any:
        if n.op == "get_attr":
            return interpreter.fetch_attr(str(n.target))
        return env[n.name]

    # Each value is dropped after its last use here unless it is sent on: the stage holds its
    # live activations only, as the core's memory would (a whole batch-16 BERT otherwise
    # keeps gigabytes of dead intermediates).
    last = {a.name: i for i, n in enumerate(stage.nodes) for a in n.all_input_nodes}
    keep = set(stage.sends)
    for i, node in enumerate(stage.nodes):
        args = map_arg(node.args, value)
        kwargs = map_arg(node.kwargs, value)
        engine = node.op == "call_function" and any(op in str(node.target) for op in _TENSOR_ENGINE)
        if engine and dtype is not None:
            # Operands rounded to the reduced precision, products summed in FP32 (CPUs do FP32
            # matmuls fast, and that is what the array does), the result rounded as it leaves.
            low = torch.utils._pytree.tree_map(lambda v: _round(v, dtype), args)
            result = getattr(interpreter, node.op)(node.target, low, kwargs)
            env[node.name] = torch.utils._pytree.tree_map(lambda v: _round(v, dtype), result)
        else:
            env[node.name] = getattr(interpreter, node.op)(node.target, args, kwargs)
        for name in [a.name for a in node.all_input_nodes] + [node.name]:
            if last.get(name, -1) <= i and name not in keep:
                env.pop(name, None)
    return env


def execute(
    program: ExportedProgram,
    plan: Plan,
    inputs: dict[str, torch.Tensor],
    *,
    emulate_precision: bool = True,
) -> tuple[torch.Tensor, ...]:
    """Outputs of the model computed stage by stage as the plan partitions it."""
    import torch

    dtype = (
        torch.bfloat16
        if emulate_precision and plan.precision == "bf16"
        else (torch.float16 if emulate_precision and plan.precision == "fp16-amp" else None)
    )
    module = program.module()
    placeholders = [n for n in module.graph.nodes if n.op == "placeholder"]
    carried: dict[str, Any] = {n.name: inputs[n.name] for n in placeholders}
    output = next(n for n in module.graph.nodes if n.op == "output")
    with torch.no_grad():
        for stage in split_stages(module, plan):
            env = _run_stage(module, stage, {k: carried[k] for k in stage.receives}, dtype)
            last = stage.index == len(plan.stages) - 1
            # Activations leave a NeuronCore in BF16; the final outputs return to the host FP32.
            carried.update(
                {k: env[k] if last else _round(env[k], dtype) for k in stage.sends if k in env}
            )
    flat, _ = torch.utils._pytree.tree_flatten(output.args[0])
    return tuple(carried[n.name] for n in flat)


def max_abs_error(reference: Sequence[torch.Tensor], outputs: Sequence[torch.Tensor]) -> float:
    """Largest absolute difference between two output tuples."""
    return max(
        float((r.detach() - o.detach()).abs().max())
        for r, o in zip(reference, outputs, strict=True)
    )

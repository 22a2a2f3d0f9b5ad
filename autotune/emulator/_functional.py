"""Functional path: really execute a plan's stages on CPU, one NeuronCore after another.

Each stage runs only its own slice of the graph and sees only what the previous stage handed
over, exactly what would cross the boundary on the device. Precision follows the plan's: under
neuron-cc's default (and torch-neuronx ``--auto-cast matmult``) matrix-multiply operands
(weights and activations) are rounded to the cast type (BF16, FP16, TF32 or FP8 E4M3,
saturating), products are summed in FP32, which is what the array computes (and CPUs do FP32
matmuls fast), and the result is rounded as it leaves the array; activations cross stage
boundaries in the cast type; model inputs and outputs are FP32. Vector and Scalar engine work
runs in FP32, except under ``--auto-cast all`` (precision ``<type>+all``), where every operator's
floating operands are rounded too. Precision ``fp32`` (``--auto-cast none``) is exact.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


@dataclass(frozen=True)
class Emulation:
    """How a precision is emulated: what operands become, and which operators it touches."""

    cast: Callable[[Any], Any] | None  # a floating tensor in the reduced precision; None: exact
    all_ops: bool = False  # --auto-cast all: every operator, not only the TensorEngine's


def _tf32(t: torch.Tensor) -> torch.Tensor:
    """FP32 rounded to TF32's 10 mantissa bits (round to nearest even), kept in FP32."""
    import torch

    bits = t.float().contiguous().view(torch.int32)
    bits = (bits + 0xFFF + ((bits >> 13) & 1)) & ~0x1FFF
    return bits.view(torch.float32)


def _fp8(t: torch.Tensor) -> torch.Tensor:
    import torch

    return t.float().to(torch.float8_e4m3fn).to(torch.float32)  # saturates at +-448


def emulation(precision: str) -> Emulation:
    """The emulation of a plan's precision (``bf16``, ``fp16``, ``tf32``, ``fp8_e4m3``, each
    optionally ``+all``; ``fp16-amp`` for GPUs; ``fp32`` exact)."""
    import torch

    kind, _, scope = precision.partition("+")
    casts: dict[str, Callable[[Any], Any]] = {
        "bf16": lambda t: t.to(torch.bfloat16),
        "fp16": lambda t: t.to(torch.float16),
        "fp16-amp": lambda t: t.to(torch.float16),
        "tf32": _tf32,
        "fp8_e4m3": _fp8,
    }
    return Emulation(casts.get(kind), all_ops=scope == "all")


def _round(value: Any, em: Emulation) -> Any:
    import torch

    if isinstance(value, torch.Tensor) and value.is_floating_point() and em.cast is not None:
        return em.cast(value).to(value.dtype)
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
    graph_module: Any, stage: StageProgram, received: dict[str, Any], em: Emulation
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
        if (engine or em.all_ops) and em.cast is not None:
            low = torch.utils._pytree.tree_map(lambda v: _round(v, em), args)
            result = getattr(interpreter, node.op)(node.target, low, kwargs)
            env[node.name] = torch.utils._pytree.tree_map(lambda v: _round(v, em), result)
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

    em = emulation(plan.precision) if emulate_precision else Emulation(None)
    module = program.module()
    placeholders = [n for n in module.graph.nodes if n.op == "placeholder"]
    carried: dict[str, Any] = {n.name: inputs[n.name] for n in placeholders}
    output = next(n for n in module.graph.nodes if n.op == "output")
    with torch.no_grad():
        for stage in split_stages(module, plan):
            env = _run_stage(module, stage, {k: carried[k] for k in stage.receives}, em)
            last = stage.index == len(plan.stages) - 1
            # Activations leave a NeuronCore in the cast type; the final outputs return FP32.
            carried.update(
                {k: env[k] if last else _round(env[k], em) for k in stage.sends if k in env}
            )
    flat, _ = torch.utils._pytree.tree_flatten(output.args[0])
    return tuple(carried[n.name] for n in flat)


def max_abs_error(reference: Sequence[torch.Tensor], outputs: Sequence[torch.Tensor]) -> float:
    """Largest absolute difference between two output tuples."""
    return max(
        float((r.detach() - o.detach()).abs().max())
        for r, o in zip(reference, outputs, strict=True)
    )

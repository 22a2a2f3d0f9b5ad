"""Graph capture with ``torch.export``, and the graph's summary for the hardware models.

Each operator gets what the hardware cares about: the matrix multiplies it issues (shape and
count, for the TensorEngine), element-wise work for the Vector and Scalar engines, the weights it
reads, and the activation bytes it consumes and produces. Layout-only operators (views,
transposes, reshapes) cost nothing: the compiler folds them into the DMA access patterns. The
summary also records which activations are still needed later, so that a compiler can tell what
crosses a stage boundary without the graph.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from autotune.hardware import GraphSummary, Matmul, OpCost, Value

if TYPE_CHECKING:
    import torch
    from torch.export import ExportedProgram


# Bumped whenever what ``summarize`` reads off a graph changes: it names stored summaries.
SUMMARY_VERSION = "1"

# Operators that only move or relabel data, and graph bookkeeping.
_FREE = {
    "view",
    "_unsafe_view",
    "reshape",
    "transpose",
    "permute",
    "contiguous",
    "expand",
    "slice",
    "squeeze",
    "unsqueeze",
    "select",
    "t",
    "clone",
    "dropout",
    "alias",
    "detach",
    "to",
    "_to_copy",
    "_assert_tensor_metadata",
    "getitem",
    "split",
    "chunk",
    "lift_fresh_copy",
    "arange",
    "new_ones",
    "ones",
    "zeros",
    "full",
    "scalar_tensor",
    "sym_size",
    "empty",
}
# Element-wise FLOPs per output element on the ScalarEngine (transcendental activations).
_SCALAR = {"gelu": 8, "tanh": 6, "sigmoid": 4, "exp": 4, "erf": 6, "relu": 1, "silu": 5}
# Element-wise FLOPs per output element on the VectorEngine.
_VECTOR = {
    "layer_norm": 8,
    "native_layer_norm": 8,
    "softmax": 5,
    "_softmax": 5,
    "log_softmax": 6,
    "_log_softmax": 6,
    "rsqrt": 2,
    "pow": 2,
    "mean": 1,
    "sum": 1,
}


class Sizes:
    """Reads tensor sizes off a graph, at one batch size when the graph's batch is symbolic.

    A graph captured with a dynamic batch dimension holds sizes like ``128*s0``; each distinct
    expression is evaluated once per batch.
    """

    def __init__(self, batch: int | None = None):
        self.batch = batch
        self._memo: dict[Any, int] = {}

    def dim(self, size: Any) -> int:
        if isinstance(size, int):
            return size
        expr = size.node.expr
        if expr not in self._memo:
            if self.batch is None:
                raise ValueError(f"size {expr} is symbolic: give the batch size")
            self._memo[expr] = int(expr.xreplace({s: self.batch for s in expr.free_symbols}))
        return self._memo[expr]

    def numel(self, value: Any) -> int:
        shape = getattr(value, "shape", None)
        return math.prod(self.dim(s) for s in shape) if shape is not None else 0


def _short(target: Any) -> str:
    name = getattr(target, "__name__", str(target))
    return name.split(".")[0]


def is_free(node: Any) -> bool:
    """Whether a graph node only relabels or moves data (costs nothing on the NeuronCore)."""
    return node.op == "call_function" and _short(node.target) in _FREE


def capture(
    module: torch.nn.Module, inputs: dict[str, torch.Tensor], *, dynamic_batch: bool = False
) -> ExportedProgram:
    """The module's ATen graph at the inputs' shapes; with ``dynamic_batch`` the first dimension
    of every input stays symbolic, so one capture serves every batch size."""
    import torch

    dynamic = None
    if dynamic_batch:
        batch = torch.export.Dim("batch", min=1, max=1 << 16)
        dynamic = {name: {0: batch} for name in inputs}
    with torch.no_grad():
        return torch.export.export(module, (), dict(inputs), dynamic_shapes=dynamic, strict=False)


def _matmuls(op: str, node: Any, sz: Sizes) -> tuple[Matmul, ...]:
    out = node.meta["val"]
    args = [a.meta.get("val") if hasattr(a, "meta") else a for a in node.args]
    if op == "linear":
        x, w = args[0], args[1]
        k, n = sz.dim(w.shape[1]), sz.dim(w.shape[0])
        return (Matmul(1, sz.numel(x) // k, k, n),)
    if op in ("mm", "addmm", "bmm", "matmul", "baddbmm"):
        a, b = (args[1], args[2]) if op in ("addmm", "baddbmm") else (args[0], args[1])
        m, k, n = sz.dim(a.shape[-2]), sz.dim(a.shape[-1]), sz.dim(b.shape[-1])
        return (Matmul(sz.numel(out) // (m * n), m, k, n),)
    if op == "scaled_dot_product_attention":
        q, k_, v = args[0], args[1], args[2]
        length, dim, keys = sz.dim(q.shape[-2]), sz.dim(q.shape[-1]), sz.dim(k_.shape[-2])
        heads = sz.numel(q) // (length * dim)
        return (Matmul(heads, length, dim, keys), Matmul(heads, length, keys, sz.dim(v.shape[-1])))
    return ()


def op_costs(program: ExportedProgram, sz: Sizes | None = None) -> list[OpCost]:
    """One ``OpCost`` per costed operator of ``program``, in graph order."""
    sz = sz or Sizes()
    signature = program.graph_signature
    params = {**signature.inputs_to_parameters, **signature.inputs_to_buffers}
    seen: set[str] = set()
    costs: list[OpCost] = []
    for node in program.graph.nodes:
        if node.op != "call_function":
            continue
        op = _short(node.target)
        if op in _FREE:
            continue
        inputs = [a for a in node.all_input_nodes if a.op != "get_attr"]
        weights = []
        act_in = 0
        for a in inputs:
            if a.name in params:
                if params[a.name] not in seen and op != "embedding":
                    seen.add(params[a.name])
                    weights.append((params[a.name], sz.numel(a.meta.get("val"))))
            else:
                act_in += sz.numel(a.meta.get("val"))
        out = sz.numel(node.meta.get("val"))
        matmuls = _matmuls(op, node, sz)
        vector = scalar = 0.0
        gather = table = 0
        if op == "embedding":
            gather = out
            source = node.args[0]
            if getattr(source, "name", None) in signature.inputs_to_parameters:
                table = sz.numel(source.meta.get("val"))
        elif op == "scaled_dot_product_attention":
            scores = matmuls[0].count * matmuls[0].m * matmuls[0].n
            vector = scores * (_VECTOR["softmax"] + 2)  # scale and mask, then softmax
        elif op in _SCALAR:
            scalar = float(out * _SCALAR[op])
        elif not matmuls:
            vector = float(max(out, act_in) * _VECTOR.get(op, 1))
        elif weights and len(weights) > 1:
            vector = float(out)  # bias add
        costs.append(
            OpCost(
                node.name, op, matmuls, vector, scalar, tuple(weights), gather, act_in, out, table
            )
        )
    return costs


def _values(program: ExportedProgram, ops: list[OpCost], sz: Sizes) -> tuple[Value, ...]:
    """Activations (and model inputs) with the positions where they are made and last used.

    A view shares its source's storage: what a later operator needs is the source value.
    """
    signature = program.graph_signature
    weights = set(signature.inputs_to_parameters) | set(signature.inputs_to_buffers)
    index = {op.name: i for i, op in enumerate(ops)}
    position = -1
    root: dict[str, str] = {}
    made: dict[str, int] = {}
    last: dict[str, int] = {}
    size: dict[str, int] = {}
    for node in program.graph.nodes:
        position = index.get(node.name, position)
        # Only tensors are values: a size read off a tensor (a symbolic batch) is not its data.
        sources = [a for a in node.all_input_nodes if a.name not in weights and _is_tensor(a)]
        root[node.name] = root[sources[0].name] if is_free(node) and sources else node.name
        if root[node.name] == node.name:
            made[node.name], size[node.name] = position, sz.numel(node.meta.get("val"))
        for a in sources:
            origin = root[a.name]
            last[origin] = max(last.get(origin, position), position)
    return tuple(
        Value(made[name], last[name], size[name])
        for name in made
        if last.get(name, made[name]) > made[name] and size[name]
    )


def _is_tensor(node: Any) -> bool:
    return hasattr(node.meta.get("val"), "shape")


def _io_bytes(program: ExportedProgram, sz: Sizes) -> tuple[int, int]:
    """Bytes the host sends (int64 token tensors) and receives (FP32 outputs) per batch."""
    user_inputs = set(program.graph_signature.user_inputs)
    nodes = list(program.graph.nodes)
    sent = sum(sz.numel(n.meta.get("val")) * 8 for n in nodes if n.name in user_inputs)
    received = sum(sz.numel(a.meta.get("val")) * 4 for a in nodes[-1].all_input_nodes)
    return sent, received


def summarize(program: ExportedProgram, batch: int | None = None) -> GraphSummary:
    """What the hardware models need of ``program`` (at ``batch`` if its batch is symbolic):
    operator costs, values, host transfers."""
    sz = Sizes(batch)
    ops = op_costs(program, sz)
    sent, received = _io_bytes(program, sz)
    return GraphSummary(tuple(ops), _values(program, ops, sz), sent, received)

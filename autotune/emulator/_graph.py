"""Graph capture with ``torch.export`` and per-operator costs read off the exported graph.

Each operator gets what the hardware cares about: the matrix multiplies it issues (shape and
count, for the TensorEngine), element-wise work for the Vector and Scalar engines, the weights it
reads, and the activation bytes it consumes and produces. Layout-only operators (views,
transposes, reshapes) cost nothing: the compiler folds them into the DMA access patterns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch.export import ExportedProgram


@dataclass(frozen=True)
class Matmul:
    """``count`` independent (M x K) @ (K x N) products."""

    count: int
    m: int
    k: int
    n: int

    @property
    def flops(self) -> float:
        return 2.0 * self.count * self.m * self.k * self.n


@dataclass(frozen=True)
class OpCost:
    """What one graph operator asks of a NeuronCore."""

    name: str
    target: str
    matmuls: tuple[Matmul, ...]
    vector_flops: float  # VectorEngine: normalisations, softmax, adds
    scalar_flops: float  # ScalarEngine: activation functions
    weights: tuple[tuple[str, int], ...]  # (parameter name, elements) first used here
    gather_elements: int  # table rows read by embedding lookups (never cached)
    act_in_elements: int
    act_out_elements: int

    @property
    def tensor_flops(self) -> float:
        return sum(mm.flops for mm in self.matmuls)

    @property
    def flops(self) -> float:
        return self.tensor_flops + self.vector_flops + self.scalar_flops

    @property
    def weight_elements(self) -> int:
        return sum(n for _, n in self.weights)


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


def numel(value: Any) -> int:
    shape = getattr(value, "shape", None)
    return math.prod(int(s) for s in shape) if shape is not None else 0


def _short(target: Any) -> str:
    name = getattr(target, "__name__", str(target))
    return name.split(".")[0]


def is_free(node: Any) -> bool:
    """Whether a graph node only relabels or moves data (costs nothing on the NeuronCore)."""
    return node.op == "call_function" and _short(node.target) in _FREE


def capture(module: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> ExportedProgram:
    """The module's ATen graph at the inputs' static shapes."""
    import torch

    with torch.no_grad():
        return torch.export.export(module, (), dict(inputs), strict=False)


def _matmuls(op: str, node: Any) -> tuple[Matmul, ...]:
    out = node.meta["val"]
    args = [a.meta.get("val") if hasattr(a, "meta") else a for a in node.args]
    if op == "linear":
        x, w = args[0], args[1]
        k, n = int(w.shape[1]), int(w.shape[0])
        return (Matmul(1, numel(x) // k, k, n),)
    if op in ("mm", "addmm", "bmm", "matmul", "baddbmm"):
        a, b = (args[1], args[2]) if op in ("addmm", "baddbmm") else (args[0], args[1])
        m, k, n = int(a.shape[-2]), int(a.shape[-1]), int(b.shape[-1])
        return (Matmul(numel(out) // (m * n), m, k, n),)
    if op == "scaled_dot_product_attention":
        q, k_, v = args[0], args[1], args[2]
        heads = numel(q) // (int(q.shape[-2]) * int(q.shape[-1]))
        length, dim, keys = int(q.shape[-2]), int(q.shape[-1]), int(k_.shape[-2])
        return (Matmul(heads, length, dim, keys), Matmul(heads, length, keys, int(v.shape[-1])))
    return ()


def op_costs(program: ExportedProgram) -> list[OpCost]:
    """One ``OpCost`` per costed operator of ``program``, in graph order."""
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
                    weights.append((params[a.name], numel(a.meta.get("val"))))
            else:
                act_in += numel(a.meta.get("val"))
        out = numel(node.meta.get("val"))
        matmuls = _matmuls(op, node)
        vector = scalar = 0.0
        gather = 0
        if op == "embedding":
            gather = out
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
            OpCost(node.name, op, matmuls, vector, scalar, tuple(weights), gather, act_in, out)
        )
    return costs

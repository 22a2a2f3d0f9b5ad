"""What the hardware models read off a captured graph: operator costs and the values between them.

Pure data, filled by ``autotune.emulator`` from a ``torch.export`` graph, so that a generation's
compiler never touches torch.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


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
    """What one graph operator asks of the hardware."""

    name: str
    target: str
    matmuls: tuple[Matmul, ...]
    vector_flops: float  # normalisations, softmax, adds
    scalar_flops: float  # activation functions
    weights: tuple[tuple[str, int], ...]  # (parameter name, elements) first used here
    gather_elements: int  # table rows read by embedding lookups (never cached)
    act_in_elements: int
    act_out_elements: int
    table_elements: int = 0  # embedding tables this lookup reads: they only occupy memory

    @property
    def tensor_flops(self) -> float:
        return sum(mm.flops for mm in self.matmuls)

    @property
    def flops(self) -> float:
        return self.tensor_flops + self.vector_flops + self.scalar_flops

    @property
    def weight_elements(self) -> int:
        return sum(n for _, n in self.weights)


@dataclass(frozen=True)
class Value:
    """An activation made at one operator and still needed at a later one.

    Positions index ``GraphSummary.ops``: the last costed operator at or before the node
    (-1 for the model's inputs); views count as their source.
    """

    made_at: int
    last_used_at: int
    elements: int


@dataclass(frozen=True)
class GraphSummary:
    """A model at one static shape, as its compiler sees it."""

    ops: tuple[OpCost, ...]
    values: tuple[Value, ...]
    input_bytes: int  # what the host sends per batch (int64 token ids)
    output_bytes: int  # what it receives (FP32 outputs)

    @property
    def weight_elements(self) -> int:
        """Parameters multiplied with (embedding tables aside)."""
        return sum(op.weight_elements for op in self.ops)

    def crossing_elements(self, starts: Sequence[int]) -> list[int]:
        """Elements crossing each boundary between the contiguous stages starting at ``starts``."""
        crossing = [0] * len(starts)

        def stage(position: int) -> int:
            return max(0, bisect.bisect_right(starts, position) - 1)

        for v in self.values:
            for boundary in range(stage(v.made_at), stage(v.last_used_at)):
                crossing[boundary] += v.elements
        return crossing[:-1]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> GraphSummary:
        """Rebuild a summary from ``to_json`` output; raises on any mismatch."""
        raw: Any = json.loads(text)
        ops = tuple(
            OpCost(
                **{
                    **op,
                    "matmuls": tuple(Matmul(**mm) for mm in op["matmuls"]),
                    "weights": tuple((str(n), int(e)) for n, e in op["weights"]),
                }
            )
            for op in raw["ops"]
        )
        values = tuple(Value(**v) for v in raw["values"])
        return cls(ops, values, int(raw["input_bytes"]), int(raw["output_bytes"]))

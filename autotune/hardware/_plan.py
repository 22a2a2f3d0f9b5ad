"""The compiled artifact: a frozen plan of stages, serialisable to safe JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from autotune.hardware._graph import OpCost


@dataclass(frozen=True)
class Stage:
    """One contiguous slice of the graph, run by one core (or by the whole device)."""

    index: int
    first_op: str
    last_op: str
    n_ops: int
    tensor_flops: float
    vector_flops: float
    scalar_flops: float
    compute_s: float  # engine time at the calibrated efficiency
    weight_bytes: int  # weights this stage multiplies with, per inference
    resident_bytes: int  # of those, kept in the core's on-chip memory
    streamed_bytes: int  # of those, read from device memory on every inference
    gather_bytes: int  # embedding rows read from tables in device memory
    spill_bytes: int  # activations too large for on-chip memory, round-tripped through DRAM
    table_bytes: int  # embedding tables that only occupy device memory
    working_set_bytes: int  # the largest operator's activations, which share on-chip memory
    activation_bytes: int  # the largest operator's activations, uncapped: held in device DRAM
    act_in_bytes: int  # activations received from the previous stage (or the host)
    act_out_bytes: int  # activations sent to the next stage (or the host)
    cached_weights: tuple[str, ...]
    streamed_weights: tuple[str, ...]
    estimated_s: float  # the compiler's own estimate, all cores of the chip busy
    # In execution order: (engine seconds, DRAM bytes) of each part whose DMA overlaps its own
    # arithmetic only; empty means one part (compute_s, dram_bytes).
    phases: tuple[tuple[float, int], ...] = ()

    @classmethod
    def of_ops(cls, index: int, ops: Sequence[OpCost], **sizes: Any) -> Stage:
        """The stage running ``ops`` (in graph order), with the timing and sizes a generation
        computed for it; its extent and arithmetic are the operators'."""
        return cls(
            index=index,
            first_op=ops[0].name,
            last_op=ops[-1].name,
            n_ops=len(ops),
            tensor_flops=sum(op.tensor_flops for op in ops),
            vector_flops=sum(op.vector_flops for op in ops),
            scalar_flops=sum(op.scalar_flops for op in ops),
            **sizes,
        )

    @property
    def dram_bytes(self) -> int:
        return self.streamed_bytes + self.gather_bytes + self.spill_bytes

    @property
    def flops(self) -> float:
        return self.tensor_flops + self.vector_flops + self.scalar_flops

    @property
    def device_bytes(self) -> int:
        """Device memory this stage occupies: weights, tables, double-buffered activations."""
        return self.weight_bytes + self.table_bytes + 2 * self.activation_bytes


@dataclass(frozen=True)
class Plan:
    """Everything the runtime needs to place and time one compiled model.

    ``compile_knobs`` are the generation's settings that change the compiled artifact (for
    NeuronCore-v1, the pipeline cores), by name.
    """

    key: str
    model: str
    model_identity: str
    task: str
    batch_size: int
    seq_len: int
    generation: str
    compile_knobs: tuple[tuple[str, Any], ...]
    precision: str
    accelerator: str
    emulator_version: str
    input_bytes: int
    output_bytes: int
    stages: tuple[Stage, ...]

    @property
    def device_bytes(self) -> int:
        """Device memory one copy occupies."""
        return sum(s.device_bytes for s in self.stages)

    def knob(self, name: str) -> Any:
        return dict(self.compile_knobs)[name]

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Plan:
        """Rebuild a plan from ``to_json`` output; raises ``ValueError`` on any mismatch."""
        raw: Any = json.loads(text)
        if not isinstance(raw, dict) or not isinstance(raw.get("stages"), list):
            raise ValueError("not a plan")
        stages = []
        for s in raw.pop("stages"):
            s["cached_weights"] = tuple(s["cached_weights"])
            s["streamed_weights"] = tuple(s["streamed_weights"])
            s["phases"] = tuple((float(c), int(b)) for c, b in s["phases"])
            stages.append(Stage(**s))
        raw["compile_knobs"] = tuple((str(k), v) for k, v in raw["compile_knobs"])
        return cls(**raw, stages=tuple(stages))

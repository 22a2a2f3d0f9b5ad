"""Ahead-of-time compiler: exported graph -> plan of pipeline stages balanced on stage time.

Like neuron-cc, it compiles for a fixed batch and sequence length and a fixed number of
NeuronCores (``--neuroncore-pipeline-cores``). The graph is cut into that many contiguous stages
so that the slowest stage is as fast as possible; each stage then keeps as many of its weights in
its core's on-chip memory as the activations of its largest operator leave room for, and streams
the rest from device DRAM on every inference.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from autotune.catalog import Accelerator
from autotune.emulator._calibration import Calibration
from autotune.emulator._graph import Matmul, OpCost, is_free, numel, op_costs
from autotune.emulator._plan import Plan, Stage
from autotune.errors import InputError

if TYPE_CHECKING:
    from torch.export import ExportedProgram


def precision_of(accelerator: Accelerator) -> str:
    # neuron-cc casts FP32 to BF16 by default; the GPU baseline ran under AMP (FP16).
    return "bf16" if accelerator.kind == "neuron" else "fp16-amp"


def plan_key(
    identity: str,
    task: str,
    batch: int,
    seq_len: int,
    pipeline_cores: int,
    accelerator: Accelerator,
    emulator_version: str,
) -> str:
    """Content hash naming a compiled plan; computable without building the model."""
    fields = [
        identity,
        task,
        batch,
        seq_len,
        pipeline_cores,
        precision_of(accelerator),
        accelerator.name,
        emulator_version,
    ]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()


def _align(size: int, tile: int) -> float:
    return size / (tile * math.ceil(size / tile))


def te_efficiency(mm: Matmul, acc: Accelerator, cal: Calibration) -> float:
    """Achieved fraction of TensorEngine peak for one matrix shape.

    The systolic array holds a K x N tile of the stationary operand; partial tiles waste rows
    and columns, and each tile pays a fill/drain cost that only M streamed rows amortise.
    """
    if acc.kind == "gpu":
        return cal.gpu.tensor_efficiency
    fill = mm.m / (mm.m + cal.neuron.te_fill_rows)
    shape = _align(mm.k, acc.systolic_rows) * _align(mm.n, acc.systolic_cols)
    return cal.neuron.te_max_efficiency * fill * shape


def op_seconds(op: OpCost, acc: Accelerator, cal: Calibration) -> float:
    """Engine time of one operator, memory traffic aside on NeuronCores."""
    tensor = sum(
        mm.flops / (acc.tensor_flops_per_core * te_efficiency(mm, acc, cal)) for mm in op.matmuls
    )
    engines = tensor + op.vector_flops / acc.vector_flops_per_core
    engines += op.scalar_flops / acc.scalar_flops_per_core
    if acc.kind == "neuron":
        return engines
    # A GPU kernel streams its operands from GDDR; it is bound by the slower of the two.
    moved = (
        op.weight_elements + op.act_in_elements + op.act_out_elements
    ) * acc.compute_dtype_bytes
    return max(engines, moved / acc.dram_bandwidth_per_chip) + cal.gpu.kernel_launch_s


@dataclass
class _Slice:
    """Running totals of a candidate stage, cheap to extend by one operator."""

    compute_s: float = 0.0
    weight_bytes: int = 0
    working_set: int = 0
    peak_activations: int = 0
    spill_bytes: int = 0
    gather_bytes: int = 0


class _StageModel:
    """The compiler's view of how long a stage takes, all cores of its chip busy."""

    def __init__(self, ops: Sequence[OpCost], acc: Accelerator, cal: Calibration, cores: int):
        self.acc, self.cal, self.ops = acc, cal, ops
        self.seconds = [op_seconds(op, acc, cal) for op in ops]
        self.dtype = acc.compute_dtype_bytes
        sharing = min(cores, acc.cores_per_chip)
        self.bandwidth = acc.dram_bandwidth_per_chip * cal.neuron.dram_efficiency / sharing

    def extend(self, s: _Slice, i: int) -> _Slice:
        op, sram = self.ops[i], self.cal.neuron.sram_bytes_per_core
        acts = (op.act_in_elements + op.act_out_elements) * self.dtype
        return _Slice(
            compute_s=s.compute_s + self.seconds[i],
            weight_bytes=s.weight_bytes + op.weight_elements * self.dtype,
            working_set=max(s.working_set, min(acts, int(sram))),
            peak_activations=max(s.peak_activations, acts),
            spill_bytes=s.spill_bytes + (acts if acts > sram else 0),
            gather_bytes=s.gather_bytes + op.gather_elements * self.dtype,
        )

    def resident(self, s: _Slice) -> int:
        if self.acc.kind == "gpu":
            return 0
        budget = max(0.0, self.cal.neuron.sram_bytes_per_core - s.working_set)
        return int(min(s.weight_bytes, budget))

    def seconds_of(self, s: _Slice) -> float:
        if self.acc.kind == "gpu":
            return s.compute_s
        dram = s.weight_bytes - self.resident(s) + s.gather_bytes + s.spill_bytes
        return max(s.compute_s, dram / self.bandwidth) + self.cal.neuron.stage_overhead_s


def _slice(model: _StageModel, start: int, end: int) -> _Slice:
    s = _Slice()
    for i in range(start, end):
        s = model.extend(s, i)
    return s


def _greedy(limit: float, n: int, parts: int, model: _StageModel) -> list[int] | None:
    """Stage starts of the greedy split with every stage within ``limit``; None if > parts."""
    starts, current = [0], _Slice()
    for i in range(n):
        grown = model.extend(current, i)
        if model.seconds_of(grown) > limit and i > starts[-1]:
            if len(starts) == parts:
                return None
            starts.append(i)
            grown = model.extend(_Slice(), i)
        current = grown
    return starts


def _split_to(starts: list[int], n: int, parts: int, model: _StageModel) -> list[int]:
    """Split the slowest splittable stage in two until there are ``parts`` stages."""
    while len(starts) < parts:
        bounds = list(zip(starts, [*starts[1:], n], strict=True))
        splittable = [(a, b) for a, b in bounds if b - a > 1]
        a, b = max(splittable, key=lambda ab: model.seconds_of(_slice(model, *ab)))
        cut = min(
            range(a + 1, b),
            key=lambda c: max(
                model.seconds_of(_slice(model, a, c)), model.seconds_of(_slice(model, c, b))
            ),
        )
        starts = sorted([*starts, cut])
    return starts


def partition(n: int, parts: int, model: _StageModel) -> list[int]:
    """Start index of each of ``parts`` contiguous stages, minimising the slowest (bisection)."""
    low, high = 0.0, model.seconds_of(_slice(model, 0, n))
    best = [0]
    for _ in range(40):
        mid = (low + high) / 2
        starts = _greedy(mid, n, parts, model)
        if starts is None:
            low = mid
        else:
            high, best = mid, starts
    return _split_to(best, n, parts, model)


def _crossing_bytes(
    program: ExportedProgram, ops: Sequence[OpCost], starts: Sequence[int], dtype: int
) -> list[int]:
    """Activation bytes crossing each stage boundary (values made before it and used after)."""
    signature = program.graph_signature
    weights = set(signature.inputs_to_parameters) | set(signature.inputs_to_buffers)
    first_op = {ops[s].name: k for k, s in enumerate(starts)}
    stage_of: dict[str, int] = {}
    root: dict[str, str] = {}
    size: dict[str, int] = {}
    crossing = [0] * len(starts)
    counted: set[tuple[str, int]] = set()
    stage = 0
    for node in program.graph.nodes:
        stage = first_op.get(node.name, stage)
        stage_of[node.name] = stage
        size[node.name] = numel(node.meta.get("val"))
        sources = [a for a in node.all_input_nodes if a.name not in weights]
        # A view shares its source's storage: what crosses is the source value.
        root[node.name] = root[sources[0].name] if is_free(node) and sources else node.name
        for a in sources:
            origin = root[a.name]
            for boundary in range(stage_of[origin], stage):
                if (origin, boundary) not in counted:
                    counted.add((origin, boundary))
                    crossing[boundary] += size[origin] * dtype
    return crossing[:-1]


def _weights_split(
    op_list: Sequence[OpCost], resident: int, dtype: int
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Which weights stay on chip: in graph order until the budget runs out (the rest stream)."""
    cached: list[str] = []
    streamed: list[str] = []
    left = resident
    for op in op_list:
        for name, elements in op.weights:
            if elements * dtype <= left:
                cached.append(name)
                left -= elements * dtype
            else:
                streamed.append(name)
    return tuple(cached), tuple(streamed)


def compile_plan(
    program: ExportedProgram,
    *,
    model: str,
    identity: str,
    task: str,
    batch: int,
    seq_len: int,
    pipeline_cores: int,
    accelerator: Accelerator,
    calibration: Calibration,
    emulator_version: str,
) -> Plan:
    """Partition ``program`` into ``pipeline_cores`` stages for ``accelerator``."""
    ops = op_costs(program)
    if pipeline_cores > len(ops):
        raise InputError(
            f"pipeline cores {pipeline_cores} exceed the model's {len(ops)} operators; "
            f"accepted: 1 to {len(ops)}"
        )
    dtype = accelerator.compute_dtype_bytes
    stage_model = _StageModel(ops, accelerator, calibration, pipeline_cores)
    starts = partition(len(ops), pipeline_cores, stage_model)
    crossing = _crossing_bytes(program, ops, starts, dtype)
    io_in, io_out = _io_bytes(program)
    table_bytes = _table_bytes(program, dtype)
    stages = []
    for k, (a, b) in enumerate(zip(starts, [*starts[1:], len(ops)], strict=True)):
        part, s = ops[a:b], _slice(stage_model, a, b)
        resident = stage_model.resident(s)
        cached, streamed = _weights_split(part, resident, dtype)
        stages.append(
            Stage(
                index=k,
                first_op=part[0].name,
                last_op=part[-1].name,
                n_ops=len(part),
                tensor_flops=sum(op.tensor_flops for op in part),
                vector_flops=sum(op.vector_flops for op in part),
                scalar_flops=sum(op.scalar_flops for op in part),
                compute_s=s.compute_s,
                weight_bytes=s.weight_bytes,
                resident_bytes=resident,
                streamed_bytes=s.weight_bytes - resident,
                gather_bytes=s.gather_bytes,
                spill_bytes=s.spill_bytes,
                table_bytes=sum(table_bytes.get(op.name, 0) for op in part),
                working_set_bytes=s.working_set,
                activation_bytes=s.peak_activations,
                act_in_bytes=io_in if k == 0 else crossing[k - 1],
                act_out_bytes=io_out if k == len(starts) - 1 else crossing[k],
                cached_weights=cached,
                streamed_weights=streamed,
                estimated_s=stage_model.seconds_of(s),
            )
        )
    return Plan(
        key=plan_key(identity, task, batch, seq_len, pipeline_cores, accelerator, emulator_version),
        model=model,
        model_identity=identity,
        task=task,
        batch_size=batch,
        seq_len=seq_len,
        pipeline_cores=pipeline_cores,
        precision=precision_of(accelerator),
        accelerator=accelerator.name,
        emulator_version=emulator_version,
        input_bytes=io_in,
        output_bytes=io_out,
        stages=tuple(stages),
    )


def _io_bytes(program: ExportedProgram) -> tuple[int, int]:
    """Bytes the host sends (int64 token tensors) and receives (FP32 outputs) per batch."""
    user_inputs = set(program.graph_signature.user_inputs)
    nodes = list(program.graph.nodes)
    sent = sum(numel(n.meta.get("val")) * 8 for n in nodes if n.name in user_inputs)
    out_node = nodes[-1]
    received = sum(numel(a.meta.get("val")) * 4 for a in out_node.all_input_nodes)
    return sent, received


def _table_bytes(program: ExportedProgram, dtype: int) -> dict[str, int]:
    """Embedding tables by the lookup that reads them: they occupy device memory only."""
    params = program.graph_signature.inputs_to_parameters
    tables: dict[str, int] = {}
    for node in program.graph.nodes:
        if node.op == "call_function" and "embedding" in str(node.target):
            table = node.args[0]
            if getattr(table, "name", None) in params:
                tables[node.name] = numel(table.meta.get("val")) * dtype
    return tables


__all__ = ["compile_plan", "op_seconds", "partition", "plan_key", "precision_of", "te_efficiency"]

"""neuron-cc, emulated: a graph into N contiguous NeuronCore stages balanced on stage time.

Like neuron-cc, it compiles for a fixed batch and sequence length and a fixed number of
NeuronCores (``--neuroncore-pipeline-cores``). The graph is cut into that many contiguous stages
so that the slowest stage is as fast as possible; each stage then keeps as many of its weights in
its core's on-chip memory as the activations of its largest operator leave room for, and streams
the rest from device DRAM on every inference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from autotune.catalog import Accelerator
from autotune.hardware._graph import GraphSummary, Matmul, OpCost
from autotune.hardware._partition import partition, span
from autotune.hardware._plan import Stage


@dataclass(frozen=True)
class Constants:
    """The NeuronCore-v1 unknowns, fitted by ``benchmarks/fit_calibration.py``."""

    sram_bytes_per_core: float  # on-chip memory usable for weights and activations
    te_max_efficiency: float  # achievable fraction of TensorEngine peak, large aligned matmuls
    te_fill_rows: float  # rows streamed through the array to amortise its fill and drain
    dram_efficiency: float  # achievable fraction of the chip's DRAM bandwidth
    stage_overhead_s: float  # per stage invocation: semaphores, DMA descriptors, queueing
    host_overhead_s: float  # per request on the host: framework, runtime call, copies
    jitter_sigma: float  # log-normal spread of every service time


def _align(size: int, tile: int) -> float:
    return size / (tile * math.ceil(size / tile))


def te_efficiency(mm: Matmul, acc: Accelerator, c: Constants) -> float:
    """Achieved fraction of TensorEngine peak for one matrix shape.

    The systolic array holds a K x N tile of the stationary operand; partial tiles waste rows
    and columns, and each tile pays a fill/drain cost that only M streamed rows amortise.
    """
    fill = mm.m / (mm.m + c.te_fill_rows)
    shape = _align(mm.k, acc.systolic_rows) * _align(mm.n, acc.systolic_cols)
    return c.te_max_efficiency * fill * shape


def op_seconds(op: OpCost, acc: Accelerator, c: Constants) -> float:
    """Engine time of one operator (TensorEngine, Vector and Scalar engines), memory aside."""
    tensor = sum(
        mm.flops / (acc.tensor_flops_per_core * te_efficiency(mm, acc, c)) for mm in op.matmuls
    )
    engines = tensor + op.vector_flops / acc.vector_flops_per_core
    return engines + op.scalar_flops / acc.scalar_flops_per_core


@dataclass
class _Slice:
    """Running totals of a candidate stage, cheap to extend by one operator."""

    compute_s: float = 0.0
    weight_bytes: int = 0
    working_set: int = 0
    peak_activations: int = 0
    spill_bytes: int = 0
    gather_bytes: int = 0


class StageModel:
    """The compiler's view of how long a stage takes, all cores of its chip busy."""

    def __init__(self, ops: Sequence[OpCost], acc: Accelerator, c: Constants, cores: int):
        self.acc, self.c, self.ops = acc, c, ops
        self.seconds = [op_seconds(op, acc, c) for op in ops]
        self.dtype = acc.compute_dtype_bytes
        sharing = min(cores, acc.cores_per_chip)
        self.bandwidth = acc.dram_bandwidth_per_chip * c.dram_efficiency / sharing

    def empty(self) -> _Slice:
        return _Slice()

    def extend(self, s: _Slice, i: int) -> _Slice:
        op, sram = self.ops[i], self.c.sram_bytes_per_core
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
        budget = max(0.0, self.c.sram_bytes_per_core - s.working_set)
        return int(min(s.weight_bytes, budget))

    def seconds_of(self, s: _Slice) -> float:
        dram = s.weight_bytes - self.resident(s) + s.gather_bytes + s.spill_bytes
        return max(s.compute_s, dram / self.bandwidth) + self.c.stage_overhead_s


def _weights_split(
    ops: Sequence[OpCost], resident: int, dtype: int
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Which weights stay on chip: in graph order until the budget runs out (the rest stream)."""
    cached: list[str] = []
    streamed: list[str] = []
    left = resident
    for op in ops:
        for name, elements in op.weights:
            if elements * dtype <= left:
                cached.append(name)
                left -= elements * dtype
            else:
                streamed.append(name)
    return tuple(cached), tuple(streamed)


def compile_stages(
    graph: GraphSummary, acc: Accelerator, pipeline_cores: int, c: Constants
) -> tuple[Stage, ...]:
    """Partition ``graph`` into ``pipeline_cores`` stages and size each stage's memory traffic."""
    ops, dtype = graph.ops, acc.compute_dtype_bytes
    model = StageModel(ops, acc, c, pipeline_cores)
    starts = partition(len(ops), pipeline_cores, model)
    crossing = [n * dtype for n in graph.crossing_elements(starts)]
    stages = []
    for k, (a, b) in enumerate(zip(starts, [*starts[1:], len(ops)], strict=True)):
        part, s = ops[a:b], span(model, a, b)
        resident = model.resident(s)
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
                table_bytes=sum(op.table_elements for op in part) * dtype,
                working_set_bytes=s.working_set,
                activation_bytes=s.peak_activations,
                act_in_bytes=graph.input_bytes if k == 0 else crossing[k - 1],
                act_out_bytes=graph.output_bytes if k == len(starts) - 1 else crossing[k],
                cached_weights=cached,
                streamed_weights=streamed,
                estimated_s=model.seconds_of(s),
            )
        )
    return tuple(stages)

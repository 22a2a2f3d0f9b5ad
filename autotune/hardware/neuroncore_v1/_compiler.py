"""neuron-cc, emulated: a graph into N contiguous NeuronCore stages balanced on stage time.

Like neuron-cc, it compiles for a fixed batch and sequence length and a fixed number of
NeuronCores (``--neuroncore-pipeline-cores``). It first fuses each matrix multiply with the
element-wise operators that consume it (bias, GELU, residual add: its epilogue, run on the
Vector and Scalar engines over the tiles the TensorEngine produces), then cuts the fused units
into that many contiguous stages so that the slowest stage is as fast as possible. Each stage
keeps as many of its weights in its core's on-chip memory as the activations of its largest
unit leave room for and streams the rest from device DRAM on every inference. A unit whose
activations exceed on-chip memory is tiled the cheaper of two ways: the part that does not fit
goes through DRAM, or the batch's rows run in as many passes as needed to fit, each pass
streaming the unit's weights again (sequences of a batch are independent).

A stage runs as a sequence of phases, one per fused unit: a phase's weight DMA overlaps its own
arithmetic, not that of other units (the schedule is static), so a stage takes the sum over its
phases of the slower of the two.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from autotune.catalog import Accelerator
from autotune.errors import InputError
from autotune.hardware._graph import GraphSummary, Matmul, OpCost
from autotune.hardware._partition import partition, span
from autotune.hardware._plan import Stage


@dataclass(frozen=True)
class Constants:
    """The NeuronCore-v1 unknowns, fitted by ``benchmarks/fit_calibration.py``."""

    sram_bytes_per_core: float  # on-chip memory usable for weights and activations
    te_max_efficiency: float  # achievable fraction of TensorEngine peak, large aligned matmuls
    te_fill_rows: float  # rows streamed through the array to amortise its fill and drain
    dram_efficiency: float  # achievable fraction of the chip's DRAM bandwidth, all cores busy
    core_dma_fraction: float  # of the chip's DRAM bandwidth, what one core's DMA rings can pull
    stage_overhead_s: float  # per stage invocation: semaphores, DMA descriptors, queueing
    host_overhead_s: float  # per request on the host: framework and runtime call
    host_per_sequence_s: float  # per sequence of a request on the host: tensors in and out
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


def tensor_seconds(op: OpCost, acc: Accelerator, c: Constants) -> float:
    return sum(
        mm.flops / (acc.tensor_flops_per_core * te_efficiency(mm, acc, c)) for mm in op.matmuls
    )


def engine_seconds(op: OpCost, acc: Accelerator) -> float:
    """Vector and Scalar engine time of one operator."""
    return op.vector_flops / acc.vector_flops_per_core + op.scalar_flops / acc.scalar_flops_per_core


def op_seconds(op: OpCost, acc: Accelerator, c: Constants) -> float:
    """Engine time of one operator on its own (TensorEngine, then Vector and Scalar engines)."""
    return tensor_seconds(op, acc, c) + engine_seconds(op, acc)


def _element_wise(op: OpCost) -> bool:
    return not op.matmuls and not op.weights and not op.gather_elements


@dataclass(frozen=True)
class Unit:
    """A matmul and its fused epilogue (or one operator on its own): what a stage is made of."""

    first: int  # index of its first operator in the graph
    ops: tuple[OpCost, ...]
    seconds: float  # TensorEngine and Vector/Scalar engines overlap over the tiles
    weight_bytes: int
    activation_bytes: int  # what must be on chip at once: the head op's inputs and outputs
    gather_bytes: int


def fuse(ops: Sequence[OpCost], acc: Accelerator, c: Constants) -> list[Unit]:
    """Group each matmul with the element-wise operators that follow it."""
    groups: list[list[int]] = []
    after_matmul = False  # the last group is a matmul, maybe with epilogue operators already
    for i, op in enumerate(ops):
        if after_matmul and _element_wise(op):
            groups[-1].append(i)
        else:
            groups.append([i])
            after_matmul = bool(op.matmuls)
    dtype = acc.compute_dtype_bytes
    units = []
    for group in groups:
        part = tuple(ops[i] for i in group)
        tensor = sum(tensor_seconds(op, acc, c) for op in part)
        engines = sum(engine_seconds(op, acc) for op in part)
        head = part[0]
        units.append(
            Unit(
                first=group[0],
                ops=part,
                seconds=max(tensor, engines) if head.matmuls else tensor + engines,
                weight_bytes=sum(op.weight_elements for op in part) * dtype,
                activation_bytes=(head.act_in_elements + head.act_out_elements) * dtype,
                gather_bytes=sum(op.gather_elements for op in part) * dtype,
            )
        )
    return units


@dataclass
class _Slice:
    """Running totals of a candidate stage, cheap to extend by one unit."""

    compute_s: float = 0.0
    weight_bytes: int = 0
    working_set: int = 0
    peak_activations: int = 0
    spill_bytes: int = 0
    gather_bytes: int = 0


class StageModel:
    """The compiler's view of how long a stage of units takes, all cores of its chip busy."""

    def __init__(self, units: Sequence[Unit], acc: Accelerator, c: Constants, cores: int):
        self.c, self.units = c, units
        sharing = min(cores, acc.cores_per_chip)
        chip = acc.dram_bandwidth_per_chip
        self.bandwidth = min(chip * c.dram_efficiency / sharing, chip * c.core_dma_fraction)

    def empty(self) -> _Slice:
        return _Slice()

    def extend(self, s: _Slice, i: int) -> _Slice:
        u, sram = self.units[i], self.c.sram_bytes_per_core
        acts = u.activation_bytes
        return _Slice(
            compute_s=s.compute_s + u.seconds,
            weight_bytes=s.weight_bytes + u.weight_bytes,
            working_set=max(s.working_set, min(acts, int(sram))),
            peak_activations=max(s.peak_activations, acts),
            spill_bytes=s.spill_bytes + spill(acts, sram, u.weight_bytes),
            gather_bytes=s.gather_bytes + u.gather_bytes,
        )

    def resident(self, s: _Slice) -> int:
        budget = max(0.0, self.c.sram_bytes_per_core - s.working_set)
        return int(min(s.weight_bytes, budget))

    def seconds_of(self, s: _Slice) -> float:
        dram = s.weight_bytes - self.resident(s) + s.gather_bytes + s.spill_bytes
        return max(s.compute_s, dram / self.bandwidth) + self.c.stage_overhead_s


def spill(activation_bytes: int, sram: float, streamed: int) -> int:
    """Extra DRAM traffic of a unit whose activations do not fit on chip: the part that does
    not fit goes through DRAM, or its rows run in passes that each stream its ``streamed``
    weight bytes again, whichever moves less."""
    if activation_bytes <= sram:
        return 0
    if sram <= 0:
        return activation_bytes
    passes = math.ceil(activation_bytes / sram)
    return int(min(activation_bytes - sram, (passes - 1) * streamed))


def _weights_split(
    ops: Sequence[OpCost], resident: int, dtype: int
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Which weight tensors stay on chip whole: in graph order until the budget runs out."""
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


def _phases(units: Sequence[Unit], resident: int, sram: float) -> tuple[tuple[float, int], ...]:
    """Each unit's engine time and the DRAM bytes it moves: the weight tiles that did not fit
    on chip (the budget fills in graph order), table gathers, and its tiled activations."""
    out, left = [], resident
    for u in units:
        kept = min(u.weight_bytes, left)
        left -= kept
        streamed = u.weight_bytes - kept
        dram = streamed + u.gather_bytes + spill(u.activation_bytes, sram, streamed)
        out.append((u.seconds, dram))
    return tuple(out)


def compile_stages(
    graph: GraphSummary, acc: Accelerator, pipeline_cores: int, c: Constants
) -> tuple[Stage, ...]:
    """Fuse, partition into ``pipeline_cores`` stages, and size each stage's memory traffic."""
    ops, dtype = graph.ops, acc.compute_dtype_bytes
    units = fuse(ops, acc, c)
    if pipeline_cores > len(units):
        raise InputError(
            f"pipeline cores {pipeline_cores} exceed the model's {len(units)} operators (each "
            f"matmul fused with its element-wise epilogue); accepted: 1 to {len(units)}"
        )
    model = StageModel(units, acc, c, pipeline_cores)
    starts = partition(len(units), pipeline_cores, model)
    op_starts = [units[k].first for k in starts]
    crossing = [n * dtype for n in graph.crossing_elements(op_starts)]
    stages = []
    for k, (a, b) in enumerate(zip(starts, [*starts[1:], len(units)], strict=True)):
        part, s = units[a:b], span(model, a, b)
        resident = model.resident(s)
        ops_of = [op for u in part for op in u.ops]
        cached, streamed = _weights_split(ops_of, resident, dtype)
        stages.append(
            Stage.of_ops(
                k,
                ops_of,
                compute_s=s.compute_s,
                weight_bytes=s.weight_bytes,
                resident_bytes=resident,
                streamed_bytes=s.weight_bytes - resident,
                gather_bytes=s.gather_bytes,
                spill_bytes=s.spill_bytes,
                table_bytes=sum(op.table_elements for op in ops_of) * dtype,
                working_set_bytes=s.working_set,
                activation_bytes=s.peak_activations,
                act_in_bytes=graph.input_bytes if k == 0 else crossing[k - 1],
                act_out_bytes=graph.output_bytes if k == len(starts) - 1 else crossing[k],
                cached_weights=cached,
                streamed_weights=streamed,
                estimated_s=model.seconds_of(s),
                phases=_phases(part, resident, c.sram_bytes_per_core),
            )
        )
    return tuple(stages)

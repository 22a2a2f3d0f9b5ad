"""The NeuronCore-v2, emulated: a whole traced graph on one core, timed from its engines.

torch-neuronx compiles a model for one NeuronCore, so the plan is one stage. Its time is the
slower of the engines' arithmetic and the HBM traffic (weights that do not stay in SBUF,
embedding rows, activations too large for SBUF), since DMA runs beside the engines; the chip's
HBM bandwidth is shared by its two cores (the simulator shares it per chip). Auto-cast sets the
TensorEngine rate (FP32 matmuls at a quarter of the BF16 rate) and the bytes moved.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from autotune.catalog import Accelerator
from autotune.hardware._graph import GraphSummary, Matmul, OpCost
from autotune.hardware._plan import Stage


@dataclass(frozen=True)
class Constants:
    """The NeuronCore-v2 unknowns, fitted by ``benchmarks/fit_neuroncore_v2.py``."""

    te_efficiency: float  # achievable fraction of TensorEngine peak on large aligned matmuls
    te_fill_rows: float  # rows streamed through the array to amortise loading a weight tile
    hbm_efficiency: float  # achievable fraction of the chip's HBM bandwidth
    exec_overhead_s: float  # per execution on the device: launch, input/output DMA, semaphores
    host_cpu_s: float  # per request on one uncontended host core: framework and runtime call
    jitter_sigma: float  # log-normal spread of every service time


@dataclass(frozen=True)
class Precision:
    """What auto-cast makes of an FP32 model: the matmul rate and the bytes each value takes."""

    name: str
    fp32_matmuls: bool  # --auto-cast none: matmuls stay FP32, at the FP32 rate
    weight_bytes: int
    activation_bytes: int


def _align(size: int, tile: int) -> float:
    return size / (tile * math.ceil(size / tile))


def te_efficiency(mm: Matmul, acc: Accelerator, c: Constants) -> float:
    """Achieved fraction of TensorEngine peak for one matrix shape.

    The 128 x 128 array holds a K x N tile of the weights; partial tiles waste rows and
    columns (attention's 64-wide heads fill half of it), and loading each tile costs about as
    much as streaming ``te_fill_rows`` rows of the M it is amortised over.
    """
    fill = mm.m / (mm.m + c.te_fill_rows)
    shape = _align(mm.k, acc.systolic_rows) * _align(mm.n, acc.systolic_cols)
    return c.te_efficiency * fill * shape


def op_seconds(op: OpCost, acc: Accelerator, p: Precision, c: Constants) -> float:
    """Engine time of one operator (TensorEngine, Vector and Scalar engines), memory aside."""
    rate = acc.tensor_fp32_flops_per_core if p.fp32_matmuls else acc.tensor_flops_per_core
    tensor = sum(mm.flops / (rate * te_efficiency(mm, acc, c)) for mm in op.matmuls)
    return (
        tensor
        + op.vector_flops / acc.vector_flops_per_core
        + op.scalar_flops / acc.scalar_flops_per_core
    )


def _resident_weights(
    ops: Sequence[OpCost], budget: int, dtype: int
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Which weights stay in SBUF across executions: in graph order while they fit."""
    cached: list[str] = []
    streamed: list[str] = []
    for op in ops:
        for name, elements in op.weights:
            if elements * dtype <= budget:
                cached.append(name)
                budget -= elements * dtype
            else:
                streamed.append(name)
    return tuple(cached), tuple(streamed)


def compile_core(graph: GraphSummary, acc: Accelerator, p: Precision, c: Constants) -> Stage:
    """The one stage of a graph traced for a NeuronCore-v2, with its engine time and traffic."""
    ops, wbytes, abytes = graph.ops, p.weight_bytes, p.activation_bytes
    sbuf = acc.sram_bytes_per_core
    acts = [(op.act_in_elements + op.act_out_elements) * abytes for op in ops]
    peak = max(acts, default=0)
    working_set = min(peak, sbuf)
    # Weights stay in SBUF only in the room the largest operator's activations leave.
    cached, streamed = _resident_weights(ops, max(0, sbuf - working_set), wbytes)
    sizes = {name: n * wbytes for op in ops for name, n in op.weights}
    resident = sum(sizes[name] for name in cached)
    weights = sum(sizes.values())
    compute = sum(op_seconds(op, acc, p, c) for op in ops)
    gather = sum(op.gather_elements for op in ops) * wbytes
    spill = sum(a for a in acts if a > sbuf)  # written to HBM and read back
    traffic = weights - resident + gather + spill
    # The compiler's estimate: both cores of the chip streaming at once.
    share = acc.dram_bandwidth_per_chip * c.hbm_efficiency / acc.cores_per_chip
    return Stage.of_ops(
        0,
        ops,
        compute_s=compute,
        weight_bytes=weights,
        resident_bytes=resident,
        streamed_bytes=weights - resident,
        gather_bytes=gather,
        spill_bytes=spill,
        table_bytes=sum(op.table_elements for op in ops) * wbytes,
        working_set_bytes=working_set,
        activation_bytes=peak,
        act_in_bytes=graph.input_bytes,
        act_out_bytes=graph.output_bytes,
        cached_weights=cached,
        streamed_weights=streamed,
        estimated_s=max(compute, traffic / share) + c.exec_overhead_s,
    )

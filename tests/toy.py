"""Toy hardware with round numbers, so expected timings can be worked out by hand, and the few
steps every hand-computed test takes: compile a tiny graph, place it, run a load on it."""

from __future__ import annotations

import dataclasses
from typing import Any

from autotune.catalog import Accelerator, Instance
from autotune.emulator import SimResult, compile_graph, place, run_load, summarize
from autotune.hardware import Calibration, Placement, Plan
from autotune.hardware.gpu import STACKS
from autotune.hardware.gpu import Constants as GpuConstants
from autotune.hardware.neuroncore_v1 import Constants
from autotune.values import Deployment, Workload

TENSOR_FLOPS = 1e12  # per core
VECTOR_FLOPS = 1e10
SCALAR_FLOPS = 2e10
DRAM_BW = 1e9  # per chip
LINK_BW = 1e9
HOST_LINK_BW = 1e9
V1 = "neuroncore-v1"

TOY_ACCELERATOR = Accelerator(
    name="toy-core",
    generation=V1,
    cores_per_chip=4,
    tensor_flops_per_core=TENSOR_FLOPS,
    vector_flops_per_core=VECTOR_FLOPS,
    scalar_flops_per_core=SCALAR_FLOPS,
    dram_bytes_per_chip=8 << 30,
    dram_bandwidth_per_chip=DRAM_BW,
    chip_link_bandwidth=LINK_BW,
    host_link_bandwidth=HOST_LINK_BW,
    systolic_rows=128,
    systolic_cols=64,
    compute_dtype_bytes=2,
)
TOY_V1 = Constants(
    sram_bytes_per_core=1e9,
    te_max_efficiency=1.0,
    te_fill_rows=0.0,
    dram_efficiency=1.0,
    core_dma_fraction=1.0,
    stage_overhead_s=1e-6,
    host_overhead_s=2e-6,
    host_per_sequence_s=0.0,
    jitter_sigma=0.0,
)
TOY_GPU = GpuConstants(
    engine_efficiency=0.5, kernel_launch_s=1e-6, host_overhead_s=3e-6, jitter_sigma=0.0
)


def toy_calibration(**changes: Any) -> Calibration:
    """The toy calibration (ideal TensorEngine, no jitter), NeuronCore-v1 fields overridden."""
    return {V1: dataclasses.replace(TOY_V1, **changes), "gpu": dict.fromkeys(STACKS, TOY_GPU)}


def toy_instance(
    accelerator: Accelerator = TOY_ACCELERATOR, chips: int = 1, vcpus: int = 4
) -> Instance:
    return Instance(
        name=f"toy.{chips}chip",
        accelerator=accelerator,
        chips=chips,
        vcpus=vcpus,
        host_memory_gib=8,
        source="test",
    )


def compile_toy(
    program: Any,
    instance: Instance,
    calibration: Calibration,
    pipeline_cores: int | None = 1,
    batch: int = 1,
) -> Plan:
    """The plan of a captured toy ``program`` on ``instance`` (pipeline cores on NeuronCores)."""
    deployment = Deployment.of(instance.name, pipeline_cores=pipeline_cores)
    return compile_graph(
        summarize(program),
        model="toy",
        identity="toy-id",
        workload=Workload("toy", "question-answering", 1, batch),
        instance=instance,
        deployment=deployment,
        calibration=calibration,
        version="test",
    )


def deploy(
    plan: Plan,
    instance: Instance,
    group_sizes: tuple[int, ...] | None = None,
    first_core: int | None = None,
) -> Placement:
    """``plan`` placed on ``instance`` in the given NeuronCore groups (default: as many fit)."""
    knobs: dict[str, Any] = {"group_sizes": group_sizes, "first_core": first_core}
    if plan.generation == V1:
        knobs["pipeline_cores"] = plan.knob("pipeline_cores")
    return place(plan, instance, Deployment.of(instance.name, **knobs))


def simulate(
    placement: Placement,
    calibration: Calibration,
    *,
    concurrency: int,
    requests: int = 2000,
    seed: int = 0,
) -> SimResult:
    return run_load(
        placement,
        concurrency=concurrency,
        requests=requests,
        seed=seed,
        calibration=calibration,
    )


def toy_acc(**changes: Any) -> Accelerator:
    """The toy NeuronCore accelerator, with any field overridden."""
    return dataclasses.replace(TOY_ACCELERATOR, **changes)

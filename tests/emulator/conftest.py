"""Toy hardware with round numbers, so expected timings can be worked out by hand."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from autotune.catalog import Accelerator, Instance
from autotune.emulator import Calibration
from autotune.emulator._calibration import GpuCalibration, NeuronCalibration

TENSOR_FLOPS = 1e12  # per core
VECTOR_FLOPS = 1e10
SCALAR_FLOPS = 2e10
DRAM_BW = 1e9  # per chip
LINK_BW = 1e9
HOST_LINK_BW = 1e9

TOY_ACCELERATOR = Accelerator(
    name="toy-core",
    kind="neuron",
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
TOY_CALIBRATION = Calibration(
    NeuronCalibration(
        sram_bytes_per_core=1e9,
        te_max_efficiency=1.0,
        te_fill_rows=0.0,
        dram_efficiency=1.0,
        stage_overhead_s=1e-6,
        host_overhead_s=2e-6,
        jitter_sigma=0.0,
    ),
    GpuCalibration(
        tensor_efficiency=0.5, kernel_launch_s=1e-6, host_overhead_s=3e-6, jitter_sigma=0.0
    ),
)


@pytest.fixture(scope="session")
def toy_acc() -> Callable[..., Accelerator]:
    """The toy NeuronCore accelerator, with any field overridden."""
    return lambda **changes: dataclasses.replace(TOY_ACCELERATOR, **changes)


@pytest.fixture(scope="session")
def toy_cal() -> Callable[..., Calibration]:
    """The toy calibration (ideal TensorEngine, no jitter), NeuronCore fields overridden."""

    def make(**changes: Any) -> Calibration:
        return dataclasses.replace(
            TOY_CALIBRATION, neuron=dataclasses.replace(TOY_CALIBRATION.neuron, **changes)
        )

    return make


@pytest.fixture(scope="session")
def toy_instance() -> Callable[..., Instance]:
    def make(
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

    return make

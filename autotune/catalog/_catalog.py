"""Loads ``hardware.yaml`` and ``prices.yaml`` into frozen records."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from autotune.errors import choice_error

DEFAULT_PRICE_SET = "on-demand"


@dataclass(frozen=True)
class Accelerator:
    """One accelerator chip family; per-core figures are for one NeuronCore or one GPU.

    ``generation`` names the hardware generation (``autotune.hardware``) that models it.
    """

    name: str
    generation: str
    cores_per_chip: int
    tensor_flops_per_core: float
    vector_flops_per_core: float
    scalar_flops_per_core: float
    dram_bytes_per_chip: int
    dram_bandwidth_per_chip: float
    chip_link_bandwidth: float
    host_link_bandwidth: float
    systolic_rows: int
    systolic_cols: int
    compute_dtype_bytes: int
    # Published only for some generations (0: not published, or not used by the generation).
    tensor_fp32_flops_per_core: float = 0.0  # matmuls kept in FP32 on the TensorEngine
    sram_bytes_per_core: int = 0  # software-managed on-chip memory (SBUF + PSUM)
    int8_ops_per_core: float = 0.0  # INT8 tensor peak, where published (GPUs)


@dataclass(frozen=True)
class Instance:
    """An EC2 instance type: how many chips of which accelerator, and its host."""

    name: str
    accelerator: Accelerator
    chips: int
    vcpus: int
    host_memory_gib: int
    source: str
    cpu_cores: int = 0  # physical host cores the vCPUs are threads of (0: one per vCPU)

    @property
    def cores(self) -> int:
        return self.chips * self.accelerator.cores_per_chip

    @property
    def host_cores(self) -> int:
        return self.cpu_cores or self.vcpus


@dataclass(frozen=True)
class PriceSet:
    name: str
    description: str
    source: str
    prices: dict[str, float]


def _read(name: str) -> Any:
    text = resources.files("autotune.catalog").joinpath(name).read_text()
    return yaml.safe_load(text)


def _per_core(raw: dict[str, Any], engine: str) -> float:
    """An engine's FLOP/s per core: published per cycle (with the clock), or per second."""
    if f"{engine}_flops_per_cycle" in raw:
        return float(raw[f"{engine}_flops_per_cycle"]) * float(raw["clock_hz"])
    return float(raw.get(f"{engine}_flops_per_core", raw["vector_flops_per_core"]))


def _accelerator(name: str, raw: dict[str, Any]) -> Accelerator:
    return Accelerator(
        name=name,
        generation=str(raw["generation"]),
        cores_per_chip=int(raw["cores_per_chip"]),
        tensor_flops_per_core=float(raw["tensor_flops_per_core"]),
        vector_flops_per_core=_per_core(raw, "vector"),
        scalar_flops_per_core=_per_core(raw, "scalar"),
        dram_bytes_per_chip=int(raw["dram_bytes_per_chip"]),
        dram_bandwidth_per_chip=float(raw["dram_bandwidth_per_chip"]),
        chip_link_bandwidth=float(raw.get("chip_link_bandwidth", 0.0)),
        host_link_bandwidth=float(raw["host_link_bandwidth"]),
        systolic_rows=int(raw.get("systolic_rows", 1)),
        systolic_cols=int(raw.get("systolic_cols", 1)),
        compute_dtype_bytes=int(raw["compute_dtype_bytes"]),
        tensor_fp32_flops_per_core=float(raw.get("tensor_fp32_flops_per_core", 0.0)),
        sram_bytes_per_core=int(raw.get("sram_bytes_per_core", 0)),
        int8_ops_per_core=float(raw.get("int8_ops_per_core", 0.0)),
    )


@functools.cache
def load_accelerators() -> dict[str, Accelerator]:
    raw = _read("hardware.yaml")["accelerators"]
    return {name: _accelerator(name, spec) for name, spec in raw.items()}


@functools.cache
def load_instances() -> dict[str, Instance]:
    accelerators = load_accelerators()
    raw = _read("hardware.yaml")["instances"]
    return {
        name: Instance(
            name=name,
            accelerator=accelerators[spec["accelerator"]],
            chips=int(spec["chips"]),
            vcpus=int(spec["vcpus"]),
            host_memory_gib=int(spec["host_memory_gib"]),
            source=str(spec["source"]),
            cpu_cores=int(spec.get("cpu_cores", 0)),
        )
        for name, spec in raw.items()
    }


@functools.cache
def load_price_sets() -> dict[str, PriceSet]:
    raw = _read("prices.yaml")
    return {
        name: PriceSet(
            name=name,
            description=str(spec["description"]),
            source=str(spec["source"]),
            prices={k: float(v) for k, v in spec["prices"].items()},
        )
        for name, spec in raw.items()
    }


def instance_names() -> list[str]:
    return list(load_instances())


def price_set_names() -> list[str]:
    return list(load_price_sets())


def get_instance(name: str) -> Instance:
    """The instance called ``name``; an ``InputError`` listing the known ones otherwise."""
    instances = load_instances()
    if name not in instances:
        raise choice_error("instance type", name, list(instances))
    return instances[name]


def price_per_hour(instance_type: str, price_set: str = DEFAULT_PRICE_SET) -> float:
    """Hourly on-demand price of ``instance_type`` in the named price set."""
    sets = load_price_sets()
    if price_set not in sets:
        raise choice_error("price set", price_set, list(sets))
    prices = sets[price_set].prices
    if instance_type not in prices:
        raise choice_error(f"instance type in price set {price_set!r}", instance_type, list(prices))
    return prices[instance_type]

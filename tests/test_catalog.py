"""Hardware and prices as data: the published figures, loaded into frozen records."""

from __future__ import annotations

import dataclasses

import pytest

from autotune.catalog import (
    DEFAULT_PRICE_SET,
    get_instance,
    instance_names,
    load_accelerators,
    load_price_sets,
    price_per_hour,
    price_set_names,
)
from autotune.errors import InputError

GIB = 1 << 30
INF1 = ["inf1.xlarge", "inf1.2xlarge", "inf1.6xlarge", "inf1.24xlarge"]
NEURONCORE_V2 = [
    "inf2.xlarge",
    "inf2.8xlarge",
    "inf2.24xlarge",
    "inf2.48xlarge",
    "trn1.2xlarge",
    "trn1.32xlarge",
]
GPU = ["g4dn.xlarge", "g5.xlarge", "g5.2xlarge", "g6.xlarge"]
INSTANCES = [*INF1, *NEURONCORE_V2, *GPU]


def test_instances():
    assert instance_names() == INSTANCES


@pytest.mark.parametrize(
    ("name", "chips", "cores", "vcpus", "device_gib"),
    [
        ("inf1.xlarge", 1, 4, 4, 8),
        ("inf1.2xlarge", 1, 4, 8, 8),
        ("inf1.6xlarge", 4, 16, 24, 32),
        ("inf1.24xlarge", 16, 64, 96, 128),
        ("g4dn.xlarge", 1, 1, 4, 16),
        ("g5.xlarge", 1, 1, 4, 24),
        ("g5.2xlarge", 1, 1, 8, 24),
        ("g6.xlarge", 1, 1, 4, 24),
    ],
)
def test_published_instance_figures(name, chips, cores, vcpus, device_gib):
    inst = get_instance(name)
    assert (inst.chips, inst.cores, inst.vcpus) == (chips, cores, vcpus)
    assert inst.chips * inst.accelerator.dram_bytes_per_chip == device_gib * GIB
    assert (inst.accelerator.generation == "gpu") == name.startswith("g")


def test_neuroncore_v1():
    acc = load_accelerators()["neuroncore-v1"]
    assert acc.generation == "neuroncore-v1" and acc.cores_per_chip == 4
    assert acc.tensor_flops_per_core == 16e12  # 64 TFLOPS BF16 per 4-core chip
    assert acc.dram_bandwidth_per_chip == 50e9
    assert acc.vector_flops_per_core == pytest.approx(256 * 0.98e9)
    assert acc.scalar_flops_per_core == pytest.approx(512 * 0.98e9)
    # The assumed array at the derived clock gives the published peak.
    assert 2 * acc.systolic_rows * acc.systolic_cols * 0.98e9 == pytest.approx(16e12, rel=0.01)
    assert acc.compute_dtype_bytes == 2
    # Ridge point: 64 TFLOPS over 50 GB/s.
    assert acc.cores_per_chip * acc.tensor_flops_per_core / acc.dram_bandwidth_per_chip == 1280


@pytest.mark.parametrize(
    ("name", "fp16", "fp32", "int8", "bandwidth"),
    [
        ("t4", 65e12, 8.1e12, 130e12, 320e9),
        ("a10g", 125e12, 31.2e12, 250e12, 600e9),
        ("l4", 121e12, 30.3e12, 242.5e12, 300e9),
    ],
)
def test_gpus(name, fp16, fp32, int8, bandwidth):
    acc = load_accelerators()[name]
    assert (acc.generation, acc.cores_per_chip, acc.tensor_flops_per_core) == ("gpu", 1, fp16)
    assert (acc.vector_flops_per_core, acc.int8_ops_per_core) == (fp32, int8)
    assert acc.dram_bandwidth_per_chip == bandwidth and acc.chip_link_bandwidth == 0


def test_records_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_instance("inf1.xlarge").chips = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("price_set", "name", "price"),
    [
        ("on-demand", "inf1.xlarge", 0.228),
        ("on-demand", "inf1.6xlarge", 1.180),
        ("on-demand", "g4dn.xlarge", 0.526),
        ("on-demand-2021-05", "inf1.xlarge", 0.368),
        ("on-demand-2021-05", "inf1.6xlarge", 1.904),
        ("on-demand-2021-05", "g4dn.xlarge", 0.526),
        ("on-demand", "g5.xlarge", 1.006),
        ("on-demand", "g5.2xlarge", 1.212),
        ("on-demand", "g6.xlarge", 0.8048),
    ],
)
def test_prices(price_set, name, price):
    assert price_per_hour(name, price_set) == price


def test_price_sets_cover_every_instance_and_cite_a_source():
    assert price_set_names() == ["on-demand", "on-demand-2021-05", "ri-effective"]
    assert DEFAULT_PRICE_SET == "on-demand"
    covers = {
        "on-demand": set(INSTANCES),
        "on-demand-2021-05": {*INF1, "g4dn.xlarge"},  # the blog's instances
        "ri-effective": set(NEURONCORE_V2),  # published for inf2 and trn1 only
    }
    for s in load_price_sets().values():
        assert set(s.prices) == covers[s.name]
        assert s.source and s.description
    # The blog-era inf1 prices are today's divided by 0.62.
    sets = load_price_sets()
    for name in INF1:
        assert sets["on-demand-2021-05"].prices[name] == pytest.approx(
            sets["on-demand"].prices[name] / 0.62, rel=0.005
        )


def test_unknown_instance():
    with pytest.raises(
        InputError,
        match=r"unknown instance type 'inf9.xlarge'; accepted: "
        r"inf1.xlarge, inf1.2xlarge",
    ):
        get_instance("inf9.xlarge")


def test_unknown_price_set():
    with pytest.raises(InputError, match=r"unknown price set 'spot'; accepted: on-demand"):
        price_per_hour("inf1.xlarge", "spot")
    with pytest.raises(InputError, match="unknown instance type in price set 'on-demand'"):
        price_per_hour("inf9.xlarge")

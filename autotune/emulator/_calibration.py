"""The fitted constants of the emulator (``calibration.yaml``) and the emulator version."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, fields
from importlib import resources

import yaml

CODE_VERSION = "0.2.0"


@dataclass(frozen=True)
class NeuronCalibration:
    sram_bytes_per_core: float
    te_max_efficiency: float
    te_fill_rows: float
    dram_efficiency: float
    stage_overhead_s: float
    host_overhead_s: float
    jitter_sigma: float


@dataclass(frozen=True)
class GpuCalibration:
    tensor_efficiency: float
    kernel_launch_s: float
    host_overhead_s: float
    jitter_sigma: float


@dataclass(frozen=True)
class Calibration:
    neuron: NeuronCalibration
    gpu: GpuCalibration


def _text() -> str:
    return resources.files("autotune.emulator").joinpath("calibration.yaml").read_text()


def parse_calibration(text: str) -> Calibration:
    raw = yaml.safe_load(text)
    neuron = {f.name: float(raw["neuron"][f.name]) for f in fields(NeuronCalibration)}
    gpu = {f.name: float(raw["gpu"][f.name]) for f in fields(GpuCalibration)}
    return Calibration(NeuronCalibration(**neuron), GpuCalibration(**gpu))


@functools.cache
def load_calibration() -> Calibration:
    return parse_calibration(_text())


@functools.cache
def emulator_version() -> str:
    """Code version plus a digest of the calibration: a refit changes every plan's hash."""
    return f"{CODE_VERSION}+{hashlib.sha256(_text().encode()).hexdigest()[:10]}"

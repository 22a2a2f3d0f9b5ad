"""Deployment: a compiled plan loaded onto an instance's NeuronCore groups (Neuron runtime 1.x).

Group semantics follow the runtime: ``NEURONCORE_GROUP_SIZES`` lists group sizes; groups take
contiguous cores from core 0 and may span chips; models load into groups in order, one model per
group; a model compiled for N pipeline cores needs a group of at least N (the rest stay idle).
From Neuron 1.16 ``NEURON_RT_VISIBLE_CORES`` / ``NEURON_RT_NUM_CORES`` give a process its cores
instead, and the process loads as many copies as fit, the way ``torch.neuron.DataParallel`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from autotune.catalog import Instance
from autotune.emulator._plan import Plan
from autotune.errors import DeploymentError, InputError

GIB = 1 << 30


@dataclass(frozen=True)
class Deployment:
    """A plan loaded on an instance: one copy per group, stage k of a copy on its core k."""

    instance: Instance
    plan: Plan
    group_sizes: tuple[int, ...]
    first_core: int
    copies: tuple[tuple[int, ...], ...]  # per copy: the global core index of each stage

    @property
    def mode(self) -> str:
        if self.instance.is_gpu:
            return "gpu"
        if self.plan.pipeline_cores == 1:
            return "data-parallel"
        return "pipeline" if len(self.copies) == 1 else "mixed"

    def chip_of(self, core: int) -> int:
        return core // self.instance.accelerator.cores_per_chip

    def visible_cores(self) -> list[str]:
        """``NEURON_RT_VISIBLE_CORES`` of each copy, the spelling of Neuron 1.16 onwards."""
        return [
            f"{c[0]}-{c[0] + size - 1}" if size > 1 else str(c[0])
            for c, size in zip(self.copies, self.group_sizes, strict=True)
        ]


def _is_count(text: str) -> bool:
    """A positive integer in ASCII digits (``str.isdigit`` also accepts "²")."""
    return text.isascii() and text.isdigit() and int(text) >= 1


def parse_group_sizes(text: str) -> tuple[int, ...]:
    """``"4,4,4,4"`` -> (4, 4, 4, 4); an ``InputError`` naming the bad entry otherwise."""
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or any(not _is_count(p) for p in parts):
        raise InputError(
            f"group sizes {text!r} are not a comma list of positive integers (e.g. 1,1,1,1 or 16)"
        )
    return tuple(int(p) for p in parts)


def _parse_range(text: str, cores: int) -> tuple[int, int]:
    lo, sep, hi = text.strip().partition("-")
    try:
        first, last = int(lo), int(hi) if sep else int(lo)
    except ValueError:
        first, last = -1, -1
    if not 0 <= first <= last < cores:
        raise InputError(
            f"NEURON_RT_VISIBLE_CORES={text!r} is not a core index or inclusive range within "
            f"0-{cores - 1}"
        )
    return first, last


def groups_from_env(
    env: Mapping[str, str], instance: Instance, pipeline_cores: int
) -> tuple[tuple[int, ...], int] | None:
    """Group sizes and first core from the runtime's environment variables, if any is set."""
    cores = instance.cores
    if "NEURON_RT_VISIBLE_CORES" in env:
        first, last = _parse_range(env["NEURON_RT_VISIBLE_CORES"], cores)
        visible = last - first + 1
    elif "NEURON_RT_NUM_CORES" in env:
        text = env["NEURON_RT_NUM_CORES"].strip()
        if not _is_count(text) or int(text) > cores:
            raise InputError(f"NEURON_RT_NUM_CORES={text!r} is not an integer from 1 to {cores}")
        first, visible = 0, int(text)
    elif "NEURONCORE_GROUP_SIZES" in env:
        return parse_group_sizes(env["NEURONCORE_GROUP_SIZES"]), 0
    else:
        return None
    copies = max(1, visible // pipeline_cores)
    return (pipeline_cores,) * copies if visible >= pipeline_cores else (visible,), first


def default_group_sizes(instance: Instance, pipeline_cores: int) -> tuple[int, ...]:
    """As many groups of the pipeline size as the instance's cores hold."""
    if instance.is_gpu:
        return (1,)
    return (pipeline_cores,) * max(1, instance.cores // pipeline_cores)


def deploy(
    plan: Plan, instance: Instance, group_sizes: tuple[int, ...] | None = None, first_core: int = 0
) -> Deployment:
    """Load one copy of ``plan`` per group; ``DeploymentError`` if it cannot load."""
    if plan.accelerator != instance.accelerator.name:
        raise DeploymentError(
            f"plan compiled for {plan.accelerator} cannot run on {instance.name} "
            f"({instance.accelerator.name})"
        )
    p = plan.pipeline_cores
    cores = instance.cores
    if p > cores:
        raise DeploymentError(
            f"pipeline cores {p} exceed the {cores} NeuronCores of {instance.name}; "
            f"accepted: 1 to {cores}"
        )
    sizes = group_sizes or default_group_sizes(instance, p)
    if instance.is_gpu and sizes != (1,):
        raise DeploymentError(f"group sizes {sizes} do not apply to GPU instance {instance.name}")
    if first_core + sum(sizes) > cores:
        raise DeploymentError(
            f"group sizes {','.join(map(str, sizes))} need {first_core + sum(sizes)} NeuronCores "
            f"but {instance.name} has {cores}"
        )
    small = [g for g in sizes if g < p]
    if small:
        raise DeploymentError(
            f"group of size {small[0]} cannot load a model compiled for {p} pipeline cores; "
            f"every group must have at least {p} cores"
        )
    copies = []
    start = first_core
    for size in sizes:
        copies.append(tuple(range(start, start + p)))
        start += size
    deployment = Deployment(instance, plan, tuple(sizes), first_core, tuple(copies))
    _check_memory(deployment)
    return deployment


def _check_memory(d: Deployment) -> None:
    acc = d.instance.accelerator
    used: dict[int, int] = {}
    for copy in d.copies:
        for stage, core in zip(d.plan.stages, copy, strict=True):
            used[d.chip_of(core)] = used.get(d.chip_of(core), 0) + stage.device_bytes
    for chip, need in sorted(used.items()):
        if need > acc.dram_bytes_per_chip:
            raise DeploymentError(
                f"deployment needs {need / GIB:.1f} GiB of device memory on chip {chip} of "
                f"{d.instance.name}, which has {acc.dram_bytes_per_chip / GIB:.0f} GiB; use fewer "
                "copies, a smaller batch or sequence, or more pipeline cores"
            )

"""The Neuron runtime 1.x, emulated: NeuronCore groups, model copies, and the environment.

``NEURONCORE_GROUP_SIZES`` lists group sizes; groups take contiguous cores from core 0 and may
span chips; models load into groups in order, one model per group; a model compiled for N
pipeline cores needs a group of at least N (the rest stay idle). From Neuron 1.16
``NEURON_RT_VISIBLE_CORES`` / ``NEURON_RT_NUM_CORES`` give a process its cores instead, and the
process loads as many copies as fit, the way ``torch.neuron.DataParallel`` does.
"""

from __future__ import annotations

from collections.abc import Mapping

from autotune.catalog import Instance
from autotune.errors import DeploymentError, InputError


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


def check_pipeline_cores(pipeline_cores: int, instance: Instance) -> None:
    if not 1 <= pipeline_cores <= instance.cores:
        raise InputError(
            f"pipeline cores {pipeline_cores} are out of range for {instance.name}; "
            f"accepted: 1 to {instance.cores}"
        )


def copy_cores(
    instance: Instance, pipeline_cores: int, group_sizes: tuple[int, ...], first_core: int
) -> tuple[tuple[int, ...], ...]:
    """The cores each copy's stages run on: one copy per group, from the group's first core."""
    p, cores = pipeline_cores, instance.cores
    if first_core + sum(group_sizes) > cores:
        raise DeploymentError(
            f"group sizes {','.join(map(str, group_sizes))} need {first_core + sum(group_sizes)} "
            f"NeuronCores but {instance.name} has {cores}"
        )
    small = [g for g in group_sizes if g < p]
    if small:
        raise DeploymentError(
            f"group of size {small[0]} cannot load a model compiled for {p} pipeline cores; "
            f"every group must have at least {p} cores"
        )
    copies, start = [], first_core
    for size in group_sizes:
        copies.append(tuple(range(start, start + p)))
        start += size
    return tuple(copies)


def visible_cores(group_sizes: tuple[int, ...], first_core: int = 0) -> tuple[str, ...]:
    """``NEURON_RT_VISIBLE_CORES`` of each copy: its group's contiguous core range."""
    out, start = [], first_core
    for size in group_sizes:
        out.append(f"{start}-{start + size - 1}" if size > 1 else str(start))
        start += size
    return tuple(out)

"""The deployments a search space allows on each instance, as its hardware generation says.

Write side: it consults the generations (``autotune.hardware``), which the read side never
loads.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from autotune.catalog import Instance, get_instance
from autotune.errors import InputError
from autotune.hardware import Dimension, generation_of
from autotune.study._space import SearchSpace
from autotune.values import Deployment, Knob


@dataclass(frozen=True, order=True)
class Candidate:
    """One deployment a study can try: a batch size and one value per search dimension of the
    instance's generation (for NeuronCore-v1: pipeline cores and copies), in order."""

    instance_type: str
    batch_size: int
    chosen: tuple[tuple[str, Knob], ...] = ()
    max_batch_delay_ms: float = 0.0  # open loop: the server's batch delay

    def value(self, dimension: str) -> Knob | float:
        if dimension == "batch_size":
            return self.batch_size
        if dimension == DELAY:
            return self.max_batch_delay_ms
        return dict(self.chosen)[dimension]

    @property
    def key(self) -> str:
        tags = {d.name: d.tag for d in dimensions(self.instance_type)}
        parts = "".join(f"/{tags[name]}{value}" for name, value in self.chosen)
        delay = f"/d{self.max_batch_delay_ms:g}" if self.max_batch_delay_ms else ""
        return f"{self.instance_type}/b{self.batch_size}{delay}{parts}"

    def deployment(self) -> Deployment:
        instance = get_instance(self.instance_type)
        return generation_of(instance).deployment(instance, dict(self.chosen))


DELAY = "max_batch_delay_ms"


def delays(space: SearchSpace, batch: int) -> list[float]:
    """Batch delays worth trying: the space's in open loop for batches above 1 (a batch of one
    is full when its request arrives), else none."""
    return list(space.max_batch_delay_ms) if space.open_loop and batch > 1 else [0.0]


def dimensions(instance_type: str) -> tuple[Dimension, ...]:
    return generation_of(get_instance(instance_type)).dimensions


def choices(
    space: SearchSpace, instance: Instance, dimension: str, chosen: dict[str, Knob]
) -> list[Knob]:
    """Values of ``dimension`` that the space asks for and the instance accepts."""
    if dimension == "batch_size":
        return list(space.batch_sizes)
    if dimension == DELAY:
        batch = chosen.get("batch_size", 1)
        return list(delays(space, batch if isinstance(batch, int) else 1))
    wanted: Any = getattr(space, dimension, "all")
    return generation_of(instance).choices(instance, dimension, chosen, wanted)


def _combinations(
    space: SearchSpace, instance: Instance, dims: tuple[Dimension, ...], chosen: dict[str, Knob]
) -> Iterator[dict[str, Knob]]:
    if not dims:
        yield dict(chosen)
        return
    for value in choices(space, instance, dims[0].name, chosen):
        yield from _combinations(space, instance, dims[1:], {**chosen, dims[0].name: value})


def candidates(space: SearchSpace, instance_type: str | None = None) -> list[Candidate]:
    """Every valid candidate of the space (on one instance type if given), in a stable order."""
    out: list[Candidate] = []
    for name in space.instances if instance_type is None else (instance_type,):
        instance = get_instance(name)
        dims = generation_of(instance).dimensions
        for batch in space.batch_sizes:
            for delay in delays(space, batch):
                for chosen in _combinations(space, instance, dims, {}):
                    out.append(Candidate(name, batch, tuple(chosen.items()), delay))
    return out


@functools.lru_cache(maxsize=64)
def searchable_instances(space: SearchSpace) -> tuple[str, ...]:
    """The space's instances on which at least one candidate fits (asked on every trial)."""
    out = []
    for name in space.instances:
        instance = get_instance(name)
        dims = generation_of(instance).dimensions
        if next(_combinations(space, instance, dims, {}), None) is not None:
            out.append(name)
    return tuple(out)


def check_space(space: SearchSpace, origin: str = "search space") -> None:
    """Cross-field checks: a listed knob value must fit some instance that has that knob, and
    some candidate must exist."""
    instances = [get_instance(name) for name in space.instances]
    dims = {d.name: d for i in instances for d in generation_of(i).dimensions}
    for dim in dims.values():
        wanted = getattr(space, dim.name, "all")
        if not isinstance(wanted, tuple):
            continue
        offered = {v for i in instances for v in _offered(i, dim)}
        if not offered & set(wanted):
            raise InputError(
                f"{origin}: {dim.name} {list(wanted)} fit no instance of the space; "
                f"accepted there: {_span(offered)}"
            )
    if not candidates(space):
        raise InputError(f"{origin}: no candidate deployment fits any instance of the space")


def _offered(instance: Instance, dim: Dimension) -> list[Knob]:
    """What the instance offers for ``dim`` with every earlier dimension at its first value."""
    generation = generation_of(instance)
    chosen: dict[str, Knob] = {}
    for d in generation.dimensions:
        options = generation.choices(instance, d.name, chosen, "all")
        if d == dim or not options:
            return options
        chosen[d.name] = options[0]
    return []


def _span(values: set[Knob]) -> str:
    numbers = sorted(v for v in values if isinstance(v, int))
    contiguous = numbers == list(range(numbers[0], numbers[-1] + 1)) if numbers else False
    if contiguous and len(numbers) == len(values):
        return f"{numbers[0]} to {numbers[-1]}"
    return ", ".join(map(str, sorted(values, key=str))) or "nothing"

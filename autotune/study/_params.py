"""How a trial's parameters name a deployment, and the deployments one step from another.

Each trial suggests an instance, a batch size, then (define-by-run) only the values of its
generation's knobs that fit that instance (for NeuronCore-v1: pipeline-core counts, then copy
counts), so no trial is spent on an impossible deployment. Every dimension is drawn as a share of
what the instance offers (see ``_pick``), so what the sampler learns on one instance carries over
to the others.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import optuna

from autotune.catalog import get_instance
from autotune.hardware import Dimension, generation_of
from autotune.study._candidates import (
    DELAY,
    Candidate,
    candidates,
    choices,
    searchable_instances,
)
from autotune.study._space import SearchSpace
from autotune.values import Knob


def _pick(share: float, size: int, log: bool = False) -> int:
    """An index into ``size`` ordered choices from a share in [0, 1].

    Shared across instances, the share keeps its meaning ("smallest", "largest", "a quarter of
    the way") whatever the instance offers, so what the sampler learns on one instance carries
    over to the others. ``log`` spreads the choices geometrically (1, 2, 4, ... cores).
    """
    position = math.exp(share * math.log(size + 1)) - 1 if log else share * size
    return min(size - 1, int(position))


def share_of(index: int, size: int, log: bool = False) -> float:
    """A share ``_pick`` maps to ``index`` (the middle of its interval)."""
    if log:
        return math.log(index + 1.5) / math.log(size + 1)
    return (index + 0.5) / size


_BATCH = Dimension("batch_size", "b")
_DELAY = Dimension(DELAY, "d")


def dims(instance: str) -> tuple[Dimension, ...]:
    """Batch size, the batch delay (asked only where there is a choice), then the instance's
    generation's dimensions, in the order a trial asks."""
    return (_BATCH, _DELAY, *generation_of(get_instance(instance)).dimensions)


def _candidate(instance: str, chosen: dict[str, Any]) -> Candidate:
    batch = cast(int, chosen.pop("batch_size"))
    delay = float(chosen.pop(DELAY))
    return Candidate(instance, batch, tuple(chosen.items()), delay)


def share_name(dimension: Dimension) -> str:
    return f"{dimension.name}_share"


def deployment(space: SearchSpace, instance: str, share: Callable[[str], float]) -> Candidate:
    """The deployment on ``instance`` that the named shares pick (asked only when needed)."""
    inst = get_instance(instance)
    chosen: dict[str, Knob] = {}
    for dim in dims(instance):
        options = choices(space, inst, dim.name, chosen)
        pick = _pick(share(share_name(dim)), len(options), dim.log) if len(options) > 1 else 0
        chosen[dim.name] = options[pick]
    return _candidate(instance, chosen)


def suggest(trial: optuna.Trial, space: SearchSpace, grid: bool) -> Candidate:
    """The deployment this trial tries; only valid choices are ever offered."""
    if grid:
        by_key = {c.key: c for c in candidates(space)}
        return by_key[str(trial.suggest_categorical("candidate", list(by_key)))]
    instance = str(trial.suggest_categorical("instance_type", searchable_instances(space)))
    return deployment(space, instance, lambda name: trial.suggest_float(name, 0.0, 1.0))


def decode(params: Mapping[str, Any], space: SearchSpace) -> Candidate | None:
    """The deployment ``suggest`` makes of these parameters (None if they do not name one)."""
    if params.get("instance_type") not in searchable_instances(space):
        return None
    try:
        return deployment(space, params["instance_type"], lambda name: float(params[name]))
    except KeyError:
        return None


def encode(candidate: Candidate, space: SearchSpace) -> dict[str, Any]:
    """Parameters that ``suggest`` maps to ``candidate`` (for enqueued and proposed trials)."""
    params: dict[str, Any] = {"instance_type": candidate.instance_type}
    inst = get_instance(candidate.instance_type)
    chosen: dict[str, Knob] = {}
    for dim in dims(candidate.instance_type):
        options = choices(space, inst, dim.name, chosen)
        value = candidate.value(dim.name)
        if len(options) > 1:
            params[share_name(dim)] = share_of(options.index(value), len(options), dim.log)
        chosen[dim.name] = value
    return params


def _closest(options: Sequence[Knob], value: Knob | None) -> Knob | None:
    """``value`` if offered; else, for counts, the largest option not above it (else the
    smallest); for names, the first option. None if there is no option."""
    if not options:
        return None
    if value in options or value is None:
        return value if value in options else options[0]
    if isinstance(value, int):
        return max([n for n in options if isinstance(n, int) and n <= value] or options[:1])
    return options[0]


def _fitted(space: SearchSpace, instance: str, wanted: dict[str, Knob]) -> Candidate | None:
    """``wanted`` on ``instance``, each dimension cut down to what fits there, in order."""
    inst = get_instance(instance)
    chosen: dict[str, Knob] = {}
    for dim in dims(instance):
        value = _closest(choices(space, inst, dim.name, chosen), wanted.get(dim.name))
        if value is None:
            return None
        chosen[dim.name] = value
    return _candidate(instance, chosen)


def neighbours(candidate: Candidate, space: SearchSpace) -> list[Candidate]:
    """Deployments one step away: the next value of one dimension (batch size, and for
    NeuronCore-v1 pipeline cores or copies) up or down, or the same deployment on another
    instance type (as close as that instance allows)."""
    c = candidate
    inst = get_instance(c.instance_type)
    here: dict[str, Any] = {"batch_size": c.batch_size, DELAY: c.max_batch_delay_ms}
    here |= dict(c.chosen)
    steps: list[Candidate | None] = []
    chosen: dict[str, Knob] = {}
    for dim in dims(c.instance_type):
        options = choices(space, inst, dim.name, chosen)
        i = options.index(here[dim.name])
        for value in options[max(0, i - 1) : i] + options[i + 1 : i + 2]:
            steps.append(_fitted(space, c.instance_type, {**here, dim.name: value}))
        chosen[dim.name] = here[dim.name]
    for instance in searchable_instances(space):
        if instance != c.instance_type:
            steps.append(_fitted(space, instance, here))
    return [n for n in dict.fromkeys(steps) if n is not None and n != c]


def warm_start(space: SearchSpace, weights: int) -> list[dict[str, Any]]:
    """The baselines each instance's generation suggests (for NeuronCore-v1: data parallel and
    AWS's pipeline heuristic), at the space's first batch size, every dimension they leave open
    at its largest value (as many copies as fit), as far as the space allows them."""
    trials = []
    for name in searchable_instances(space):
        inst = get_instance(name)
        for partial in generation_of(inst).baselines(inst, weights):
            chosen: dict[str, Knob] = {}
            for dim in generation_of(inst).dimensions:
                options = choices(space, inst, dim.name, chosen)
                value = partial.get(dim.name, options[-1] if options else None)
                if value is None or value not in options:
                    break
                chosen[dim.name] = value
            else:
                deployment = Candidate(name, space.batch_sizes[0], tuple(chosen.items()))
                trials.append(encode(deployment, space))
    return trials


__all__ = [
    "decode",
    "deployment",
    "dims",
    "encode",
    "neighbours",
    "share_name",
    "suggest",
    "warm_start",
]

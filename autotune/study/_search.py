"""How trials choose deployments: the samplers, the parametrisation, the warm start.

Each trial suggests an instance, a batch size, then (define-by-run) only pipeline-core counts and
copy counts that fit that instance, so no trial is spent on an impossible deployment. Batch,
pipeline cores and copies are drawn as shares of what the instance offers (see ``_index``), so
what the sampler learns on one instance carries over to the others.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import optuna

from autotune.errors import choice_error
from autotune.study._space import (
    Candidate,
    SearchSpace,
    candidates,
    copies_choices,
    pipeline_choices,
)

SAMPLERS = ("tpe", "gp", "nsga2", "random", "grid")


def make_sampler(
    name: str, seed: int | None, space: SearchSpace, n_jobs: int = 1
) -> optuna.samplers.BaseSampler:
    """The Optuna sampler called ``name``."""
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    if name == "tpe":
        # consider_endpoints is deprecated (removal in Optuna 6, hence the pin below 6) but
        # worth keeping: the best deployments sit at the ends of the shares, and without it
        # the median trials to the optimum rose from 38 to 60 (min-latency) and 55 to 63
        # (min-cost) in benchmarks/bench_search.py.
        warnings.filterwarnings("ignore", message=".*consider_endpoints", category=FutureWarning)
        return optuna.samplers.TPESampler(
            seed=seed,
            multivariate=True,
            group=True,
            consider_endpoints=True,
            # The warm start already gives it a few spread-out trials to learn from.
            n_startup_trials=5,
            constant_liar=n_jobs > 1,
        )
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        return optuna.samplers.GridSampler(
            {"candidate": [c.key for c in candidates(space)]}, seed=seed
        )
    raise choice_error("sampler", name, SAMPLERS)


def _index(trial: optuna.Trial, name: str, size: int, log: bool = False) -> int:
    """An index into ``size`` ordered choices from one shared float in [0, 1].

    Shared across instances, the float keeps its meaning ("smallest", "largest", "a quarter of
    the way") whatever the instance offers, so what the sampler learns on one instance carries
    over to the others. ``log`` spreads the choices geometrically (1, 2, 4, ... cores).
    """
    u = trial.suggest_float(name, 0.0, 1.0)
    position = math.exp(u * math.log(size + 1)) - 1 if log else u * size
    return min(size - 1, int(position))


def share_of(index: int, size: int, log: bool = False) -> float:
    """The float ``_index`` maps to ``index`` (for enqueued trials)."""
    if size <= 1:
        return 0.0
    if log:
        return math.log(index + 1.5) / math.log(size + 1)
    return (index + 0.5) / size


def suggest(trial: optuna.Trial, space: SearchSpace, grid: bool) -> Candidate:
    """The deployment this trial tries; only valid choices are ever offered."""
    if grid:
        by_key = {c.key: c for c in candidates(space)}
        return by_key[str(trial.suggest_categorical("candidate", list(by_key)))]
    instance = str(trial.suggest_categorical("instance_type", space.instances))
    batches = space.batch_sizes
    batch = (
        batches[_index(trial, "batch_size_share", len(batches))] if len(batches) > 1 else batches[0]
    )
    cores = pipeline_choices(space, instance)
    p = (
        cores[_index(trial, "pipeline_cores_share", len(cores), log=True)]
        if len(cores) > 1
        else cores[0]
    )
    copies = copies_choices(space, instance, p)
    c = copies[_index(trial, "copies_share", len(copies))] if len(copies) > 1 else copies[0]
    return Candidate(instance, batch, p, c)


def warm_start(space: SearchSpace, weights: int) -> list[dict[str, Any]]:
    """AWS's pipeline heuristic (4 * round(weights / 2e7)) and data parallel, per inf1 size.

    Both at the smallest batch and with as many copies as fit, as the AWS blog ran them.
    """
    heuristic = 4 * round(weights / 2e7)  # weights: parameters multiplied, tables aside
    trials = []
    for instance in space.instances:
        cores = pipeline_choices(space, instance)
        if len(cores) <= 1:
            continue
        for p in dict.fromkeys([1, heuristic]):
            if p in cores:
                trials.append(
                    {
                        "instance_type": instance,
                        "batch_size_share": 0.0,
                        "pipeline_cores_share": share_of(cores.index(p), len(cores), log=True),
                        "copies_share": 1.0,
                    }
                )
    return trials


__all__ = ["SAMPLERS", "make_sampler", "share_of", "suggest", "warm_start"]

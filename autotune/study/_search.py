"""How trials choose deployments: the samplers, the parametrisation, the warm start.

Each trial suggests an instance, a batch size, then (define-by-run) only pipeline-core counts and
copy counts that fit that instance, so no trial is spent on an impossible deployment. Batch,
pipeline cores and copies are drawn as shares of what the instance offers (see ``_pick``), so
what the sampler learns on one instance carries over to the others.
"""

from __future__ import annotations

import math
import random
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution
from optuna.trial import FrozenTrial, TrialState

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
        # worth keeping for min-cost: without it the median trials to the optimum went from
        # 56.5 to 67.5 (min-cost), 25 to 22 (min-latency), 27 to 26 (pareto) over 100 seeds of
        # benchmarks/bench_search.py.
        warnings.filterwarnings("ignore", message=".*consider_endpoints", category=FutureWarning)
        return NoRepeatTPESampler(
            space,
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


_SHARES = (  # dimension, parameter name, log-spaced
    ("batch_size", "batch_size_share", False),
    ("pipeline_cores", "pipeline_cores_share", True),
    ("copies", "copies_share", False),
)


def _choices(space: SearchSpace, instance: str, dimension: str, pipeline_cores: int) -> list[int]:
    if dimension == "batch_size":
        return list(space.batch_sizes)
    if dimension == "pipeline_cores":
        return pipeline_choices(space, instance)
    return copies_choices(space, instance, pipeline_cores)


def _deployment(space: SearchSpace, instance: str, share: Callable[[str], float]) -> Candidate:
    """The deployment on ``instance`` that the named shares pick (asked only when needed)."""
    chosen = {"pipeline_cores": 1}
    for dimension, name, log in _SHARES:
        options = _choices(space, instance, dimension, chosen["pipeline_cores"])
        chosen[dimension] = (
            options[_pick(share(name), len(options), log)] if len(options) > 1 else options[0]
        )
    return Candidate(instance, chosen["batch_size"], chosen["pipeline_cores"], chosen["copies"])


def suggest(trial: optuna.Trial, space: SearchSpace, grid: bool) -> Candidate:
    """The deployment this trial tries; only valid choices are ever offered."""
    if grid:
        by_key = {c.key: c for c in candidates(space)}
        return by_key[str(trial.suggest_categorical("candidate", list(by_key)))]
    instance = str(trial.suggest_categorical("instance_type", space.instances))
    return _deployment(space, instance, lambda name: trial.suggest_float(name, 0.0, 1.0))


def decode(params: Mapping[str, Any], space: SearchSpace) -> Candidate | None:
    """The deployment ``suggest`` makes of these parameters (None if they do not name one)."""
    if params.get("instance_type") not in space.instances:
        return None
    try:
        return _deployment(space, params["instance_type"], lambda name: float(params[name]))
    except KeyError:
        return None


def encode(candidate: Candidate, space: SearchSpace) -> dict[str, Any]:
    """Parameters that ``suggest`` maps to ``candidate`` (for enqueued and proposed trials)."""
    params: dict[str, Any] = {"instance_type": candidate.instance_type}
    for dimension, name, log in _SHARES:
        options = _choices(space, candidate.instance_type, dimension, candidate.pipeline_cores)
        if len(options) > 1:
            params[name] = share_of(options.index(getattr(candidate, dimension)), len(options), log)
    return params


def _at_most(options: Sequence[int], value: int) -> int | None:
    """The largest option not above ``value`` (else the smallest); None if there is none."""
    return max([n for n in options if n <= value] or options[:1], default=None)


def _fitted(space: SearchSpace, instance: str, wanted: Candidate) -> Candidate | None:
    """``wanted`` on ``instance``, its pipeline cores and copies cut down to what fits there."""
    p = _at_most(pipeline_choices(space, instance), wanted.pipeline_cores)
    c = None if p is None else _at_most(copies_choices(space, instance, p), wanted.copies)
    return None if p is None or c is None else Candidate(instance, wanted.batch_size, p, c)


def neighbours(candidate: Candidate, space: SearchSpace) -> list[Candidate]:
    """Deployments one step away: the next batch size, pipeline-core count or copy count up or
    down, or the same deployment on another instance type (as close as that instance allows)."""
    c = candidate
    steps: list[Candidate | None] = []
    for dimension, _, _ in _SHARES:
        options = _choices(space, c.instance_type, dimension, c.pipeline_cores)
        i = options.index(getattr(c, dimension))
        for value in options[max(0, i - 1) : i] + options[i + 1 : i + 2]:
            step: dict[str, Any] = {dimension: value}
            steps.append(_fitted(space, c.instance_type, replace(c, **step)))
    for instance in space.instances:
        if instance != c.instance_type:
            steps.append(_fitted(space, instance, c))
    return [n for n in dict.fromkeys(steps) if n is not None and n != c]


class NoRepeatTPESampler(optuna.samplers.TPESampler):
    """Optuna's TPE, except that no trial goes to a deployment the study has already tried.

    When TPE's proposal repeats a tried deployment (its result is known, so the trial would
    teach nothing), the trial goes instead to an untried neighbour (see ``neighbours``) of the
    best results so far: the feasible ones first, then by objective, the Pareto front first
    when there are several objectives. Without this, TPE kept re-proposing a good deployment
    it had found (g4dn.xlarge at batch 1 in the default space) for dozens of trials.
    """

    def __init__(self, space: SearchSpace, seed: int | None = None, **tpe: Any) -> None:
        super().__init__(seed=seed, **tpe)
        self._space = space
        self._choice = random.Random(seed)

    def reseed_rng(self) -> None:
        super().reseed_rng()
        self._choice = random.Random()

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        inferred = super().infer_relative_search_space(study, trial)
        if not inferred:  # the random start-up
            return inferred
        # Every parameter a deployment may need, so that a whole proposal is known (and checked
        # for repeats) before the trial suggests anything.
        every: dict[str, BaseDistribution] = {
            name: FloatDistribution(0.0, 1.0) for _, name, _ in _SHARES
        }
        if len(self._space.instances) > 1:
            every["instance_type"] = CategoricalDistribution(self._space.instances)
        return every | inferred

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        params = super().sample_relative(study, trial, search_space)
        if not params:  # the random start-up
            return params
        # TPE leaves out parameters no finished trial has had together with the others; those
        # are drawn uniformly here, as they would be independently.
        if "instance_type" not in params:
            params["instance_type"] = self._choice.choice(self._space.instances)

        def share(name: str) -> float:
            if name not in params:
                params[name] = self._choice.random()
            return float(params[name])

        proposal = _deployment(self._space, params["instance_type"], share)
        others = [
            t
            for t in study.get_trials(deepcopy=False)
            if t.number != trial.number and t.state != TrialState.WAITING
        ]
        tried = {decode(t.params, self._space) for t in others}
        if proposal in tried:
            params = self._untried_neighbour(others, tried, study.directions) or params
        return {name: v for name, v in params.items() if name in search_space}

    def _untried_neighbour(
        self,
        trials: Sequence[FrozenTrial],
        tried: set[Candidate | None],
        directions: Sequence[optuna.study.StudyDirection],
    ) -> dict[str, Any] | None:
        """Parameters of an untried neighbour of the best trials (None if all are tried)."""
        front, rest = _best_first(trials, directions)
        self._choice.shuffle(front)  # spread over the front, not only its first point
        for best in front + rest:
            deployment = decode(best.params, self._space)
            near = neighbours(deployment, self._space) if deployment else []
            fresh = [n for n in near if n not in tried]
            if fresh:
                return encode(self._choice.choice(fresh), self._space)
        return None


def _best_first(
    trials: Sequence[FrozenTrial], directions: Sequence[optuna.study.StudyDirection]
) -> tuple[list[FrozenTrial], list[FrozenTrial]]:
    """The best completed trials (the best value, or the Pareto front for several objectives,
    among feasible trials if there are any), and the other completed trials, best first."""
    signs = [-1.0 if d == optuna.study.StudyDirection.MAXIMIZE else 1.0 for d in directions]

    def violation(t: FrozenTrial) -> float:
        return sum(max(0.0, c) for c in t.constraints.values())

    def key(t: FrozenTrial) -> tuple[float, ...]:
        return (violation(t), *(s * v for s, v in zip(signs, t.values, strict=True)))

    done = [t for t in trials if t.state == TrialState.COMPLETE and t.values]
    keyed = sorted(((key(t), t) for t in done), key=lambda pair: (pair[0], pair[1].number))
    front: list[tuple[tuple[float, ...], FrozenTrial]] = []
    rest: list[FrozenTrial] = []
    for k, t in keyed:
        # Keys start with the violation: trials more infeasible than the best never lead.
        if (front and front[0][0][0] < k[0]) or any(_dominates(f, k) for f, _ in front):
            rest.append(t)
        else:
            front.append((k, t))
    return [t for _, t in front], rest


def _dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(
        x < y for x, y in zip(a, b, strict=True)
    )


def warm_start(space: SearchSpace, weights: int) -> list[dict[str, Any]]:
    """AWS's pipeline heuristic (4 * round(weights / 2e7)) and data parallel, per inf1 size.

    Both at the first batch size of the space and with as many copies as fit, as the AWS blog
    ran them.
    """
    heuristic = 4 * round(weights / 2e7)  # weights: parameters multiplied, tables aside
    trials = []
    for instance in space.instances:
        cores = pipeline_choices(space, instance)
        if len(cores) <= 1:
            continue
        for p in dict.fromkeys([1, heuristic]):
            copies = copies_choices(space, instance, p) if p in cores else []
            if copies:
                deployment = Candidate(instance, space.batch_sizes[0], p, copies[-1])
                trials.append(encode(deployment, space))
    return trials


__all__ = [
    "SAMPLERS",
    "NoRepeatTPESampler",
    "decode",
    "encode",
    "make_sampler",
    "neighbours",
    "suggest",
    "warm_start",
]

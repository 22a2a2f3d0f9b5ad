"""How trials choose deployments: the samplers, the parametrisation, the warm start.

Each trial suggests an instance, a batch size, then (define-by-run) only the values of its
generation's knobs that fit that instance (for NeuronCore-v1: pipeline-core counts, then copy
counts), so no trial is spent on an impossible deployment. Every dimension is drawn as a share of
what the instance offers (see ``_pick``), so what the sampler learns on one instance carries over
to the others.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution
from optuna.trial import FrozenTrial, TrialState

from autotune.catalog import get_instance
from autotune.errors import choice_error
from autotune.hardware import Dimension, generation_of
from autotune.study._candidates import Candidate, candidates, choices, searchable_instances
from autotune.study._space import SearchSpace
from autotune.values import Knob, dominates

SAMPLERS = ("tpe", "gp", "nsga2", "random", "grid")


def make_sampler(
    name: str, seed: int | None, space: SearchSpace, n_jobs: int = 1
) -> optuna.samplers.BaseSampler:
    """The Optuna sampler called ``name``."""
    if name == "tpe":
        # consider_endpoints is deprecated (removal in Optuna 6, hence the pin below 6) but
        # worth keeping for min-cost: without it the median trials to the optimum went from
        # 56.5 to 67.5 (min-cost), 25 to 22 (min-latency), 27 to 26 (pareto) over 100 seeds of
        # benchmarks/bench_search.py.
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


_BATCH = Dimension("batch_size", "b")


def _dims(instance: str) -> tuple[Dimension, ...]:
    """Batch size, then the instance's generation's dimensions, in the order a trial asks."""
    return (_BATCH, *generation_of(get_instance(instance)).dimensions)


def _share_name(dimension: Dimension) -> str:
    return f"{dimension.name}_share"


def _deployment(space: SearchSpace, instance: str, share: Callable[[str], float]) -> Candidate:
    """The deployment on ``instance`` that the named shares pick (asked only when needed)."""
    inst = get_instance(instance)
    chosen: dict[str, Knob] = {}
    for dim in _dims(instance):
        options = choices(space, inst, dim.name, chosen)
        pick = _pick(share(_share_name(dim)), len(options), dim.log) if len(options) > 1 else 0
        chosen[dim.name] = options[pick]
    batch = cast(int, chosen.pop("batch_size"))
    return Candidate(instance, batch, tuple(chosen.items()))


def suggest(trial: optuna.Trial, space: SearchSpace, grid: bool) -> Candidate:
    """The deployment this trial tries; only valid choices are ever offered."""
    if grid:
        by_key = {c.key: c for c in candidates(space)}
        return by_key[str(trial.suggest_categorical("candidate", list(by_key)))]
    instance = str(trial.suggest_categorical("instance_type", searchable_instances(space)))
    return _deployment(space, instance, lambda name: trial.suggest_float(name, 0.0, 1.0))


def decode(params: Mapping[str, Any], space: SearchSpace) -> Candidate | None:
    """The deployment ``suggest`` makes of these parameters (None if they do not name one)."""
    if params.get("instance_type") not in searchable_instances(space):
        return None
    try:
        return _deployment(space, params["instance_type"], lambda name: float(params[name]))
    except KeyError:
        return None


def encode(candidate: Candidate, space: SearchSpace) -> dict[str, Any]:
    """Parameters that ``suggest`` maps to ``candidate`` (for enqueued and proposed trials)."""
    params: dict[str, Any] = {"instance_type": candidate.instance_type}
    inst = get_instance(candidate.instance_type)
    chosen: dict[str, Knob] = {}
    for dim in _dims(candidate.instance_type):
        options = choices(space, inst, dim.name, chosen)
        value = candidate.value(dim.name)
        if len(options) > 1:
            params[_share_name(dim)] = share_of(options.index(value), len(options), dim.log)
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
    for dim in _dims(instance):
        value = _closest(choices(space, inst, dim.name, chosen), wanted.get(dim.name))
        if value is None:
            return None
        chosen[dim.name] = value
    batch = cast(int, chosen.pop("batch_size"))
    return Candidate(instance, batch, tuple(chosen.items()))


def neighbours(candidate: Candidate, space: SearchSpace) -> list[Candidate]:
    """Deployments one step away: the next value of one dimension (batch size, and for
    NeuronCore-v1 pipeline cores or copies) up or down, or the same deployment on another
    instance type (as close as that instance allows)."""
    c = candidate
    inst = get_instance(c.instance_type)
    here = {"batch_size": c.batch_size, **dict(c.chosen)}
    steps: list[Candidate | None] = []
    chosen: dict[str, Knob] = {}
    for dim in _dims(c.instance_type):
        options = choices(space, inst, dim.name, chosen)
        i = options.index(here[dim.name])
        for value in options[max(0, i - 1) : i] + options[i + 1 : i + 2]:
            steps.append(_fitted(space, c.instance_type, {**here, dim.name: value}))
        chosen[dim.name] = here[dim.name]
    for instance in searchable_instances(space):
        if instance != c.instance_type:
            steps.append(_fitted(space, instance, here))
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
        instances = searchable_instances(self._space)
        shares = [_share_name(d) for name in instances for d in _dims(name)]
        every: dict[str, BaseDistribution] = {
            name: FloatDistribution(0.0, 1.0) for name in dict.fromkeys(shares)
        }
        if len(instances) > 1:
            every["instance_type"] = CategoricalDistribution(instances)
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
            params["instance_type"] = self._choice.choice(searchable_instances(self._space))

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
        if (front and front[0][0][0] < k[0]) or any(dominates(f, k) for f, _ in front):
            rest.append(t)
        else:
            front.append((k, t))
    return [t for _, t in front], rest


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
    "SAMPLERS",
    "NoRepeatTPESampler",
    "decode",
    "encode",
    "make_sampler",
    "neighbours",
    "suggest",
    "warm_start",
]

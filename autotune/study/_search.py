"""The samplers a study can use, and the TPE that never spends a trial on a repeat."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution
from optuna.trial import FrozenTrial, TrialState

from autotune.errors import choice_error
from autotune.study._candidates import Candidate, candidates, searchable_instances
from autotune.study._params import decode, deployment, dims, encode, neighbours, share_name
from autotune.study._space import SearchSpace
from autotune.values import dominates

SAMPLERS = ("tpe", "gp", "nsga2", "random", "grid")


def make_sampler(
    name: str, seed: int | None, space: SearchSpace, n_jobs: int = 1
) -> optuna.samplers.BaseSampler:
    """The Optuna sampler called ``name``."""
    if name == "tpe":
        # consider_endpoints is deprecated (see _optuna.py; removal in Optuna 6) but
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
        shares = [share_name(d) for name in instances for d in dims(name)]
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

        proposal = deployment(self._space, params["instance_type"], share)
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


__all__ = ["SAMPLERS", "NoRepeatTPESampler", "make_sampler"]

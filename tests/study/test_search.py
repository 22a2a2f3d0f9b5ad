"""How trials choose deployments: the share parametrisation, neighbours, and the TPE sampler
that never spends a trial on a deployment the study has already tried."""

from __future__ import annotations

from typing import Any

import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autotune.study import SearchSpace, load_space, parse_space, with_overrides
from autotune.study._search import _best_first
from autotune.study.write import (
    Candidate,
    NoRepeatTPESampler,
    candidates,
    decode,
    encode,
    make_sampler,
    neighbours,
    suggest,
    warm_start,
)
from tests.study.helpers import candidate, cores_and_copies

# Flagged by Optuna, used on purpose (see autotune.study._search): the CLI silences them too.
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*consider_endpoints:FutureWarning"),
    pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning"),
]

SPACES = {
    "default": load_space(),
    "lists": parse_space(
        {
            "instances": ["inf1.2xlarge", "inf1.24xlarge", "g4dn.xlarge"],
            "batch_sizes": [1, 4, 16],
            "pipeline_cores": [1, 3, 8, 16],
            "copies": [1, 2, 5],
        }
    ),
    "max copies": parse_space({"instances": ["inf1.6xlarge"], "batch_sizes": [2], "copies": "max"}),
}


@pytest.fixture(params=list(SPACES), scope="module")
def space(request: pytest.FixtureRequest) -> SearchSpace:
    return SPACES[request.param]


def test_every_candidate_round_trips_through_its_parameters(space):
    for c in candidates(space):
        params = encode(c, space)
        assert decode(params, space) == c
        # `suggest` (what a trial runs) and `decode` (what the sampler reasons about) agree.
        assert suggest(optuna.trial.FixedTrial(params), space, grid=False) == c


def test_decode_refuses_parameters_that_name_no_deployment():
    space = SPACES["default"]
    assert decode({}, space) is None
    assert decode({"instance_type": "inf1.xlarge"}, space) is None  # shares missing
    assert decode({"instance_type": "p4d.24xlarge", "batch_size_share": 0.1}, space) is None
    gpu = {"instance_type": "g4dn.xlarge", "batch_size_share": 0.0}
    # One serving stack in the default space: no share needed to name it.
    assert decode(gpu, space) == candidate("g4dn.xlarge", 1)
    every = with_overrides(space, stack="all")
    assert decode(gpu, every) is None  # the serving stack's share missing
    assert decode({**gpu, "stack_share": 0.0}, every) == candidate("g4dn.xlarge", 1)
    assert decode({**gpu, "stack_share": 0.99}, every) == candidate(
        "g4dn.xlarge", 1, stack="tensorrt-int8"
    )


def test_neighbours_are_valid_distinct_and_one_step_away(space):
    valid = set(candidates(space))
    for c in candidates(space):
        near = neighbours(c, space)
        assert near and len(near) == len(set(near)) and c not in near
        assert set(near) <= valid
        for n in near:
            changed = [
                n.instance_type != c.instance_type,
                n.batch_size != c.batch_size,
                cores_and_copies(n)[0] != cores_and_copies(c)[0],
            ]
            # Within an instance one of batch, cores or copies moves (copies may shrink to fit
            # a bigger pipeline); across instances batch size stays.
            assert sum(changed) <= 1 or (changed[0] and not changed[1])


def test_neighbours_of_the_gpu_include_every_inf1_size_at_one_core():
    space = SPACES["default"]
    near = neighbours(candidate("g4dn.xlarge", 1), space)
    for instance in ("inf1.xlarge", "inf1.2xlarge", "inf1.6xlarge", "inf1.24xlarge"):
        assert candidate(instance, 1, 1, 1) in near


def _reached(start: Candidate, steps: dict[Candidate, list[Candidate]]) -> set[Candidate]:
    reached, frontier = {start}, [start]
    while frontier:
        for n in steps[frontier.pop()]:
            if n not in reached:
                reached.add(n)
                frontier.append(n)
    return reached


def test_every_deployment_reaches_every_other_by_neighbour_steps(space):
    """So while anything is untried, some tried deployment has an untried neighbour."""
    everything = candidates(space)
    forward = {c: neighbours(c, space) for c in everything}
    backward: dict[Candidate, list[Candidate]] = {c: [] for c in everything}
    for c, near in forward.items():
        for n in near:
            backward[n].append(c)
    # Reaching everything from one deployment, and it from everything: strongly connected.
    assert _reached(everything[0], forward) == set(everything)
    assert _reached(everything[0], backward) == set(everything)


def test_warm_start_is_each_generations_baselines_at_the_first_batch():
    # inf1: data parallel and AWS's pipeline heuristic; a GPU: the blog's serving stack.
    space = SPACES["default"]
    runs = [decode(p, space) for p in warm_start(space, 85_057_538)]  # heuristic: 16 cores
    assert runs == [
        candidate("inf1.xlarge", 1, 1, 4),
        candidate("inf1.2xlarge", 1, 1, 4),
        candidate("inf1.6xlarge", 1, 1, 16),
        candidate("inf1.6xlarge", 1, 16, 1),
        candidate("inf1.24xlarge", 1, 1, 64),
        candidate("inf1.24xlarge", 1, 16, 4),
        candidate("g4dn.xlarge", 1, stack="torchscript-amp"),
    ]


def _latency(c: Candidate) -> float:
    """A made-up landscape with its optimum away from where TPE starts."""
    cores, copies = cores_and_copies(c)
    return c.batch_size * (1 + abs(cores - 3)) * copies + (
        0 if c.instance_type.startswith("inf1") else 5
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tpe_tries_a_new_deployment_in_every_trial_after_its_start_up(seed):
    space = SPACES["lists"]
    sampler = make_sampler("tpe", seed, space)
    assert isinstance(sampler, NoRepeatTPESampler)
    study = optuna.create_study(sampler=sampler)
    size = len(candidates(space))
    startup = 5  # random trials before TPE models anything; these may repeat
    tried: list[Candidate] = []
    for _ in range(size + startup):
        trial = study.ask()
        c = suggest(trial, space, grid=False)
        tried.append(c)
        study.tell(trial, _latency(c))
    for i in range(startup, size + startup):
        if len(set(tried[:i])) < size:
            assert tried[i] not in tried[:i], f"trial {i} repeated {tried[i]}"
    assert set(tried) == set(candidates(space))  # the whole space, so the optimum too


def _study_of(points: list[tuple[list[float], float]], directions: list[str]) -> optuna.Study:
    study = optuna.create_study(directions=directions)
    for values, violation in points:
        trial = study.ask()
        trial.set_constraint("limit", violation)
        study.tell(trial, values)
    return study


def _numbers(trials: list[optuna.trial.FrozenTrial]) -> list[int]:
    return [t.number for t in trials]


def test_best_first_puts_feasible_then_best_value_first():
    study = _study_of([([3.0], 0.0), ([1.0], 2.0), ([2.0], -1.0), ([0.5], 1.0)], ["minimize"])
    front, rest = _best_first(study.trials, study.directions)
    assert _numbers(front) == [2]
    assert _numbers(rest) == [0, 3, 1]  # feasible 3.0, then by violation


def test_best_first_puts_the_pareto_front_first():
    points = [([1.0, 9.0], 0), ([2.0, 5.0], 0), ([3.0, 6.0], 0), ([4.0, 1.0], 0), ([0.5, 0.5], 3)]
    study = _study_of([(v, float(c)) for v, c in points], ["minimize", "minimize"])
    front, rest = _best_first(study.trials, study.directions)
    assert sorted(_numbers(front)) == [0, 1, 3]
    assert _numbers(rest) == [2, 4]


def test_best_first_respects_maximisation():
    study = _study_of([([1.0], 0.0), ([5.0], 0.0), ([3.0], 0.0)], ["maximize"])
    front, rest = _best_first(study.trials, study.directions)
    assert _numbers(front) == [1] and _numbers(rest) == [2, 0]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(candidates(SPACES["lists"])), min_size=1, max_size=8, unique=True))
def test_proposals_repeat_nothing_while_neighbours_are_untried(tried_list: list[Candidate]):
    """Whatever TPE would propose, a repeat is replaced by an untried neighbour of the best."""
    space = SPACES["lists"]
    sampler = NoRepeatTPESampler(space, seed=0, n_startup_trials=0)
    study = optuna.create_study(sampler=sampler)
    for c in tried_list:
        study.enqueue_trial(encode(c, space))
        trial = study.ask()
        study.tell(trial, _latency(suggest(trial, space, grid=False)))
    for _ in range(3):
        trial = study.ask()
        c = suggest(trial, space, grid=False)
        earlier: list[Any] = [decode(t.params, space) for t in study.trials[:-1]]
        assert c not in earlier
        study.tell(trial, _latency(c))

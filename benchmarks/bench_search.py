"""Search efficiency of the samplers on a search space, against its exhaustive optimum.

    python benchmarks/bench_search.py [--space FILE] [--seeds 30] [--baseline-seeds 60]
                                      [--table FILE]

Every candidate of the search space (the shipped default unless --space names another) is simulated
once (through the compile cache), which gives the exact optimum of each objective and the true
Pareto front. Each sampler then searches with the very suggestion code `autotune study` uses
(define-by-run candidates, warm start for TPE/GP), answered from that table, so only the sampler's
choices differ between runs. Reported: median trials until the optimum is first tried (min-latency,
min-cost) and until the Pareto hypervolume reaches 99% of the true front's. Two random baselines:
Optuna's RandomSampler on the same parametrization ("random"), and candidates drawn uniformly
without repetition ("uniform"). Trials to the goal are spread wide (roughly geometric), so medians
need many seeds: the random baselines are cheap and run more of them.
Goals: TPE or GP within 10% of the space's size and at least 3x sooner than random; Pareto within
25% of the space's size.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import time
import warnings
from pathlib import Path
from typing import Any

import optuna

from autotune.emulator import CompileCache
from autotune.errors import DeploymentError
from autotune.evaluation import evaluate
from autotune.study import SearchSpace, load_space
from autotune.study.write import (
    Candidate,
    candidates,
    experiment,
    make_sampler,
    suggest,
    warm_start,
)


def exhaustive(space: SearchSpace) -> dict[str, tuple[float, float, float]]:
    """(p95 ms, throughput, $ per 1M) of every deployable candidate, by key."""
    cache = CompileCache()
    table = {}
    for c in candidates(space):
        try:
            ev = evaluate(experiment(c, space), cache)
        except DeploymentError:
            continue
        table[c.key] = (ev.result.latency.p95_ms, ev.result.throughput, ev.cost.per_1m_usd)
    return table


def _coords(p95: float, cost: float, log: bool) -> tuple[float, float]:
    """A point of the p95-cost plane, on log axes if ``log`` (where the fronts are drawn)."""
    return (math.log(p95), math.log(cost)) if log else (p95, cost)


def _target(table: dict[str, tuple[float, float, float]], log: bool) -> tuple[Any, float]:
    """The reference point (1.1x the worst p95 and cost) and 99% of the true front's volume."""
    worst = (max(v[0] for v in table.values()) * 1.1, max(v[2] for v in table.values()) * 1.1)
    ref = _coords(*worst, log)
    pts = [_coords(v[0], v[2], log) for v in table.values()]
    return ref, 0.99 * _hypervolume(pts, ref)


def _hypervolume(points: list[tuple[float, float]], ref: tuple[float, float]) -> float:
    front = sorted(p for p in points if p[0] < ref[0] and p[1] < ref[1])
    volume, best_y = 0.0, ref[1]
    for x, y in front:
        if y < best_y:
            volume += (ref[0] - x) * (best_y - y)
            best_y = y
    return volume


def search(
    space: SearchSpace,
    table: dict[str, tuple[float, float, float]],
    sampler: str,
    objective: str,
    seed: int,
    budget: int,
    weights: int,
    log: bool = False,
) -> int:
    """Trials until the goal is reached (``budget + 1`` when it never is)."""
    metric = {"min-latency": 0, "min-cost": 2}
    directions = ["minimize", "minimize"] if objective == "pareto" else ["minimize"]
    keys = list(table)
    if sampler == "uniform":  # random search over candidates, each equally likely
        order = random.Random(seed).sample(keys, len(keys))
        return _first_hit(order, table, objective, budget, log)
    study = optuna.create_study(directions=directions, sampler=make_sampler(sampler, seed, space))
    for params in warm_start(space, weights):  # as `autotune study` does, for every sampler
        study.enqueue_trial(params, skip_if_exists=True)
    if objective == "pareto":
        ref, target = _target(table, log)
    else:
        goal = min(table[k][metric[objective]] for k in keys)
    seen: list[tuple[float, float]] = []
    for n in range(1, budget + 1):
        trial = study.ask()
        c: Candidate = suggest(trial, space, grid=False)
        if c.key not in table:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            continue
        p95, _, cost = table[c.key]
        if objective == "pareto":
            study.tell(trial, [p95, cost])
            seen.append(_coords(p95, cost, log))
            if _hypervolume(seen, ref) >= target:
                return n
        else:
            value = table[c.key][metric[objective]]
            study.tell(trial, value)
            if value <= goal:
                return n
    return budget + 1


def _goal(table: dict[str, tuple[float, float, float]], objective: str) -> float:
    return min(v[{"min-latency": 0, "min-cost": 2}[objective]] for v in table.values())


def _first_hit(
    order: list[str],
    table: dict[str, tuple[float, float, float]],
    objective: str,
    budget: int,
    log: bool = False,
) -> int:
    if objective == "pareto":
        (ref, target), seen = _target(table, log), []
        for n, key in enumerate(order[:budget], 1):
            seen.append(_coords(table[key][0], table[key][2], log))
            if _hypervolume(seen, ref) >= target:
                return n
        return budget + 1
    goal = _goal(table, objective)
    index = {"min-latency": 0, "min-cost": 2}[objective]
    for n, key in enumerate(order[:budget], 1):
        if table[key][index] <= goal:
            return n
    return budget + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=30, help="seeds for TPE and GP")
    parser.add_argument("--baseline-seeds", type=int, default=60, help="seeds for the baselines")
    parser.add_argument("--samplers", default="tpe,random,uniform")
    parser.add_argument("--table", help="JSON file to keep the exhaustive results in")
    parser.add_argument("--space", help="search space YAML (default: the shipped default)")
    parser.add_argument("--objectives", default="min-latency,min-cost,pareto")
    parser.add_argument(
        "--log-hypervolume",
        action="store_true",
        help="Pareto hypervolume on log axes (a space whose p95 and cost span orders of magnitude)",
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    space = load_space(Path(args.space) if args.space else None)
    started = time.perf_counter()
    if args.table and Path(args.table).exists():
        table = {k: tuple(v) for k, v in json.loads(Path(args.table).read_text()).items()}
    else:
        table = exhaustive(space)
        if args.table:
            Path(args.table).write_text(json.dumps(table))
    size = len(candidates(space))
    print(
        f"{args.space or 'default space'}: {size} candidates, {len(table)} deployable; "
        f"exhaustive evaluation {time.perf_counter() - started:.0f} s\n"
    )
    weights = 85_057_538  # bert-base parameters multiplied per inference (tables aside)
    print("| objective | sampler | seeds | median trials to goal | per seed | goal |")
    print("|---|---|---:|---:|---|---|")
    log = args.log_hypervolume
    shares = {"min-latency": 0.10, "min-cost": 0.10, "pareto": 0.25}
    for objective in args.objectives.split(","):
        share = shares[objective]
        for sampler in args.samplers.split(","):
            baseline = sampler in ("random", "uniform")
            budget = size if baseline else int(size * share) * 2
            seeds = args.baseline_seeds if baseline else args.seeds
            runs = [
                search(space, table, sampler, objective, seed, budget, weights, log)
                for seed in range(seeds)
            ]
            goal = "optimum tried" if objective != "pareto" else "99% hypervolume"
            print(
                f"| {objective} | {sampler} | {seeds} | {statistics.median(runs):.0f} | {runs} | "
                f"{goal} (limit {int(size * share)}) |"
            )


if __name__ == "__main__":
    main()

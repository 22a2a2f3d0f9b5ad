"""Contiguous partition of an operator sequence into stages, minimising the slowest stage.

Generic over the stage cost model: any ``StageCost`` that can grow a stage by one operator and
price it. Bisection on the slowest stage's time, a greedy split at each step, then the slowest
splittable stages are cut in two until there are exactly as many stages as asked for.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

S = TypeVar("S")


class StageCost(Protocol[S]):
    def empty(self) -> S: ...

    def extend(self, stage: S, op: int) -> S: ...

    def seconds_of(self, stage: S) -> float: ...


def span(model: StageCost[S], start: int, end: int) -> S:
    """The stage made of operators ``start`` to ``end - 1``."""
    s = model.empty()
    for i in range(start, end):
        s = model.extend(s, i)
    return s


def _greedy(limit: float, n: int, parts: int, model: StageCost[S]) -> list[int] | None:
    """Stage starts of the greedy split with every stage within ``limit``; None if > parts."""
    starts, current = [0], model.empty()
    for i in range(n):
        grown = model.extend(current, i)
        if model.seconds_of(grown) > limit and i > starts[-1]:
            if len(starts) == parts:
                return None
            starts.append(i)
            grown = model.extend(model.empty(), i)
        current = grown
    return starts


def _split_to(starts: list[int], n: int, parts: int, model: StageCost[S]) -> list[int]:
    """Split the slowest splittable stage in two until there are ``parts`` stages."""
    while len(starts) < parts:
        bounds = list(zip(starts, [*starts[1:], n], strict=True))
        splittable = [(a, b) for a, b in bounds if b - a > 1]
        a, b = max(splittable, key=lambda ab: model.seconds_of(span(model, *ab)))
        cut = min(
            range(a + 1, b),
            key=lambda c: max(
                model.seconds_of(span(model, a, c)), model.seconds_of(span(model, c, b))
            ),
        )
        starts = sorted([*starts, cut])
    return starts


def partition(n: int, parts: int, model: StageCost[S]) -> list[int]:
    """Start index of each of ``parts`` contiguous stages, minimising the slowest (bisection)."""
    if parts == 1:
        return [0]
    low, high = 0.0, model.seconds_of(span(model, 0, n))
    best = [0]
    for _ in range(40):
        mid = (low + high) / 2
        starts = _greedy(mid, n, parts, model)
        if starts is None:
            low = mid
        else:
            high, best = mid, starts
    return _split_to(best, n, parts, model)

"""The dominance rules of autotune: exact (the sampler's front) and within a tolerance (the
front every surface recommends and shows)."""

from __future__ import annotations

from collections.abc import Sequence


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether ``a`` is no worse than ``b`` everywhere and better somewhere (all minimised)."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(
        x < y for x, y in zip(a, b, strict=True)
    )


def pareto_indices(points: Sequence[Sequence[float]]) -> list[int]:
    """Indices of the points no other point dominates (all objectives minimised).

    Equal points are all kept: the same result reached twice is not dominated. Sorted by the
    objectives in order, which makes each check only look back at the front so far.
    """
    order = sorted(range(len(points)), key=lambda i: (tuple(points[i]), i))
    front: list[int] = []
    for i in order:
        if not any(dominates(points[j], points[i]) for j in front):
            front.append(i)
    return front


def epsilon_dominates(a: Sequence[float], b: Sequence[float], tolerance: Sequence[float]) -> bool:
    """Whether ``a`` is no worse than ``b`` by more than the tolerance on every objective and
    clearly better (by more than the tolerance) on one. Positive values, all minimised; the
    tolerance of each objective is relative (0.05 = 5%)."""
    close = all(x <= y * (1 + t) for x, y, t in zip(a, b, tolerance, strict=True))
    return close and any(x * (1 + t) < y for x, y, t in zip(a, b, tolerance, strict=True))


def epsilon_front(
    points: Sequence[Sequence[float]], tolerances: Sequence[Sequence[float]]
) -> list[int]:
    """Indices of the Pareto front without the points another front point epsilon-dominates.

    ``tolerances[i]`` is point ``i``'s relative uncertainty per objective; a pair is judged with
    the larger of its two. A point is dropped when another is within that tolerance of it on
    every objective and clearly better on one: the front keeps only trades the predictions can
    tell apart. With one tolerance for all points no point can drop every other (the weighted
    sum of logs falls along each drop); should mixed tolerances drop all, the exact front stays.
    """
    front = pareto_indices(points)

    def pair(i: int, j: int) -> list[float]:
        return [max(x, y) for x, y in zip(tolerances[i], tolerances[j], strict=True)]

    kept = [
        i
        for i in front
        if not any(j != i and epsilon_dominates(points[j], points[i], pair(i, j)) for j in front)
    ]
    return kept or front

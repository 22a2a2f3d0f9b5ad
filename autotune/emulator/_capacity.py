"""Capacity under a latency SLO: the largest arrival rate whose p95 stays within it.

Found by bisection on the rate, as Vidur-Search and SageMaker Inference Recommender do. Every
probe draws the same arrivals on a stretched clock (``poisson_arrivals``), so p95 rises with the
rate without sampling noise between probes, and the bisection converges on one boundary.
"""

from __future__ import annotations

from collections.abc import Callable

# Bisection stops when the bracket is this narrow relative to the rate (well inside the 2% the
# capacity is checked to against a fine grid).
_REL_TOLERANCE = 0.002
_MAX_PROBES = 40


def bisect_capacity(p95_at: Callable[[float], float], slo: float, saturation: float) -> float:
    """The largest rate ``q`` with ``p95_at(q) <= slo``, bracketed from ``saturation`` (the rate
    the deployment carries at full batches); 0 if even 1% of it misses the SLO."""
    lo, hi = 0.01 * saturation, saturation
    if p95_at(lo) > slo:
        return 0.0
    probes = 0
    while p95_at(hi) <= slo and probes < 8:  # the saturation estimate was low: widen
        lo, hi = hi, 1.5 * hi
        probes += 1
    while hi - lo > _REL_TOLERANCE * hi and probes < _MAX_PROBES:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if p95_at(mid) <= slo else (lo, mid)
        probes += 1
    return lo

"""Sharing a memory domain's bandwidth: how many cores stream while a core streams.

The simulator records, per core, when each of its services ran and what fraction of it the
core spent streaming from the domain's memory; from that, each core's slowdown.
"""

from __future__ import annotations

import numpy as np

# Per core: its services' starts and ends, and the fraction of them it spent streaming.
Streams = dict[int, tuple[np.ndarray, np.ndarray, float]]


def shares(domain_of: dict[int, int], streams: Streams) -> dict[int, float]:
    """Each core's memory slowdown: one plus how many other cores of its domain stream with it.

    A sweep over the services of each domain, each streaming for a fraction of its length
    (spread over it: phases alternate between DMA-bound and engine-bound): a core pays only for
    the streaming that really overlaps its own (a lone request walking a pipeline contends with
    nobody).
    """
    out = dict.fromkeys(domain_of, 1.0)
    for domain in set(domain_of.values()):
        cores = [c for c in streams if domain_of[c] == domain]
        if not cores:
            continue
        # Events: a core's streaming fraction starts or stops; one column per core.
        times = np.concatenate([np.concatenate(streams[c][:2]) for c in cores])
        steps = np.zeros((len(times), len(cores)))
        row = 0
        for j, core in enumerate(cores):
            starts, _, fraction = streams[core]
            n = len(starts)
            steps[row : row + n, j] = fraction
            steps[row + n : row + 2 * n, j] = -fraction
            row += 2 * n
        order = np.argsort(times, kind="stable")
        active = np.cumsum(steps[order], axis=0)[:-1]  # each core's fraction after each event
        dt = np.diff(times[order])[:, None]
        total = active.sum(axis=1, keepdims=True)
        own = (dt * active).sum(axis=0)
        overlap = (dt * active * (total - active)).sum(axis=0)
        for j, core in enumerate(cores):
            if own[j] > 0:
                out[core] = 1.0 + max(0.0, float(overlap[j] / own[j]))
    return out

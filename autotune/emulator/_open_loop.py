"""Open-loop traffic: requests arrive on their own clock, and the server batches them.

Requests arrive as a Poisson process whether or not the server keeps up, and wait in one FIFO
queue in front of the deployment's model copies (TorchServe's frontend, torch-neuronx dynamic
batching). When a copy can take a batch (its first stage frees as the batch's host work
ends), it takes up to its compiled batch of queued requests; if fewer are waiting it holds the
batch open at most ``max_batch_delay`` after its first request for more to arrive, then runs it.
A partial batch costs the full compiled shape (shapes are static: the rest is padding). The
batch then does its host work, crosses the host link and walks the copy's stages like a
closed-loop request (``done = max(arrival, free) + service``). Copies are kept in a heap by the
time they can take their next batch, so the run is one ``heapq`` loop over batches.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from autotune.emulator._simulator import (
    Latency,
    SimResult,
    _busy_s,
    _jitter,
    _memory_s,
    _per_core,
    _Run,
    _stage_timings,
)
from autotune.hardware import ServiceModel


def poisson_arrivals(qps: float, requests: int, seed: int) -> np.ndarray:
    """Arrival times of ``requests`` Poisson arrivals at ``qps`` per second.

    Drawn as unit exponential gaps divided by the rate, so the same seed at another rate gives
    the same arrivals on a stretched clock: a sweep over rates compares like with like.
    """
    gaps = np.random.default_rng([seed, 1]).exponential(1.0, requests)
    return np.cumsum(gaps) / qps


@dataclass
class Served:
    """What the batching loop measured: per request, and per batch."""

    latencies: np.ndarray  # per request, seconds from arrival to completion
    completed: np.ndarray  # per request
    begins: np.ndarray  # per batch and stage: when the stage started it
    which: np.ndarray  # per batch: the copy that ran it
    sizes: np.ndarray  # per batch: requests in it
    host_busy: float


# Long: the whole event loop in one place, as vidur's (style guide): arrivals, batch
# formation with its delay, and stage ends share the heap and each copy's queue.
def serve(
    arrive: list[float],
    base: list[list[float]],
    jitter: list[list[float]],
    *,
    slots: int,
    delay_s: float,
    host_s: float = 0.0,
    host_slots: int = 1,
    transfer_s: float = 0.0,
) -> Served:
    """Run the arrivals (sorted) through copies whose stage ``k`` serves a batch in
    ``base[copy][k]`` seconds times ``jitter[batch][k]`` (``jitter[batch][-1]`` scales the host
    work). A copy takes at most ``slots`` requests per batch."""
    n, n_stages = len(arrive), len(base[0])
    copies = [(0.0, c) for c in range(len(base))]  # (first stage free, copy)
    free = [[0.0] * n_stages for _ in base]
    hosts = [0.0] * host_slots
    latencies, completed = [0.0] * n, [0.0] * n
    begins: list[list[float]] = []
    which: list[int] = []
    sizes: list[int] = []
    host_busy = 0.0
    lead = host_s + transfer_s
    i = 0
    while i < n:
        ready, c = heapq.heappop(copies)
        first = max(ready, arrive[i])
        last = min(i + slots, n) - 1
        # The batch closes when it is full or its first request has waited the delay.
        close = max(first, min(arrive[last], first + delay_s))
        j = i + 1
        while j <= last and arrive[j] <= close:
            j += 1
        b = len(sizes)
        jit = jitter[b]
        host = host_s * jit[n_stages]
        host_busy += host
        t = max(close, heapq.heappop(hosts)) + host
        heapq.heappush(hosts, t)
        t += transfer_s
        row, svc, began = free[c], base[c], [0.0] * n_stages
        for k in range(n_stages):
            if row[k] > t:
                t = row[k]
            began[k] = t
            t += svc[k] * jit[k]
            row[k] = t
        for r in range(i, j):
            latencies[r] = t - arrive[r]
            completed[r] = t
        begins.append(began)
        which.append(c)
        sizes.append(j - i)
        # The copy's next batch does its host work while this one still runs on the device, so
        # that it reaches the first stage as that stage frees (as closed-loop clients do).
        heapq.heappush(copies, (max(close, row[0] - lead), c))
        i = j
    return Served(
        np.asarray(latencies),
        np.asarray(completed),
        np.asarray(begins),
        np.asarray(which),
        np.asarray(sizes),
        host_busy,
    )


def _chunks(batch: int, sequences: int) -> tuple[int, int]:
    """Requests per batch, and compiled-batch runs per batch (a request larger than the
    compiled batch runs in chunks of it, the last one padded)."""
    if sequences > batch:
        return 1, math.ceil(sequences / batch)
    return batch // sequences, 1


def _run_open(
    m: ServiceModel,
    share: dict[int, float],
    arrive: np.ndarray,
    slots: int,
    runs: int,
    delay_s: float,
    seed: int,
) -> tuple[Served, _Run]:
    n_stages = len(m.copies[0])
    jitter = _jitter(np.random.default_rng(seed), m.jitter_sigma, (len(arrive), n_stages + 1))
    memory_s, busy_s = _memory_s(m, share), _busy_s(m, share)
    base = [
        [(b + m.stage_overhead_s + s.link_s) * runs for s, b in zip(cp, busy_s[i], strict=True)]
        for i, cp in enumerate(m.copies)
    ]
    served = serve(
        arrive.tolist(),
        base,
        jitter.tolist(),
        slots=slots,
        delay_s=delay_s,
        host_s=m.host_s * runs,
        host_slots=m.host_slots,
        transfer_s=m.transfer_s * runs,
    )
    used = jitter[: len(served.sizes)]
    busy, streams = _per_core(m, base, memory_s, served.begins, served.which, used)
    run = _Run(served.latencies, arrive, served.completed, busy, streams, served.host_busy)
    return served, run


def simulate_open(
    m: ServiceModel,
    batch: int,
    *,
    qps: float,
    max_batch_delay_s: float = 0.0,
    sequences_per_request: int = 1,
    requests: int = 2000,
    seed: int = 0,
    share: dict[int, float] | None = None,
) -> SimResult:
    """Poisson arrivals of ``requests`` requests (of ``sequences_per_request`` sequences) at
    ``qps`` per second, batched by the copies of ``m`` (compiled for ``batch`` sequences).
    ``share``: each core's memory slowdown (default: the average at the load ``qps`` makes)."""
    slots, runs = _chunks(batch, sequences_per_request)
    delay = max_batch_delay_s if slots > 1 else 0.0
    arrive = poisson_arrivals(qps, requests, seed)
    if share is None:
        share = _shares_at(m, _utilization(m, qps, slots, runs))
    served, run = _run_open(m, share, arrive, slots, runs, delay, seed)
    return _summarise_open(m, share, served, run, qps, sequences_per_request, seed)


def _summarise_open(
    m: ServiceModel,
    share: dict[int, float],
    served: Served,
    run: _Run,
    qps: float,
    sequences: int,
    seed: int,
) -> SimResult:
    from autotune.emulator._simulator import _bottleneck

    n = len(served.latencies)
    lo = n // 10 if n >= 50 else 0  # the first tenth warms the queues up
    lat = served.latencies[lo:]
    done = np.sort(served.completed[lo:])
    # Delivered rate over the measured completions (at saturation, not the arrival rate).
    span = float(done[-1] - done[0])
    elapsed = float(served.completed.max())
    util = [min(1.0, run.core_busy.get(c, 0.0) / elapsed) for c in range(m.cores)]
    host_util = run.host_busy / (elapsed * m.host_slots)
    stages = _stage_timings(m, share, util)
    kind, detail = _bottleneck(m, stages, host_util, 0, offered=qps)
    return SimResult(
        throughput=sequences * (len(lat) - 1) / span if span > 0 else sequences * qps,
        latency_s=Latency(
            p50=float(np.percentile(lat, 50)),
            p95=float(np.percentile(lat, 95)),
            p99=float(np.percentile(lat, 99)),
            mean=float(lat.mean()),
        ),
        concurrency=0,
        requests=n,
        seed=seed,
        core_utilization=tuple(util),
        host_utilization=host_util,
        stages=stages,
        bottleneck=kind,
        bottleneck_detail=detail,
        offered_qps=qps,
        mean_batch=float(served.sizes.mean()),
    )


def saturation(
    m: ServiceModel,
    batch: int,
    *,
    max_batch_delay_s: float = 0.0,
    sequences_per_request: int = 1,
    requests: int = 1000,
    seed: int = 0,
) -> float:
    """Sequences per second the copies of ``m`` deliver when requests arrive faster than they
    can take them (every batch full): offered twice what the fastest stage could serve with no
    contention, the delivered rate is what the fleet is sized by."""
    slots, runs = _chunks(batch, sequences_per_request)
    fastest = min(
        max(s.busy_s(m.core_bandwidth) + m.stage_overhead_s + s.link_s for s in copy)
        for copy in m.copies
    )
    bound = len(m.copies) * slots / (fastest * runs)
    n = max(requests, 8 * slots * len(m.copies))  # a few full batches per copy past warm-up
    run = simulate_open(
        m,
        batch,
        qps=2 * bound,
        max_batch_delay_s=max_batch_delay_s,
        sequences_per_request=sequences_per_request,
        requests=n,
        seed=seed,
        share=_shares_at(m, 1.0),
    )
    return run.throughput


def _shares_at(m: ServiceModel, utilization: float) -> dict[int, float]:
    """Each core's memory slowdown when every copy runs at ``utilization`` of its pace (its
    slowest stage): a stage streams for its share of its service, so a core pays for the
    streaming of its domain's other cores in proportion to how much of the time they stream.
    The closed loop finds this by iterating simulated runs; open loop takes the average, which
    needs no run (arrivals are random, so streaming overlaps by chance, not in lockstep)."""
    domain_of = m.domain_of()
    cores_in = Counter(domain_of.values())
    share = {c: float(cores_in[domain_of[c]]) for c in domain_of}
    memory_bytes = {s.core: s.memory_bytes for copy in m.copies for s in copy}
    for _ in range(5):  # the map is monotone and settles within a few rounds
        streaming: dict[int, float] = {}
        for copy in m.copies:
            bandwidth = [m.bandwidth(share[s.core]) for s in copy]
            cycle = [
                s.busy_s(bw) + m.stage_overhead_s for s, bw in zip(copy, bandwidth, strict=True)
            ]
            pace = max(cycle)
            for s, service, bw in zip(copy, cycle, bandwidth, strict=True):
                streaming[s.core] = utilization * min(memory_bytes[s.core] / bw, service) / pace
        total = dict.fromkeys(domain_of.values(), 0.0)
        for c, f in streaming.items():
            total[domain_of[c]] += f
        share = {c: 1.0 + total[domain_of[c]] - streaming[c] for c in domain_of}
    return share


def _utilization(m: ServiceModel, qps: float, slots: int, runs: int) -> float:
    """How busy ``qps`` makes the copies, against what they carry flat out (full batches)."""
    share = _shares_at(m, 1.0)
    per_copy = [
        slots / (runs * max(s.busy_s(m.bandwidth(share[s.core])) + m.stage_overhead_s for s in cp))
        for cp in m.copies
    ]
    return min(1.0, qps / sum(per_copy))

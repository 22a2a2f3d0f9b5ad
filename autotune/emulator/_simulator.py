"""Timing simulator: closed-loop clients driving the model copies of a deployment.

The same for every hardware generation: it runs the ``ServiceModel`` the generation built.
Each client sends its next request when the previous one returns. A request spends host time on
one of the instance's vCPUs, crosses the host link, then walks its copy's stages in order; each
stage is a FIFO server on one core (a copy's requests never overtake each other), so the walk is
the tandem-queue recursion ``done = max(arrival, stage_free) + service``. Clients are served in
time order from a heap, which makes the whole run one ``heapq`` loop.

A stage's service is the sum over its phases of ``max(compute, memory traffic / bandwidth)``
plus overhead: within a phase engines and DMA overlap. A memory domain's bandwidth (a chip's
DRAM) is shared by its cores in proportion to how much each streams, and one core never moves
more than its own DMA limit; the share depends on the load it produces, so it is found by a
short fixed-point iteration.
Every service time carries log-normal jitter from the seeded generator: p95 comes from that
jitter and from queueing, never from a constant factor.

Length: just over 300 lines, the loop with the state it updates and its summary; split
further, the loop would read across files.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from autotune.emulator._contention import Streams, shares
from autotune.hardware import Server, ServiceModel

_FIXED_POINT_ROUNDS = 4
_FIXED_POINT_REQUESTS = 400


@dataclass(frozen=True)
class Latency:
    p50: float
    p95: float
    p99: float
    mean: float


@dataclass(frozen=True)
class StageTiming:
    """Service time parts of stage ``index`` (averaged over copies), and how busy it was.

    ``service_s`` is less than the sum of the parts: DMA and engines overlap within a phase.
    """

    index: int
    service_s: float
    compute_s: float
    dram_s: float
    link_s: float
    overhead_s: float
    busy_fraction: float


@dataclass(frozen=True)
class SimResult:
    """What a run of a deployment measured (closed loop, or open loop at ``offered_qps``)."""

    throughput: float  # sequences per second
    latency_s: Latency
    concurrency: int
    requests: int
    seed: int
    core_utilization: tuple[float, ...]  # every core of the instance, idle ones at 0
    host_utilization: float
    stages: tuple[StageTiming, ...]
    bottleneck: str
    bottleneck_detail: str
    offered_qps: float | None = None  # open loop: the arrival rate (requests per second)
    mean_batch: float | None = None  # open loop: requests per batch the copies ran


def _jitter(rng: np.random.Generator, sigma: float, shape: tuple[int, int]) -> np.ndarray:
    return rng.lognormal(-sigma * sigma / 2, sigma, size=shape) if sigma > 0 else np.ones(shape)


@dataclass
class _Run:
    latencies: np.ndarray
    issued: np.ndarray
    completed: np.ndarray
    core_busy: dict[int, float]
    streams: Streams
    host_busy: float


def _memory_s(m: ServiceModel, share: dict[int, float]) -> list[list[float]]:
    """Per copy and stage: seconds of memory traffic under the current bandwidth shares."""
    return [[s.memory_bytes / m.bandwidth(share[s.core]) for s in copy] for copy in m.copies]


def _busy_s(m: ServiceModel, share: dict[int, float]) -> list[list[float]]:
    """Per copy and stage: engine and DMA time under the current bandwidth shares."""
    return [[s.busy_s(m.bandwidth(share[s.core])) for s in copy] for copy in m.copies]


def _host_stretch(m: ServiceModel, concurrency: int) -> float:
    """How much slower host work runs when its busy threads outnumber the host's cores."""
    if not m.host_cores:
        return 1.0
    busy = min(concurrency, m.workers or concurrency) + m.runtime_threads
    return max(1.0, busy / m.host_cores)


def _run(
    m: ServiceModel,
    share: dict[int, float],
    concurrency: int,
    requests: int,
    seed: int,
) -> _Run:
    copies = m.copies
    overhead, pcie = m.stage_overhead_s, m.transfer_s
    host_s = m.host_s * _host_stretch(m, concurrency)
    n_stages = len(copies[0])
    rng = np.random.default_rng(seed)
    jitter = _jitter(rng, m.jitter_sigma, (requests, n_stages + 1))
    jit = jitter.tolist()

    # Per copy and stage: base service, and the fraction of it spent streaming.
    memory_s, busy_s = _memory_s(m, share), _busy_s(m, share)
    base = [
        [b + overhead + s.link_s for s, b in zip(cp, busy_s[i], strict=True)]
        for i, cp in enumerate(copies)
    ]
    free = [[0.0] * n_stages for _ in copies]
    hosts = [0.0] * m.host_slots
    # A worker thread holds a request from its host work to its completion.
    workers = [0.0] * (m.workers or concurrency)
    clients = [(0.0, i) for i in range(concurrency)]
    latencies, issued, completed = [0.0] * requests, [0.0] * requests, [0.0] * requests
    begins = [[0.0] * n_stages for _ in range(requests)]
    which = [0] * requests
    one_copy = len(copies) == 1
    for r in range(requests):
        t, client = heapq.heappop(clients)
        j = jit[r]
        start = max(t, heapq.heappop(workers), heapq.heappop(hosts))
        arrival = start + host_s * j[n_stages]
        heapq.heappush(hosts, arrival)
        arrival += pcie
        c = 0 if one_copy else min(range(len(copies)), key=lambda i: free[i][0])
        row, svc, began = free[c], base[c], begins[r]
        for k in range(n_stages):
            if row[k] > arrival:
                arrival = row[k]
            began[k] = arrival
            arrival += svc[k] * j[k]
            row[k] = arrival
        heapq.heappush(workers, arrival)
        which[r] = c
        latencies[r] = arrival - t
        issued[r] = t
        completed[r] = arrival
        heapq.heappush(clients, (arrival, client))
    return _Run(
        np.asarray(latencies),
        np.asarray(issued),
        np.asarray(completed),
        *_per_core(m, base, memory_s, np.asarray(begins), np.asarray(which), jitter),
        host_busy=host_s * float(jitter[:, n_stages].sum()),
    )


def _per_core(
    m: ServiceModel,
    base: list[list[float]],
    memory_s: list[list[float]],
    begins: np.ndarray,
    which: np.ndarray,
    jitter: np.ndarray,
) -> tuple[dict[int, float], Streams]:
    """How long each core was busy, and when it served (and so streamed)."""
    busy: dict[int, float] = {}
    streams: Streams = {}
    for c, copy in enumerate(m.copies):
        mine = which == c
        for k, server in enumerate(copy):
            services = base[c][k] * jitter[mine, k]
            busy[server.core] = busy.get(server.core, 0.0) + float(services.sum())
            if memory_s[c][k] > 0:
                start = begins[mine, k]
                streams[server.core] = (start, start + services, memory_s[c][k] / base[c][k])
    return busy, streams


def _window(run: _Run, concurrency: int) -> tuple[np.ndarray, float]:
    """Requests measured in steady state (warm-up and drain excluded) and the window length.

    Too short a run has no steady state: then every request counts, from time zero.
    """
    n = len(run.completed)
    order = np.argsort(run.completed, kind="stable")
    lo = n // 10 + concurrency
    hi = n - concurrency
    if hi - lo < max(concurrency, 10):
        return order, float(run.completed.max())
    span = float(run.completed[order[hi - 1]] - run.completed[order[lo - 1]])
    return order[lo:hi], span


def simulate(
    m: ServiceModel, batch: int, *, concurrency: int, requests: int = 2000, seed: int = 0
) -> SimResult:
    """Run ``requests`` closed-loop requests (of ``batch`` sequences) from ``concurrency``
    clients against the service model ``m``."""
    domain_of = m.domain_of()
    loaded = list(domain_of)
    share = {c: float(sum(1 for o in loaded if domain_of[o] == domain_of[c])) for c in loaded}
    probe = min(requests, max(_FIXED_POINT_REQUESTS, 20 * concurrency))
    for _ in range(_FIXED_POINT_ROUNDS if m.shares_memory else 0):
        run = _run(m, share, concurrency, probe, seed)
        new = shares(domain_of, run.streams)
        # More contention makes streaming longer and so more contended: the map is monotone,
        # and iterating it from "every core streams at once" descends to its fixed point.
        settled = all(abs(new[c] - share[c]) < 1e-3 * share[c] for c in share)
        share = new
        if settled:
            break
    run = _run(m, share, concurrency, requests, seed)
    return _summarise(m, batch, share, run, concurrency, requests, seed)


def _summarise(
    m: ServiceModel,
    batch: int,
    share: dict[int, float],
    run: _Run,
    concurrency: int,
    requests: int,
    seed: int,
) -> SimResult:
    chosen, span = _window(run, concurrency)
    lat = run.latencies[chosen]
    elapsed = float(run.completed.max())
    util = [min(1.0, run.core_busy.get(c, 0.0) / elapsed) for c in range(m.cores)]
    host_util = run.host_busy / (elapsed * m.host_slots)
    stages = _stage_timings(m, share, util)
    kind, detail = _bottleneck(m, stages, host_util, concurrency)
    return SimResult(
        throughput=batch * len(chosen) / span,
        latency_s=Latency(
            p50=float(np.percentile(lat, 50)),
            p95=float(np.percentile(lat, 95)),
            p99=float(np.percentile(lat, 99)),
            mean=float(lat.mean()),
        ),
        concurrency=concurrency,
        requests=requests,
        seed=seed,
        core_utilization=tuple(util),
        host_utilization=host_util,
        stages=stages,
        bottleneck=kind,
        bottleneck_detail=detail,
    )


def _stage_timings(
    m: ServiceModel, share: dict[int, float], util: list[float]
) -> tuple[StageTiming, ...]:
    out = []
    n = len(m.copies)
    for k in range(len(m.copies[0])):
        servers: list[Server] = [copy[k] for copy in m.copies]
        busy = sum(s.busy_s(m.bandwidth(share[s.core])) + s.link_s for s in servers) / n
        out.append(
            StageTiming(
                index=k,
                service_s=busy + m.stage_overhead_s,
                compute_s=sum(s.compute_s for s in servers) / n,
                dram_s=sum(s.memory_bytes / m.bandwidth(share[s.core]) for s in servers) / n,
                link_s=sum(s.link_s for s in servers) / n,
                overhead_s=m.stage_overhead_s,
                busy_fraction=sum(util[s.core] for s in servers) / n,
            )
        )
    return tuple(out)


def _bottleneck(
    m: ServiceModel,
    stages: tuple[StageTiming, ...],
    host_util: float,
    concurrency: int,
    offered: float | None = None,
) -> tuple[str, str]:
    worst = max(stages, key=lambda s: s.busy_fraction)
    if host_util >= worst.busy_fraction and host_util > 0.8:
        return "host", f"the host's {m.host_slots} vCPUs are {host_util:.0%} busy"
    where = m.stage_names[worst.index]
    if worst.busy_fraction < 0.8 and offered is not None:
        return "traffic", (
            f"at {offered:.4g} requests/s the busiest unit ({where}) is only "
            f"{worst.busy_fraction:.0%} busy: the deployment has headroom"
        )
    if worst.busy_fraction < 0.8:
        return "concurrency", (
            f"{concurrency} clients keep the busiest unit ({where}) only "
            f"{worst.busy_fraction:.0%} busy; more clients would raise throughput"
        )
    parts = {"compute": worst.compute_s, "dram-bandwidth": worst.dram_s, "link": worst.link_s}
    kind = max(parts, key=lambda key: parts[key])
    what = {
        "compute": "engine time",
        "dram-bandwidth": "traffic to the shared device memory",
        "link": "sending activations to the next chip",
    }[kind]
    return kind, (
        f"{where} is {worst.busy_fraction:.0%} busy and its service time "
        f"({worst.service_s * 1e3:.3f} ms) is dominated by {what}"
    )

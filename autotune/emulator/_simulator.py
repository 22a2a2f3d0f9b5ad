"""Timing simulator: closed-loop clients driving the model copies of a deployment.

The same for every hardware generation: it runs the ``ServiceModel`` the generation built.
Each client sends its next request when the previous one returns. A request spends host time on
one of the instance's vCPUs, crosses the host link, then walks its copy's stages in order; each
stage is a FIFO server on one core (a copy's requests never overtake each other), so the walk is
the tandem-queue recursion ``done = max(arrival, stage_free) + service``. Clients are served in
time order from a heap, which makes the whole run one ``heapq`` loop.

A stage's service is ``max(compute, memory traffic / bandwidth share) + overhead``: engines and
DMA overlap. A memory domain's bandwidth (a chip's DRAM) is shared by its cores in proportion to
how much each streams; that share depends on the load it produces, so it is found by a short
fixed-point iteration.
Every service time carries log-normal jitter from the seeded generator: p95 comes from that
jitter and from queueing, never from a constant factor.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

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
    """Service time parts of stage ``index`` (averaged over copies), and how busy it was."""

    index: int
    compute_s: float
    dram_s: float
    link_s: float
    overhead_s: float
    busy_fraction: float

    @property
    def service_s(self) -> float:
        return max(self.compute_s, self.dram_s) + self.overhead_s + self.link_s


@dataclass(frozen=True)
class SimResult:
    """What a closed-loop run of a deployment measured."""

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


def _jitter(rng: np.random.Generator, sigma: float, shape: tuple[int, int]) -> np.ndarray:
    return rng.lognormal(-sigma * sigma / 2, sigma, size=shape) if sigma > 0 else np.ones(shape)


@dataclass
class _Run:
    latencies: np.ndarray
    issued: np.ndarray
    completed: np.ndarray
    core_busy: dict[int, float]
    streams: dict[int, list[tuple[float, float]]]  # per core: when it streamed from memory
    host_busy: float


def _memory_s(m: ServiceModel, share: dict[int, float]) -> list[list[float]]:
    """Per copy and stage: seconds of memory traffic under the current bandwidth shares."""
    bandwidth = m.domain_bandwidth
    return [[s.memory_bytes * share[s.core] / bandwidth for s in copy] for copy in m.copies]


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
    record_streams: bool = False,
) -> _Run:
    copies = m.copies
    overhead, pcie = m.stage_overhead_s, m.transfer_s
    host_s = m.host_s * _host_stretch(m, concurrency)
    n_stages = len(copies[0])
    rng = np.random.default_rng(seed)
    jit = _jitter(rng, m.jitter_sigma, (requests, n_stages + 1)).tolist()

    # Per copy and stage: base service and the memory part of it under the current shares.
    memory_s = _memory_s(m, share)
    base = [
        [max(s.compute_s, dr) + overhead + s.link_s for s, dr in zip(cp, memory_s[i], strict=True)]
        for i, cp in enumerate(copies)
    ]
    cores_of = [[s.core for s in cp] for cp in copies]
    free = [[0.0] * n_stages for _ in copies]
    busy = {c: 0.0 for cores in cores_of for c in cores}
    streams: dict[int, list[tuple[float, float]]] = {c: [] for c in busy}
    hosts = [0.0] * m.host_slots
    # A worker thread holds a request from its host work to its completion.
    workers = [0.0] * (m.workers or concurrency)
    host_busy = 0.0
    clients = [(0.0, i) for i in range(concurrency)]
    latencies = np.empty(requests)
    issued = np.empty(requests)
    completed = np.empty(requests)
    for r in range(requests):
        t, client = heapq.heappop(clients)
        j = jit[r]
        start = max(t, heapq.heappop(workers), heapq.heappop(hosts))
        h = host_s * j[n_stages]
        heapq.heappush(hosts, start + h)
        host_busy += h
        arrival = start + h + pcie
        c = min(range(len(copies)), key=lambda i: free[i][0])
        row, svc, cores = free[c], base[c], cores_of[c]
        for k in range(n_stages):
            s = svc[k] * j[k]
            begin = arrival if arrival > row[k] else row[k]
            row[k] = begin + s
            arrival = begin + s
            busy[cores[k]] += s
            if record_streams:
                streams[cores[k]].append((begin, begin + memory_s[c][k] * j[k]))
        heapq.heappush(workers, arrival)
        latencies[r] = arrival - t
        issued[r] = t
        completed[r] = arrival
        heapq.heappush(clients, (arrival, client))
    return _Run(latencies, issued, completed, busy, streams, host_busy)


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


def _shares(domain_of: dict[int, int], run: _Run) -> dict[int, float]:
    """Each core's memory slowdown: one plus how many other cores of its domain stream with it.

    A sweep over the streaming intervals of each domain: a core pays only for the streaming that
    really overlaps its own (a lone request walking a pipeline contends with nobody).
    """
    events: dict[int, list[tuple[float, int, int]]] = {}
    for core, intervals in run.streams.items():
        domain = events.setdefault(domain_of[core], [])
        for start, end in intervals:
            if end > start:
                domain += [(start, 1, core), (end, -1, core)]
    own = dict.fromkeys(run.streams, 0.0)
    overlap = dict.fromkeys(run.streams, 0.0)
    for domain_events in events.values():
        domain_events.sort()
        active: dict[int, int] = {}
        previous = 0.0
        for t, kind, core in domain_events:
            if active and t > previous:
                others = len(active) - 1
                for a in active:
                    own[a] += t - previous
                    overlap[a] += others * (t - previous)
            previous = t
            active[core] = active.get(core, 0) + kind
            if active[core] == 0:
                del active[core]
    return {c: 1.0 + overlap[c] / own[c] if own[c] > 0 else 1.0 for c in own}


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
        run = _run(m, share, concurrency, probe, seed, record_streams=True)
        new = _shares(domain_of, run)
        share = {c: (share[c] + new[c]) / 2 for c in share}
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
        out.append(
            StageTiming(
                index=k,
                compute_s=sum(s.compute_s for s in servers) / n,
                dram_s=sum(s.memory_bytes * share[s.core] for s in servers)
                / m.domain_bandwidth
                / n,
                link_s=sum(s.link_s for s in servers) / n,
                overhead_s=m.stage_overhead_s,
                busy_fraction=sum(util[s.core] for s in servers) / n,
            )
        )
    return tuple(out)


def _bottleneck(
    m: ServiceModel, stages: tuple[StageTiming, ...], host_util: float, concurrency: int
) -> tuple[str, str]:
    worst = max(stages, key=lambda s: s.busy_fraction)
    if host_util >= worst.busy_fraction and host_util > 0.8:
        return "host", f"the host's {m.host_slots} vCPUs are {host_util:.0%} busy"
    where = m.stage_names[worst.index]
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

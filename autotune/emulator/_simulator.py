"""Timing simulator: closed-loop clients driving the model copies of a deployment.

Each client sends its next request when the previous one returns. A request spends host time on
one of the instance's vCPUs, crosses PCIe, then walks its copy's pipeline stages in order; each
stage is a FIFO server on one NeuronCore (a copy's requests never overtake each other), so the
walk is the tandem-queue recursion ``done = max(arrival, stage_free) + service``. Clients are
served in time order from a heap, which makes the whole run one ``heapq`` loop.

A stage's service is ``max(compute, DRAM traffic / bandwidth share) + overhead``: engines and DMA
overlap. The chip's DRAM bandwidth is shared by its cores in proportion to how much each streams;
that share depends on the load it produces, so it is found by a short fixed-point iteration.
Every service time carries log-normal jitter from the seeded generator: p95 comes from that
jitter and from queueing, never from a constant factor.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from autotune.emulator._calibration import Calibration
from autotune.emulator._runtime import Deployment

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


@dataclass
class _Copy:
    cores: tuple[int, ...]
    compute: list[float]
    dram_bytes: list[float]
    link: list[float]  # seconds to hand the activation to the next stage's chip


def _copies(d: Deployment) -> list[_Copy]:
    acc = d.instance.accelerator
    stages = d.plan.stages
    out = []
    for cores in d.copies:
        compute, dram, link = [], [], []
        for k, (stage, core) in enumerate(zip(stages, cores, strict=True)):
            traffic = float(stage.dram_bytes)
            nxt = cores[k + 1] if k + 1 < len(cores) else None
            prev = cores[k - 1] if k > 0 else None
            # On one chip, stages hand activations over through device DRAM (write, then read).
            if prev is not None and d.chip_of(prev) == d.chip_of(core):
                traffic += stage.act_in_bytes
            hop = 0.0
            if nxt is not None:
                if d.chip_of(nxt) == d.chip_of(core):
                    traffic += stage.act_out_bytes
                else:  # NeuronLink chain: one hop per chip between them
                    hops = abs(d.chip_of(nxt) - d.chip_of(core))
                    hop = hops * stage.act_out_bytes / acc.chip_link_bandwidth
            compute.append(stage.compute_s)
            dram.append(traffic if acc.kind == "neuron" else 0.0)
            link.append(hop)
        out.append(_Copy(cores, compute, dram, link))
    return out


def _jitter(rng: np.random.Generator, sigma: float, shape: tuple[int, int]) -> np.ndarray:
    return rng.lognormal(-sigma * sigma / 2, sigma, size=shape) if sigma > 0 else np.ones(shape)


@dataclass
class _Run:
    latencies: np.ndarray
    issued: np.ndarray
    completed: np.ndarray
    core_busy: dict[int, float]
    streams: dict[int, list[tuple[float, float]]]  # per core: when it streamed from DRAM
    host_busy: float


def _run(
    d: Deployment,
    copies: list[_Copy],
    share: dict[int, float],
    cal: Calibration,
    concurrency: int,
    requests: int,
    seed: int,
    record_streams: bool = False,
) -> _Run:
    acc, inst = d.instance.accelerator, d.instance
    neuron = acc.kind == "neuron"
    overhead = cal.neuron.stage_overhead_s if neuron else 0.0
    host_s = cal.neuron.host_overhead_s if neuron else cal.gpu.host_overhead_s
    sigma = cal.neuron.jitter_sigma if neuron else cal.gpu.jitter_sigma
    bandwidth = acc.dram_bandwidth_per_chip * (cal.neuron.dram_efficiency if neuron else 1.0)
    pcie = (d.plan.input_bytes + d.plan.output_bytes) / acc.host_link_bandwidth
    n_stages = len(copies[0].cores)
    rng = np.random.default_rng(seed)
    jit = _jitter(rng, sigma, (requests, n_stages + 1)).tolist()

    # Per copy and stage: base service and the DRAM part of it under the current shares.
    dram_s = [
        [b * share[c] / bandwidth for b, c in zip(cp.dram_bytes, cp.cores, strict=True)]
        for cp in copies
    ]
    base = [
        [
            max(cmp, dr) + overhead + ln
            for cmp, dr, ln in zip(cp.compute, dram_s[i], cp.link, strict=True)
        ]
        for i, cp in enumerate(copies)
    ]
    free = [[0.0] * n_stages for _ in copies]
    busy = {c: 0.0 for cp in copies for c in cp.cores}
    streams: dict[int, list[tuple[float, float]]] = {c: [] for c in busy}
    hosts = [0.0] * max(1, inst.vcpus)
    host_busy = 0.0
    clients = [(0.0, i) for i in range(concurrency)]
    latencies = np.empty(requests)
    issued = np.empty(requests)
    completed = np.empty(requests)
    for r in range(requests):
        t, client = heapq.heappop(clients)
        j = jit[r]
        start = max(t, heapq.heappop(hosts))
        h = host_s * j[n_stages]
        heapq.heappush(hosts, start + h)
        host_busy += h
        arrival = start + h + pcie
        c = min(range(len(copies)), key=lambda i: free[i][0])
        row, svc, cores = free[c], base[c], copies[c].cores
        for k in range(n_stages):
            s = svc[k] * j[k]
            begin = arrival if arrival > row[k] else row[k]
            row[k] = begin + s
            arrival = begin + s
            busy[cores[k]] += s
            if record_streams:
                streams[cores[k]].append((begin, begin + dram_s[c][k] * j[k]))
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


def _shares(d: Deployment, run: _Run) -> dict[int, float]:
    """Each core's DRAM slowdown: one plus how many other cores of its chip stream with it.

    A sweep over the streaming intervals of each chip: a core pays only for the streaming that
    really overlaps its own (a lone request walking a pipeline contends with nobody).
    """
    events: dict[int, list[tuple[float, int, int]]] = {}
    for core, intervals in run.streams.items():
        chip = events.setdefault(d.chip_of(core), [])
        for start, end in intervals:
            if end > start:
                chip += [(start, 1, core), (end, -1, core)]
    own = dict.fromkeys(run.streams, 0.0)
    overlap = dict.fromkeys(run.streams, 0.0)
    for chip_events in events.values():
        chip_events.sort()
        active: dict[int, int] = {}
        previous = 0.0
        for t, kind, core in chip_events:
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


# Simulated requests per run: a million takes about 20 s and already pins p99 down; beyond that
# the per-request arrays only risk the machine's memory.
MAX_REQUESTS = 1_000_000


def simulate(
    d: Deployment, cal: Calibration, *, concurrency: int, requests: int = 2000, seed: int = 0
) -> SimResult:
    """Run ``requests`` closed-loop requests from ``concurrency`` clients against ``d``."""
    copies = _copies(d)
    loaded = [c for cp in copies for c in cp.cores]
    share = {c: float(sum(1 for o in loaded if d.chip_of(o) == d.chip_of(c))) for c in loaded}
    probe = min(requests, max(_FIXED_POINT_REQUESTS, 20 * concurrency))
    for _ in range(_FIXED_POINT_ROUNDS if d.instance.accelerator.kind == "neuron" else 0):
        run = _run(d, copies, share, cal, concurrency, probe, seed, record_streams=True)
        new = _shares(d, run)
        share = {c: (share[c] + new[c]) / 2 for c in share}
    run = _run(d, copies, share, cal, concurrency, requests, seed)
    return _summarise(d, copies, share, cal, run, concurrency, requests, seed)


def _summarise(
    d: Deployment,
    copies: list[_Copy],
    share: dict[int, float],
    cal: Calibration,
    run: _Run,
    concurrency: int,
    requests: int,
    seed: int,
) -> SimResult:
    chosen, span = _window(run, concurrency)
    lat = run.latencies[chosen]
    elapsed = float(run.completed.max())
    batch = d.plan.batch_size
    util = [min(1.0, run.core_busy.get(c, 0.0) / elapsed) for c in range(d.instance.cores)]
    host_util = run.host_busy / (elapsed * max(1, d.instance.vcpus))
    stages = _stage_timings(d, copies, share, cal, util)
    kind, detail = _bottleneck(d, stages, host_util, concurrency)
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
    d: Deployment, copies: list[_Copy], share: dict[int, float], cal: Calibration, util: list[float]
) -> tuple[StageTiming, ...]:
    acc = d.instance.accelerator
    neuron = acc.kind == "neuron"
    bandwidth = acc.dram_bandwidth_per_chip * (cal.neuron.dram_efficiency if neuron else 1.0)
    overhead = cal.neuron.stage_overhead_s if neuron else 0.0
    out = []
    n = len(copies)
    for k in range(len(copies[0].cores)):
        out.append(
            StageTiming(
                index=k,
                compute_s=sum(cp.compute[k] for cp in copies) / n,
                dram_s=sum(cp.dram_bytes[k] * share[cp.cores[k]] for cp in copies) / bandwidth / n,
                link_s=sum(cp.link[k] for cp in copies) / n,
                overhead_s=overhead,
                busy_fraction=sum(util[cp.cores[k]] for cp in copies) / n,
            )
        )
    return tuple(out)


def _bottleneck(
    d: Deployment, stages: tuple[StageTiming, ...], host_util: float, concurrency: int
) -> tuple[str, str]:
    worst = max(stages, key=lambda s: s.busy_fraction)
    if host_util >= worst.busy_fraction and host_util > 0.8:
        return "host", f"the host's {d.instance.vcpus} vCPUs are {host_util:.0%} busy"
    where = "the GPU" if d.instance.is_gpu else f"stage {worst.index}"
    if worst.busy_fraction < 0.8:
        return "concurrency", (
            f"{concurrency} clients keep the busiest unit ({where}) only "
            f"{worst.busy_fraction:.0%} busy; more clients would raise throughput"
        )
    parts = {"compute": worst.compute_s, "dram-bandwidth": worst.dram_s, "link": worst.link_s}
    kind = max(parts, key=lambda key: parts[key])
    what = {
        "compute": "engine time",
        "dram-bandwidth": "traffic to the chip's shared DRAM",
        "link": "sending activations over NeuronLink",
    }[kind]
    return kind, (
        f"{where} is {worst.busy_fraction:.0%} busy and its service time "
        f"({worst.service_s * 1e3:.3f} ms) is dominated by {what}"
    )

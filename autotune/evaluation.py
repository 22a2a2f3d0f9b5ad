"""Deployment evaluation: compile (through the cache), place, simulate, price. ``autotune bench``.

The one place where an ``Experiment`` becomes an ``Evaluation``; the study, validation and the
command line all come through here.
"""

from __future__ import annotations

import dataclasses
import math

from autotune.catalog import get_instance, price_per_hour
from autotune.emulator import (
    CompileCache,
    CompileResult,
    SimResult,
    bisect_capacity,
    compile_model,
    default_concurrency,
    open_saturation,
    place,
    run_load,
    run_open,
)
from autotune.errors import InputError
from autotune.hardware import Placement, Plan, generation_of, uncertainty_of
from autotune.models import resolve_model
from autotune.values import (
    ARRIVALS,
    MAX_REQUESTS,
    Cost,
    Deployment,
    Evaluation,
    Experiment,
    Latency,
    Load,
    LoadPoint,
    Provenance,
    Result,
    StageResult,
)


def check_load(load: Load) -> None:
    if load.concurrency is not None and load.concurrency < 1:
        raise InputError(f"concurrency {load.concurrency} must be at least 1")
    if load.seed < 0:
        raise InputError(f"seed {load.seed} must be a non-negative integer")
    if not 1 <= load.requests <= MAX_REQUESTS:
        raise InputError(f"requests {load.requests} is out of range; accepted: 1 to {MAX_REQUESTS}")
    if load.qps is not None and not 0 < load.qps < 1e9:
        raise InputError(f"qps {load.qps} must be a positive number of requests per second")
    if load.arrival not in ARRIVALS:
        raise InputError(
            f"arrival {load.arrival!r} is not accepted; accepted: {', '.join(ARRIVALS)}"
        )
    if not 1 <= load.sequences_per_request <= 1024:
        raise InputError(
            f"sequences per request {load.sequences_per_request} is out of range; "
            "accepted: 1 to 1024"
        )
    if not 0 <= load.max_batch_delay_ms <= 10_000:
        raise InputError(
            f"max batch delay {load.max_batch_delay_ms} ms is out of range; accepted: 0 to 10000"
        )
    if load.max_utilization is not None and not 0 < load.max_utilization <= 1:
        raise InputError(
            f"max utilization {load.max_utilization} is out of range; accepted: above 0, up to 1"
        )


@dataclasses.dataclass(frozen=True)
class _Deployed:
    """An experiment compiled and placed: everything a run of it needs."""

    experiment: Experiment
    deployment: Deployment
    placement: Placement
    compiled: CompileResult
    price: float


def _deploy(experiment: Experiment, cache: CompileCache | None) -> _Deployed:
    workload = experiment.workload
    instance = get_instance(experiment.deployment.instance_type)
    price = price_per_hour(instance.name, experiment.price_set)
    deployment = generation_of(instance).resolve(instance, experiment.deployment)
    check_load(experiment.load)
    source = resolve_model(workload.model, workload.task)
    compiled = compile_model(source, workload, instance, deployment, cache)
    return _Deployed(
        experiment, deployment, place(compiled.plan, instance, deployment), compiled, price
    )


def evaluate(experiment: Experiment, cache: CompileCache | None = None) -> Evaluation:
    """Compile, place and simulate ``experiment``; every bad value raises ``InputError``."""
    d = _deploy(experiment, cache)
    load, placement, price = experiment.load, d.placement, d.price
    if load.open_loop:
        saturation = saturation_throughput(placement, load)
        sim, fleet = _open_loop(placement, load, saturation)
        traffic = (load.qps or 0.0) * load.sequences_per_request
        carried = min(traffic, (fleet or 1) * saturation)
        per_1m = (fleet or 1) * price / (carried * 3600) * 1e6
        return _evaluation(d, sim, Cost(experiment.price_set, price, per_1m, fleet), saturation)
    concurrency = load.concurrency or default_concurrency(placement)
    requests = max(load.requests, concurrency)
    sim = run_load(placement, concurrency=concurrency, requests=requests, seed=load.seed)
    cost = Cost(experiment.price_set, price, price / (sim.throughput * 3600) * 1e6)
    return _evaluation(d, sim, cost, None)


def _evaluation(d: _Deployed, sim: SimResult, cost: Cost, saturation: float | None) -> Evaluation:
    placement, plan = d.placement, d.compiled.plan
    generation = generation_of(placement.instance)
    settings = generation.settings(placement)
    stack = settings.get("stack")
    regime = f"{generation.name}:{stack}" if stack else generation.name
    clients = sim.concurrency or default_concurrency(placement)
    result = dataclasses.replace(_result(sim, plan, placement), saturation_throughput=saturation)
    return Evaluation(
        workload=d.experiment.workload,
        deployment=d.deployment,
        load=d.experiment.load,
        result=result,
        cost=cost,
        provenance=Provenance(
            plan.key, plan.emulator_version, d.compiled.seconds, d.compiled.cached
        ),
        settings=settings,
        uncertainty=uncertainty_of(
            regime, d.experiment.workload.batch_size, clients, len(placement.copies)
        ),
    )


def saturation_throughput(placement: Placement, load: Load) -> float:
    """Sequences per second the deployment delivers when more arrives than it can take (every
    batch full): what the fleet is sized by."""
    return open_saturation(
        placement,
        max_batch_delay_ms=load.max_batch_delay_ms,
        sequences_per_request=load.sequences_per_request,
        seed=load.seed,
    )


# Shares of the saturation throughput a latency-against-load curve is measured at.
CURVE_LOAD = (0.05, 0.2, 0.35, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)


def load_curve(experiment: Experiment, cache: CompileCache | None = None) -> tuple[LoadPoint, ...]:
    """p50/p95/p99 of one instance from light load to saturation (open loop, the experiment's
    batching), at ``CURVE_LOAD`` shares of its saturation throughput."""
    load = dataclasses.replace(
        experiment.load, qps=experiment.load.qps or 1.0, max_utilization=None
    )
    d = _deploy(dataclasses.replace(experiment, load=load), cache)
    saturation = saturation_throughput(d.placement, load) / load.sequences_per_request
    points = []
    for share in CURVE_LOAD:
        sim, _ = _open_loop(d.placement, dataclasses.replace(load, qps=share * saturation), 0.0)
        lat = sim.latency_s
        points.append(
            LoadPoint(share * saturation, share, lat.p50 * 1e3, lat.p95 * 1e3, lat.p99 * 1e3)
        )
    return tuple(points)


def fleet_for(traffic: float, saturation: float, max_utilization: float) -> int:
    """Instances that carry ``traffic`` sequences/s with each at most ``max_utilization`` busy."""
    return max(1, math.ceil(traffic / (max_utilization * saturation) - 1e-9))


def _open_loop(placement: Placement, load: Load, saturation: float) -> tuple[SimResult, int | None]:
    """The open-loop run at one instance's share of the traffic, and the fleet."""
    qps = load.qps or 0.0
    fleet = None
    if load.max_utilization is not None:
        fleet = fleet_for(qps * load.sequences_per_request, saturation, load.max_utilization)
    sim = run_open(
        placement,
        qps=qps / (fleet or 1),
        max_batch_delay_ms=load.max_batch_delay_ms,
        sequences_per_request=load.sequences_per_request,
        requests=load.requests,
        seed=load.seed,
    )
    return sim, fleet


def capacity(
    experiment: Experiment, max_p95_ms: float, cache: CompileCache | None = None
) -> Evaluation:
    """One instance at its capacity under the SLO: the largest open-loop rate (requests/s)
    whose p95 is at most ``max_p95_ms`` (``result.capacity_qps``; 0 if no rate meets it), with
    the latency measured there."""
    if not max_p95_ms > 0:
        raise InputError(f"max p95 {max_p95_ms} ms must be positive")
    load = dataclasses.replace(
        experiment.load, qps=experiment.load.qps or 1.0, max_utilization=None
    )
    d = _deploy(dataclasses.replace(experiment, load=load), cache)
    saturation = saturation_throughput(d.placement, load)
    runs: dict[float, SimResult] = {}

    def p95_at(qps: float) -> float:
        runs[qps] = _open_loop(d.placement, dataclasses.replace(load, qps=qps), saturation)[0]
        return runs[qps].latency_s.p95 * 1e3

    found = bisect_capacity(p95_at, max_p95_ms, saturation / load.sequences_per_request)
    at = found if found > 0 else min(runs)
    sim = runs[at]
    at_load = dataclasses.replace(load, qps=at)
    cost = Cost(experiment.price_set, d.price, d.price / (max(sim.throughput, 1e-9) * 3600) * 1e6)
    ev = _evaluation(
        dataclasses.replace(d, experiment=dataclasses.replace(experiment, load=at_load)),
        sim,
        cost,
        saturation,
    )
    return dataclasses.replace(ev, result=dataclasses.replace(ev.result, capacity_qps=found))


def _result(sim: SimResult, plan: Plan, placement: Placement) -> Result:
    lat = sim.latency_s
    return Result(
        throughput=sim.throughput,
        latency=Latency(lat.p50 * 1e3, lat.p95 * 1e3, lat.p99 * 1e3, lat.mean * 1e3),
        concurrency=sim.concurrency,
        requests=sim.requests,
        mode=placement.mode,
        bottleneck=sim.bottleneck,
        bottleneck_detail=sim.bottleneck_detail,
        core_utilization=sim.core_utilization,
        host_utilization=sim.host_utilization,
        stages=tuple(
            StageResult(
                index=s.index,
                n_ops=s.n_ops,
                tensor_flops=s.tensor_flops,
                vector_flops=s.vector_flops,
                scalar_flops=s.scalar_flops,
                weight_bytes=s.weight_bytes,
                resident_bytes=s.resident_bytes,
                streamed_bytes=s.streamed_bytes,
                estimated_s=s.estimated_s,
                service_s=t.service_s,
                compute_s=t.compute_s,
                dram_s=t.dram_s,
                link_s=t.link_s,
                busy_fraction=t.busy_fraction,
            )
            for s, t in zip(plan.stages, sim.stages, strict=True)
        ),
        copy_cores=placement.copies,
        offered_qps=sim.offered_qps,
        mean_batch=sim.mean_batch,
    )

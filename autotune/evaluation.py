"""Deployment evaluation: compile (through the cache), place, simulate, price. ``autotune bench``.

The one place where an ``Experiment`` becomes an ``Evaluation``; the study, validation and the
command line all come through here.
"""

from __future__ import annotations

from autotune.catalog import get_instance, price_per_hour
from autotune.emulator import (
    CompileCache,
    SimResult,
    compile_model,
    default_concurrency,
    place,
    run_load,
)
from autotune.errors import InputError
from autotune.hardware import Placement, Plan, generation_of, uncertainty_of
from autotune.models import resolve_model
from autotune.values import (
    MAX_REQUESTS,
    Cost,
    Evaluation,
    Experiment,
    Latency,
    Load,
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


def evaluate(experiment: Experiment, cache: CompileCache | None = None) -> Evaluation:
    """Compile, place and simulate ``experiment``; every bad value raises ``InputError``."""
    workload, load = experiment.workload, experiment.load
    instance = get_instance(experiment.deployment.instance_type)
    price = price_per_hour(instance.name, experiment.price_set)
    generation = generation_of(instance)
    deployment = generation.resolve(instance, experiment.deployment)
    check_load(load)
    source = resolve_model(workload.model, workload.task)
    compiled = compile_model(source, workload, instance, deployment, cache)
    placement = place(compiled.plan, instance, deployment)
    concurrency = load.concurrency or default_concurrency(placement)
    requests = max(load.requests, concurrency)
    sim = run_load(placement, concurrency=concurrency, requests=requests, seed=load.seed)
    plan = compiled.plan
    settings = generation.settings(placement)
    stack = settings.get("stack")
    regime = f"{generation.name}:{stack}" if stack else generation.name
    copies = len(placement.copies)
    return Evaluation(
        workload=workload,
        deployment=deployment,
        load=load,
        result=_result(sim, plan, placement),
        cost=Cost(experiment.price_set, price, price / (sim.throughput * 3600) * 1e6),
        provenance=Provenance(plan.key, plan.emulator_version, compiled.seconds, compiled.cached),
        settings=settings,
        uncertainty=uncertainty_of(regime, workload.batch_size, concurrency, copies),
    )


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
    )

"""The emulator's figure for a measurement under any calibration: what validation and the fit
share. Graph summaries come from the compile cache (captured once per shape, kept on disk);
plans are compiled afresh, since the partition depends on the constants being tried."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from autotune.catalog import get_instance
from autotune.emulator import (
    CompileCache,
    SimResult,
    capture_summary,
    compile_graph,
    default_concurrency,
    place,
    run_load,
)
from autotune.hardware import Calibration, generation_of
from autotune.models import ModelSource, resolve_model
from autotune.reference._measurements import Measurement
from autotune.values import Experiment


def simulate_experiment(
    experiment: Experiment, calibration: Calibration, cache: CompileCache, requests: int
) -> tuple[SimResult, int]:
    """Compile (from the cached graph), place and simulate ``experiment`` with ``calibration``;
    the result and the deployment's number of model copies."""
    w = experiment.workload
    instance = get_instance(experiment.deployment.instance_type)
    deployment = generation_of(instance).resolve(instance, experiment.deployment)
    source = _source(w.model, w.task)
    b, s = w.batch_size, w.seq_len
    graph = cache.graph((source.identity, source.task, b, s), lambda: capture_summary(source, b, s))
    plan = compile_graph(
        graph,
        model=source.name,
        identity=source.identity,
        workload=w,
        instance=instance,
        deployment=deployment,
        calibration=calibration,
        version="reference",
    )
    placement = place(plan, instance, deployment)
    clients = experiment.load.concurrency or default_concurrency(placement)
    sim = run_load(
        placement,
        concurrency=clients,
        requests=max(requests, 20 * clients),
        seed=experiment.load.seed,
        calibration=calibration,
    )
    return sim, len(placement.copies)


@functools.cache
def _source(model: str, task: str) -> ModelSource:
    return resolve_model(model, task)


def value_of(sim: SimResult, metric: str) -> float:
    """The figure ``metric`` names (throughput in sequences/s, latencies in ms)."""
    if metric == "throughput":
        return sim.throughput
    lat = sim.latency_s
    return {"p50_ms": lat.p50, "p95_ms": lat.p95, "mean_ms": lat.mean}[metric] * 1e3


def predict(
    rows: Sequence[Measurement], calibration: Calibration, cache: CompileCache, requests: int
) -> list[float]:
    """The emulator's figure for each measurement (one simulation per distinct experiment)."""
    return [value for value, _ in predict_with_copies(rows, calibration, cache, requests)]


def predict_with_copies(
    rows: Sequence[Measurement], calibration: Calibration, cache: CompileCache, requests: int
) -> list[tuple[float, int]]:
    """Each measurement's figure and the model copies of its deployment."""
    runs: dict[Experiment, tuple[SimResult, int]] = {}
    out = []
    for m in rows:
        if m.experiment not in runs:
            runs[m.experiment] = simulate_experiment(m.experiment, calibration, cache, requests)
        sim, copies = runs[m.experiment]
        out.append((value_of(sim, m.metric), copies))
    return out

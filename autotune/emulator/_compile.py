"""Compile a model for a deployment: through the cache, by the instance's generation."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from autotune.catalog import Accelerator, Instance
from autotune.emulator._cache import CompileCache
from autotune.errors import InputError
from autotune.hardware import (
    Calibration,
    GraphSummary,
    Plan,
    emulator_version,
    generation_of,
    load_calibration,
)
from autotune.models import ModelSource
from autotune.values import MAX_BATCH, Deployment, Knob, Workload


def plan_key(
    identity: str,
    workload: Workload,
    accelerator: Accelerator,
    compile_knobs: tuple[tuple[str, Knob], ...],
    precision: str,
    version: str,
) -> str:
    """Content hash naming a compiled plan; computable without building the model."""
    fields = [
        identity,
        workload.task,
        workload.batch_size,
        workload.seq_len,
        accelerator.generation,
        [list(k) for k in compile_knobs],
        precision,
        accelerator.name,
        version,
    ]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()


def compile_graph(
    graph: GraphSummary,
    *,
    model: str,
    identity: str,
    workload: Workload,
    instance: Instance,
    deployment: Deployment,
    calibration: Calibration,
    version: str,
) -> Plan:
    """The plan of ``graph`` for ``deployment`` on ``instance`` (pure: no cache, no files)."""
    generation = generation_of(instance)
    knobs = generation.compile_knobs(deployment)
    precision = generation.precision(deployment)
    acc = instance.accelerator
    stages = generation.compile(graph, acc, dict(knobs), calibration[generation.name])
    return Plan(
        key=plan_key(identity, workload, acc, knobs, precision, version),
        model=model,
        model_identity=identity,
        task=workload.task,
        batch_size=workload.batch_size,
        seq_len=workload.seq_len,
        generation=generation.name,
        compile_knobs=knobs,
        precision=precision,
        accelerator=acc.name,
        emulator_version=version,
        input_bytes=graph.input_bytes,
        output_bytes=graph.output_bytes,
        stages=stages,
    )


@dataclass(frozen=True)
class CompileResult:
    plan: Plan
    seconds: float
    cached: bool


def check_shape(source: ModelSource, batch: int, seq_len: int) -> None:
    """Batch and sequence length within what the compiler and the model accept."""
    if not 1 <= batch <= MAX_BATCH:
        raise InputError(f"batch size {batch} is out of range; accepted: 1 to {MAX_BATCH}")
    if not 1 <= seq_len <= source.max_seq_len:
        raise InputError(
            f"sequence length {seq_len} is out of range for {source.name}; "
            f"accepted: 1 to {source.max_seq_len}"
        )


def capture_summary(
    source: ModelSource, batch: int, seq_len: int, cache: CompileCache | None = None
) -> GraphSummary:
    """The model's graph summary at this shape, captured on meta tensors (no weights).

    The first batch size of a model and sequence length is captured as it is. When a second one
    is asked for (a study meets several), one capture with a symbolic batch dimension then
    serves every further batch size; a model that cannot be exported so is captured at each.
    """
    from autotune.emulator._graph import capture, summarize
    from autotune.models.build import build_model, example_inputs

    cache = cache or CompileCache.in_memory()
    key = (source.identity, source.task, seq_len)

    def dynamic() -> Any:
        module = build_model(source, meta=True)
        inputs = example_inputs(source, 2, seq_len, meta=True)
        try:
            return capture(module, inputs, dynamic_batch=True)
        except Exception:  # torch.export raises many types for a shape it cannot keep symbolic
            return None

    if cache.first_batch(key, batch):
        module = build_model(source, meta=True)
        return summarize(capture(module, example_inputs(source, batch, seq_len, meta=True)))
    program = cache.program(key, dynamic)
    if program is not None:
        return summarize(program, batch)
    module = build_model(source, meta=True)
    return summarize(capture(module, example_inputs(source, batch, seq_len, meta=True)))


def compile_model(
    source: ModelSource,
    workload: Workload,
    instance: Instance,
    deployment: Deployment,
    cache: CompileCache | None = None,
) -> CompileResult:
    """The plan for ``source`` at the workload's shape on ``instance``, from the cache if there."""
    batch, seq = workload.batch_size, workload.seq_len
    check_shape(source, batch, seq)
    started = time.perf_counter()
    generation = generation_of(instance)
    version = emulator_version()
    key = plan_key(
        source.identity,
        workload,
        instance.accelerator,
        generation.compile_knobs(deployment),
        generation.precision(deployment),
        version,
    )
    cache = cache or CompileCache.in_memory()
    if (plan := cache.get(key)) is not None:
        return CompileResult(plan, time.perf_counter() - started, cached=True)
    shape = (source.identity, source.task, batch, seq)
    graph = cache.graph(shape, lambda: capture_summary(source, batch, seq, cache))
    plan = compile_graph(
        graph,
        model=source.name,
        identity=source.identity,
        workload=workload,
        instance=instance,
        deployment=deployment,
        calibration=load_calibration(),
        version=version,
    )
    cache.put(plan)
    return CompileResult(plan, time.perf_counter() - started, cached=False)

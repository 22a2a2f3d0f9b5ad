"""The one factory of hand-made trial records, shared by every test folder.

``record(number, ...)`` builds a complete, self-consistent ``TrialRecord`` of a NeuronCore-v1
trial (by default: inf1.xlarge, batch 1, four one-core copies) from flat keyword arguments that
land in the nested values (``p95_ms`` in ``result.latency``, ``per_1m_usd`` in ``cost``,
``pipeline_cores`` in the deployment's knobs, ``numeric_error`` in the provenance, ...).
What the generation derives (the mode, the cores of each copy, the export settings) follows the
knobs unless given. ``gpu_record`` is the same for a GPU trial (no knobs), ``pipeline_record``
a pipeline with given stage service times.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from autotune.values import (
    Cost,
    Deployment,
    Evaluation,
    Latency,
    Load,
    Provenance,
    Result,
    StageResult,
    TrialRecord,
    Uncertainty,
    Workload,
)

STAGE = StageResult(
    index=0,
    n_ops=10,
    tensor_flops=2e9,
    weight_bytes=3_000_000,
    resident_bytes=2_000_000,
    streamed_bytes=1_000_000,
    estimated_s=0.0009,
    service_s=0.001,
    compute_s=0.0006,
    dram_s=0.0004,
    link_s=0.0,
    busy_fraction=0.5,
)


def _starts(groups: Sequence[int]) -> list[int]:
    return [sum(groups[:i]) for i in range(len(groups))]


def neuron_mode(pipeline_cores: int, group_sizes: Sequence[int]) -> str:
    """NeuronCore-v1's name for how a deployment uses its cores."""
    if pipeline_cores == 1:
        return "data-parallel"
    return "pipeline" if len(group_sizes) == 1 else "mixed"


def neuron_settings(pipeline_cores: int, group_sizes: Sequence[int]) -> dict[str, Any]:
    """What NeuronCore-v1 writes for the real machine (as ``Generation.settings`` does)."""
    return {
        "generation": "neuroncore-v1",
        "compiler_args": ["--neuroncore-pipeline-cores", str(pipeline_cores)],
        "environment": {"NEURONCORE_GROUP_SIZES": ",".join(map(str, group_sizes))},
        "copies": [
            {"NEURON_RT_VISIBLE_CORES": f"{a}-{a + g - 1}" if g > 1 else str(a)}
            for a, g in zip(_starts(group_sizes), group_sizes, strict=True)
        ],
    }


GPU_SETTINGS: dict[str, Any] = {
    "generation": "gpu",
    "compiler_args": [],
    "environment": {},
    "copies": [{}],
}


def record(
    number: int = 0,
    *,
    study_name: str = "s",
    optuna_trial_id: int | None = None,  # default: number + 1
    # workload
    model: str = "m",
    task: str = "question-answering",
    seq_len: int = 32,
    batch_size: int = 1,
    # deployment: NeuronCore-v1 knobs; with both None, a GPU's (its serving stack, if given)
    instance_type: str = "inf1.xlarge",
    pipeline_cores: int | None = 1,
    group_sizes: tuple[int, ...] | None = (1, 1, 1, 1),
    stack: str | None = None,
    # load
    concurrency: int = 4,
    requests: int = 2000,
    seed: int = 0,
    # result
    throughput: float = 1000.0,
    p50_ms: float = 1.0,
    p95_ms: float = 1.2,
    p99_ms: float = 1.5,
    mean_ms: float = 1.05,
    mode: str | None = None,  # default: what the knobs make it
    bottleneck: str = "compute",
    bottleneck_detail: str = "stage 0 is 99% busy",
    core_utilization: tuple[float, ...] = (0.9, 0.8, 0.7, 0.6),
    host_utilization: float = 0.01,
    stages: tuple[StageResult, ...] = (STAGE,),
    copy_cores: tuple[tuple[int, ...], ...] | None = None,  # default: from the knobs
    # cost
    price_set: str = "on-demand",
    per_hour_usd: float = 0.228,
    per_1m_usd: float = 0.06,
    fleet_size: int | None = None,
    # provenance
    plan_key: str = "k",
    emulator_version: str = "0",
    compile_seconds: float = 0.1,
    compile_cached: bool = False,
    numeric_error: float | None = None,
    settings: Mapping[str, Any] | None = None,  # default: what the knobs make it
    uncertainty: Uncertainty | None = None,
) -> TrialRecord:
    """A record of trial ``number``; every argument lands where the nested values keep it."""
    knobless = pipeline_cores is None and group_sizes is None
    p = pipeline_cores or 1
    groups = group_sizes or (p,)
    if knobless:
        deployment = Deployment.of(instance_type, stack=stack)
        derived_mode, derived_cores = "gpu", ((0,),)
        derived_settings = GPU_SETTINGS if stack is None else GPU_SETTINGS | {"stack": stack}
    else:
        deployment = Deployment.of(instance_type, pipeline_cores=p, group_sizes=groups)
        derived_mode = neuron_mode(p, groups)
        derived_cores = tuple(tuple(range(a, a + p)) for a in _starts(groups))
        derived_settings = neuron_settings(p, groups)
    result = Result(
        throughput=throughput,
        latency=Latency(p50_ms, p95_ms, p99_ms, mean_ms),
        concurrency=concurrency,
        requests=requests,
        mode=derived_mode if mode is None else mode,
        bottleneck=bottleneck,
        bottleneck_detail=bottleneck_detail,
        core_utilization=core_utilization,
        host_utilization=host_utilization,
        stages=stages,
        copy_cores=derived_cores if copy_cores is None else copy_cores,
    )
    evaluation = Evaluation(
        workload=Workload(model, task, seq_len, batch_size),
        deployment=deployment,
        load=Load(concurrency, requests, seed),
        result=result,
        cost=Cost(price_set, per_hour_usd, per_1m_usd, fleet_size),
        provenance=Provenance(
            plan_key, emulator_version, compile_seconds, compile_cached, numeric_error
        ),
        settings=dict(derived_settings if settings is None else settings),
        uncertainty=uncertainty,
    )
    trial_id = number + 1 if optuna_trial_id is None else optuna_trial_id
    return TrialRecord(study_name, trial_id, number, evaluation)


def gpu_record(number: int = 0, **changes: Any) -> TrialRecord:
    """A g4dn.xlarge trial: the blog's serving stack, one copy on the one GPU."""
    gpu: dict[str, Any] = {
        "instance_type": "g4dn.xlarge",
        "pipeline_cores": None,
        "group_sizes": None,
        "stack": "torchscript-amp",
        "concurrency": 1,
        "per_hour_usd": 0.526,
        "core_utilization": (0.9,),
    }
    return record(number, **(gpu | changes))


def pipeline_record(number: int, services_ms: Sequence[float], **changes: Any) -> TrialRecord:
    """A record whose stages (one per pipeline core) take ``services_ms`` each."""
    stages = tuple(StageResult(index=i, service_s=s / 1e3) for i, s in enumerate(services_ms))
    return record(number, **({"pipeline_cores": len(services_ms), "stages": stages} | changes))

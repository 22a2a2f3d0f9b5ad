"""Export of a trial as a deployment: YAML, JSON, shell environment, or a runnable script."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import yaml

from autotune import __version__
from autotune.catalog import get_instance
from autotune.errors import choice_error
from autotune.models import resolve_model
from storage import TrialRecord

FORMATS = ("yaml", "json", "env", "script")


@dataclass(frozen=True)
class DeploymentSpec:
    """Everything needed to reproduce a trial's deployment on a real inf1."""

    instance_type: str
    instance_count: int
    model: str
    task: str
    batch_size: int
    seq_len: int
    pipeline_cores: int
    compiler_args: tuple[str, ...]
    neuroncore_group_sizes: str
    neuron_rt_visible_cores: tuple[str, ...]  # one per model copy (Neuron 1.16 and later)
    concurrency: int
    input_names: tuple[str, ...]
    expected: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)


def visible_cores(group_sizes: tuple[int, ...]) -> tuple[str, ...]:
    """``NEURON_RT_VISIBLE_CORES`` of each copy: its group's contiguous core range."""
    out, start = [], 0
    for size in group_sizes:
        out.append(f"{start}-{start + size - 1}" if size > 1 else str(start))
        start += size
    return tuple(out)


def spec_from_record(record: TrialRecord, study_name: str) -> DeploymentSpec:
    gpu = get_instance(record.instance_type).is_gpu
    return DeploymentSpec(
        instance_type=record.instance_type,
        instance_count=record.fleet_size or 1,
        model=record.model,
        task=record.task,
        batch_size=record.batch_size,
        seq_len=record.seq_len,
        pipeline_cores=record.pipeline_cores,
        compiler_args=() if gpu else ("--neuroncore-pipeline-cores", str(record.pipeline_cores)),
        neuroncore_group_sizes="" if gpu else ",".join(map(str, record.group_sizes)),
        neuron_rt_visible_cores=() if gpu else visible_cores(record.group_sizes),
        concurrency=record.concurrency,
        input_names=("input_ids", "attention_mask")
        + (
            ("token_type_ids",)
            if resolve_model(record.model, record.task).uses_token_type_ids
            else ()
        ),
        expected={
            "throughput_seq_per_s": round(record.throughput, 3),
            "latency_ms": {
                "p50": round(record.latency_p50_ms, 4),
                "p95": round(record.latency_p95_ms, 4),
                "p99": round(record.latency_p99_ms, 4),
            },
            "cost_per_1m_usd": round(record.cost_per_1m_usd, 6),
            "cost_per_hour_usd": record.cost_per_hour_usd,
            "bottleneck": record.bottleneck,
        },
        provenance={
            "study": study_name,
            "trial": record.trial_number,
            "emulator_version": record.emulator_version,
            "price_set": record.price_set,
            "autotune_version": __version__,
            "plan_key": record.plan_key,
        },
    )


def _plain(spec: DeploymentSpec) -> dict[str, Any]:
    raw = asdict(spec)
    raw["compiler_args"] = list(spec.compiler_args)
    raw["neuron_rt_visible_cores"] = list(spec.neuron_rt_visible_cores)
    raw["input_names"] = list(spec.input_names)
    return raw


def _env(spec: DeploymentSpec) -> str:
    lines = [
        f"# autotune deployment: study {spec.provenance['study']!r}, "
        f"trial {spec.provenance['trial']}, emulator {spec.provenance['emulator_version']}",
        f"# {spec.instance_count} x {spec.instance_type}; compile with: "
        f"{' '.join(spec.compiler_args) or '(no Neuron compiler args)'}",
    ]
    values = {
        "AUTOTUNE_INSTANCE_TYPE": spec.instance_type,
        "AUTOTUNE_INSTANCE_COUNT": spec.instance_count,
        "AUTOTUNE_MODEL": spec.model,
        "AUTOTUNE_TASK": spec.task,
        "AUTOTUNE_BATCH_SIZE": spec.batch_size,
        "AUTOTUNE_SEQ_LEN": spec.seq_len,
        "AUTOTUNE_PIPELINE_CORES": spec.pipeline_cores,
        "AUTOTUNE_COMPILER_ARGS": " ".join(spec.compiler_args),
        "AUTOTUNE_CONCURRENCY": spec.concurrency,
        # Neuron SDK before 1.20 reads the group sizes; 1.16 and later read visible cores, one
        # process per copy: the ranges below, in order.
        "NEURONCORE_GROUP_SIZES": spec.neuroncore_group_sizes,
        "AUTOTUNE_NEURON_RT_VISIBLE_CORES": " ".join(spec.neuron_rt_visible_cores),
    }
    lines += [f"export {k}={_shell_quote(str(v))}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def _shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def render(spec: DeploymentSpec, fmt: str) -> str:
    """The deployment in format ``fmt``."""
    if fmt == "yaml":
        return yaml.safe_dump(_plain(spec), sort_keys=False)
    if fmt == "json":
        return json.dumps(_plain(spec), indent=2) + "\n"
    if fmt == "env":
        return _env(spec)
    if fmt == "script":
        from autotune.study._script import SCRIPT

        return SCRIPT.replace("__CONFIG__", json.dumps(_plain(spec), indent=4))
    raise choice_error("export format", fmt, FORMATS)

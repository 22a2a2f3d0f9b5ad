"""Export of a trial as a deployment: YAML, JSON, shell environment, or a runnable script.

Read side: everything comes from the stored record (its generation wrote the ``settings`` the
real machine needs when the trial ran); the script is the generation's template.
"""

from __future__ import annotations

import json
import math
import pprint
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from autotune import __version__
from autotune.errors import choice_error
from autotune.models import resolve_model
from autotune.values import TrialRecord

FORMATS = ("yaml", "json", "env", "script")
_CONFIG_LINE = "CONFIG: dict[str, Any] = {}  # autotune export writes the deployment here"


@dataclass(frozen=True)
class DeploymentSpec:
    """Everything needed to reproduce a trial's deployment on the real machine."""

    instance_type: str
    instance_count: int
    generation: str
    model: str
    task: str
    seq_len: int
    batch_size: int
    knobs: dict[str, Any]  # the generation's deployment settings, by name
    compiler_args: tuple[str, ...]
    environment: dict[str, str]  # for every process of the deployment
    copies: tuple[dict[str, str], ...]  # the environment of each model copy's process
    concurrency: int
    input_names: tuple[str, ...]
    expected: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    # The traffic it was measured at, and the server's batching in the serving stack's terms.
    traffic: dict[str, Any] = field(default_factory=dict)
    batching: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "instance_type": self.instance_type,
            "instance_count": self.instance_count,
            "generation": self.generation,
            "model": self.model,
            "task": self.task,
            "seq_len": self.seq_len,
            "batch_size": self.batch_size,
            "knobs": self.knobs,
            "compiler_args": list(self.compiler_args),
            "environment": self.environment,
            "copies": list(self.copies),
            "concurrency": self.concurrency,
            "input_names": list(self.input_names),
            "traffic": self.traffic,
            "batching": self.batching,
            "expected": self.expected,
            "provenance": self.provenance,
        }


def batching(batch_size: int, max_batch_delay_ms: float) -> dict[str, Any]:
    """Server-side batching as autotune states it and as TorchServe's model config takes it
    (``batchSize``, ``maxBatchDelay`` in whole milliseconds, at least the delay searched)."""
    return {
        "batch_size": batch_size,
        "max_batch_delay_ms": max_batch_delay_ms,
        "torchserve": {"batchSize": batch_size, "maxBatchDelay": math.ceil(max_batch_delay_ms)},
    }


def spec_from_record(record: TrialRecord, study_name: str) -> DeploymentSpec:
    ev, r = record.evaluation, record.result
    settings = ev.settings
    knobs = {k: v for k, v in ev.deployment.to_dict().items() if k != "instance_type"}
    tokens = resolve_model(ev.workload.model, ev.workload.task).uses_token_type_ids
    return DeploymentSpec(
        instance_type=ev.deployment.instance_type,
        instance_count=ev.cost.fleet_size or 1,
        generation=ev.generation,
        model=ev.workload.model,
        task=ev.workload.task,
        seq_len=ev.workload.seq_len,
        batch_size=ev.workload.batch_size,
        knobs=knobs,
        compiler_args=tuple(settings.get("compiler_args", ())),
        environment=dict(settings.get("environment", {})),
        copies=tuple(dict(c) for c in settings.get("copies", ())),
        concurrency=r.concurrency,
        input_names=("input_ids", "attention_mask") + (("token_type_ids",) if tokens else ()),
        traffic=ev.load.traffic(),
        batching=batching(ev.workload.batch_size, ev.load.max_batch_delay_ms),
        expected={
            "throughput_seq_per_s": round(r.throughput, 3),
            "latency_ms": {k: round(v, 4) for k, v in r.latency.to_dict().items() if k != "mean"},
            "cost_per_1m_usd": round(ev.cost.per_1m_usd, 6),
            "cost_per_hour_usd": ev.cost.per_hour_usd,
            "bottleneck": r.bottleneck,
            **({"offered_qps_per_instance": round(r.offered_qps, 3)} if r.offered_qps else {}),
        },
        provenance={
            "study": study_name,
            "trial": record.trial_number,
            "emulator_version": ev.provenance.emulator_version,
            "price_set": ev.cost.price_set,
            "autotune_version": __version__,
            "plan_key": ev.provenance.plan_key,
        },
    )


def _env(spec: DeploymentSpec) -> str:
    p = spec.provenance
    lines = [
        f"# autotune deployment: study {p['study']!r}, trial {p['trial']}, "
        f"emulator {p['emulator_version']}",
        f"# {spec.instance_count} x {spec.instance_type}; compile with: "
        f"{' '.join(spec.compiler_args) or '(no compiler arguments)'}",
    ]
    values: dict[str, object] = {
        "AUTOTUNE_INSTANCE_TYPE": spec.instance_type,
        "AUTOTUNE_INSTANCE_COUNT": spec.instance_count,
        "AUTOTUNE_MODEL": spec.model,
        "AUTOTUNE_TASK": spec.task,
        "AUTOTUNE_BATCH_SIZE": spec.batch_size,
        "AUTOTUNE_SEQ_LEN": spec.seq_len,
        "AUTOTUNE_COMPILER_ARGS": " ".join(spec.compiler_args),
        "AUTOTUNE_CONCURRENCY": spec.concurrency,
        "AUTOTUNE_MAX_BATCH_DELAY_MS": spec.batching.get("max_batch_delay_ms", 0.0),
        **({"AUTOTUNE_QPS": spec.traffic["qps"]} if "qps" in spec.traffic else {}),
        # TorchServe's model config keys (model-config.yaml: batchSize, maxBatchDelay).
        "TS_BATCH_SIZE": spec.batch_size,
        "TS_MAX_BATCH_DELAY": spec.batching.get("torchserve", {}).get("maxBatchDelay", 0),
        **spec.environment,
    }
    # One process per copy, each with its own variables (e.g. NEURON_RT_VISIBLE_CORES): listed
    # in copy order, space-separated.
    for name in dict.fromkeys(k for copy in spec.copies for k in copy):
        values[f"AUTOTUNE_{name}"] = " ".join(copy.get(name, "") for copy in spec.copies)
    lines += [f"export {k}={_shell_quote(str(v))}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def _shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def script_template(generation: str) -> str:
    """The deployment script of a generation, with its ``CONFIG`` line still empty."""
    name = f"{generation.replace('-', '_')}.py"
    return resources.files("autotune.study.templates").joinpath(name).read_text()


def render(spec: DeploymentSpec, fmt: str) -> str:
    """The deployment in format ``fmt``."""
    if fmt == "yaml":
        return yaml.safe_dump(spec.to_dict(), sort_keys=False)
    if fmt == "json":
        return json.dumps(spec.to_dict(), indent=2) + "\n"
    if fmt == "env":
        return _env(spec)
    if fmt == "script":
        config = pprint.pformat(spec.to_dict(), indent=4, sort_dicts=False)  # a Python literal
        return script_template(spec.generation).replace(
            _CONFIG_LINE, f"CONFIG: dict[str, Any] = {config}"
        )
    raise choice_error("export format", fmt, FORMATS)

"""One benchmark: compile (through the cache), deploy, simulate, price. The CLI's ``bench``."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from autotune.catalog import DEFAULT_PRICE_SET, get_instance, price_per_hour
from autotune.emulator import (
    MAX_REQUESTS,
    CompileCache,
    Deployment,
    Plan,
    SimResult,
    compile_model,
    deploy,
    load_calibration,
    simulate,
)
from autotune.errors import InputError
from autotune.models import DEFAULT_MODEL, DEFAULT_TASK, resolve_model


@dataclass(frozen=True)
class BenchConfig:
    """What to run: the deployment knobs and the load."""

    instance_type: str = "inf1.xlarge"
    batch_size: int = 1
    pipeline_cores: int = 1
    group_sizes: tuple[int, ...] | None = None
    model: str = DEFAULT_MODEL
    task: str = DEFAULT_TASK
    seq_len: int = 128
    concurrency: int | None = None
    requests: int = 2000
    seed: int = 0
    price_set: str = DEFAULT_PRICE_SET


@dataclass(frozen=True)
class BenchReport:
    config: BenchConfig
    deployment: Deployment
    result: SimResult
    compile_seconds: float
    compile_cached: bool
    cost_per_hour_usd: float

    @property
    def plan(self) -> Plan:
        return self.deployment.plan

    @property
    def cost_per_1m_usd(self) -> float:
        return self.cost_per_hour_usd / (self.result.throughput * 3600) * 1e6

    def to_dict(self) -> dict[str, object]:
        """The ``--json`` contract of ``autotune bench``."""
        r, d = self.result, self.deployment
        lat = {k: round(v * 1e3, 4) for k, v in asdict(r.latency_s).items()}
        return {
            "instance_type": d.instance.name,
            "model": self.config.model,
            "task": self.config.task,
            "seq_len": self.config.seq_len,
            "batch_size": self.plan.batch_size,
            "pipeline_cores": self.plan.pipeline_cores,
            "group_sizes": list(d.group_sizes),
            "mode": d.mode,
            "copies": len(d.copies),
            "concurrency": r.concurrency,
            "requests": r.requests,
            "seed": r.seed,
            "throughput": round(r.throughput, 3),
            "latency_ms": lat,
            "cost_per_hour_usd": self.cost_per_hour_usd,
            "cost_per_1m_usd": round(self.cost_per_1m_usd, 6),
            "price_set": self.config.price_set,
            "bottleneck": r.bottleneck,
            "bottleneck_detail": r.bottleneck_detail,
            "core_utilization": [round(u, 4) for u in r.core_utilization],
            "host_utilization": round(r.host_utilization, 4),
            "stages": [
                {
                    "index": s.index,
                    "service_ms": round(s.service_s * 1e3, 4),
                    "busy_fraction": round(s.busy_fraction, 4),
                }
                for s in r.stages
            ],
            "plan_key": self.plan.key,
            "emulator_version": self.plan.emulator_version,
            "compile_seconds": round(self.compile_seconds, 4),
            "compile_cached": self.compile_cached,
        }


def default_concurrency(deployment: Deployment) -> int:
    """One client per pipeline stage of every copy: enough requests to keep each stage busy."""
    return sum(len(copy) for copy in deployment.copies)


def check_pipeline_cores(pipeline_cores: int, instance_type: str) -> None:
    instance = get_instance(instance_type)
    if instance.is_gpu and pipeline_cores != 1:
        raise InputError(
            f"pipeline cores {pipeline_cores} do not apply to GPU instance {instance_type}; "
            "accepted: 1 (batch size is the GPU's knob)"
        )
    if not 1 <= pipeline_cores <= instance.cores:
        raise InputError(
            f"pipeline cores {pipeline_cores} are out of range for {instance_type}; "
            f"accepted: 1 to {instance.cores}"
        )


def run_bench(config: BenchConfig, cache: CompileCache | None = None) -> BenchReport:
    """Compile, deploy and simulate ``config``; every bad value raises ``InputError``."""
    instance = get_instance(config.instance_type)
    price = price_per_hour(config.instance_type, config.price_set)
    check_pipeline_cores(config.pipeline_cores, config.instance_type)
    if config.concurrency is not None and config.concurrency < 1:
        raise InputError(f"concurrency {config.concurrency} must be at least 1")
    if config.seed < 0:
        raise InputError(f"seed {config.seed} must be a non-negative integer")
    if not 1 <= config.requests <= MAX_REQUESTS:
        raise InputError(
            f"requests {config.requests} is out of range; accepted: 1 to {MAX_REQUESTS}"
        )
    source = resolve_model(config.model, config.task)
    compiled = compile_model(
        source,
        batch=config.batch_size,
        seq_len=config.seq_len,
        pipeline_cores=config.pipeline_cores,
        accelerator=instance.accelerator,
        cache=cache,
    )
    deployment = deploy(compiled.plan, instance, config.group_sizes)
    concurrency = config.concurrency or default_concurrency(deployment)
    requests = max(config.requests, concurrency)
    result = simulate(
        deployment, load_calibration(), concurrency=concurrency, requests=requests, seed=config.seed
    )
    return BenchReport(config, deployment, result, compiled.seconds, compiled.cached, price)

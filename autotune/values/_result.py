"""What a deployment measured (``Result``), what it costs, and the stored record of a trial.

Length: over 300 lines, each value beside its own codec (``to_dict``/``from_dict``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from autotune.values._curve import LoadPoint
from autotune.values._experiment import Deployment, Load, Workload


@dataclass(frozen=True)
class Latency:
    """Per-request latency percentiles, in milliseconds."""

    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float

    def to_dict(self) -> dict[str, float]:
        return {"p50": self.p50_ms, "p95": self.p95_ms, "p99": self.p99_ms, "mean": self.mean_ms}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Latency:
        return cls(float(raw["p50"]), float(raw["p95"]), float(raw["p99"]), float(raw["mean"]))


@dataclass(frozen=True)
class Cost:
    """Hourly price of one instance, cost per million inferences, and the fleet if one was sized."""

    price_set: str
    per_hour_usd: float
    per_1m_usd: float
    fleet_size: int | None = None

    @property
    def fleet_per_hour_usd(self) -> float | None:
        return None if self.fleet_size is None else self.fleet_size * self.per_hour_usd

    def to_dict(self) -> dict[str, Any]:
        return {
            "price_set": self.price_set,
            "per_hour_usd": self.per_hour_usd,
            "per_1m_usd": self.per_1m_usd,
            "fleet_size": self.fleet_size,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Cost:
        fleet = raw.get("fleet_size")
        return cls(
            str(raw["price_set"]),
            float(raw["per_hour_usd"]),
            float(raw["per_1m_usd"]),
            None if fleet is None else int(fleet),
        )


@dataclass(frozen=True)
class StageResult:
    """One stage of the compiled plan with its simulated timing (times in seconds)."""

    index: int
    n_ops: int = 0
    tensor_flops: float = 0.0
    vector_flops: float = 0.0
    scalar_flops: float = 0.0
    weight_bytes: int = 0
    resident_bytes: int = 0  # weights kept in the core's on-chip memory
    streamed_bytes: int = 0  # weights read from device memory on every inference
    estimated_s: float = 0.0  # the compiler's own estimate
    service_s: float = 0.0  # simulated service time, jitter aside
    compute_s: float = 0.0
    dram_s: float = 0.0
    link_s: float = 0.0
    busy_fraction: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> StageResult:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})


# The fields of ``Result`` that only open-loop runs fill.
OPEN_LOOP_FIELDS = ("offered_qps", "mean_batch", "saturation_throughput", "capacity_qps")


@dataclass(frozen=True)
class Result:
    """What a simulated load test of one deployment measured."""

    throughput: float  # sequences per second
    latency: Latency
    concurrency: int  # closed-loop clients
    requests: int
    mode: str  # how the deployment uses its cores, in the generation's words
    bottleneck: str
    bottleneck_detail: str
    core_utilization: tuple[float, ...]  # every core of the instance, idle ones at 0
    host_utilization: float
    stages: tuple[StageResult, ...]
    copy_cores: tuple[tuple[int, ...], ...] = ()  # per model copy: the core of each stage
    # Open loop only (None in closed loop, and in records written before it existed):
    offered_qps: float | None = None  # requests/s arriving at this instance
    mean_batch: float | None = None  # requests per batch the copies ran
    saturation_throughput: float | None = None  # seq/s at full batches (sizes the fleet)
    capacity_qps: float | None = None  # requests/s that keep p95 within the SLO, if asked
    # Latency from light load to saturation (measured for recommendations; else empty).
    load_curve: tuple[LoadPoint, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "throughput": self.throughput,
            "latency_ms": self.latency.to_dict(),
            "concurrency": self.concurrency,
            "requests": self.requests,
            "mode": self.mode,
            "bottleneck": self.bottleneck,
            "bottleneck_detail": self.bottleneck_detail,
            "core_utilization": list(self.core_utilization),
            "host_utilization": self.host_utilization,
            "stages": [s.to_dict() for s in self.stages],
            "copy_cores": [list(c) for c in self.copy_cores],
            **{k: getattr(self, k) for k in OPEN_LOOP_FIELDS if getattr(self, k) is not None},
            **({"load_curve": [p.to_dict() for p in self.load_curve]} if self.load_curve else {}),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Result:
        def maybe(key: str) -> float | None:
            return None if raw.get(key) is None else float(raw[key])

        return cls(
            throughput=float(raw["throughput"]),
            latency=Latency.from_dict(raw["latency_ms"]),
            concurrency=int(raw["concurrency"]),
            requests=int(raw["requests"]),
            mode=str(raw["mode"]),
            bottleneck=str(raw["bottleneck"]),
            bottleneck_detail=str(raw["bottleneck_detail"]),
            core_utilization=tuple(float(u) for u in raw["core_utilization"]),
            host_utilization=float(raw["host_utilization"]),
            stages=tuple(StageResult.from_dict(s) for s in raw["stages"]),
            copy_cores=tuple(tuple(int(c) for c in copy) for copy in raw.get("copy_cores", ())),
            offered_qps=maybe("offered_qps"),
            mean_batch=maybe("mean_batch"),
            saturation_throughput=maybe("saturation_throughput"),
            capacity_qps=maybe("capacity_qps"),
            load_curve=tuple(LoadPoint.from_dict(p) for p in raw.get("load_curve", ())),
        )


@dataclass(frozen=True)
class Provenance:
    """Where a result came from: the compiled plan, the emulator, the functional check."""

    plan_key: str
    emulator_version: str
    compile_seconds: float
    compile_cached: bool = False
    numeric_error: float | None = None  # functional path vs eager model; None if not checked

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Provenance:
        error = raw.get("numeric_error")
        return cls(
            str(raw["plan_key"]),
            str(raw["emulator_version"]),
            float(raw["compile_seconds"]),
            bool(raw.get("compile_cached", False)),
            None if error is None else float(error),
        )


@dataclass(frozen=True)
class Uncertainty:
    """Relative uncertainty of a prediction's throughput and latency (0.1 = +-10%): the
    emulator's leave-one-source-out error on public measurements of the same regime."""

    throughput_rel: float
    latency_rel: float

    def to_dict(self) -> dict[str, float]:
        return {"throughput_rel": self.throughput_rel, "latency_rel": self.latency_rel}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Uncertainty:
        return cls(float(raw["throughput_rel"]), float(raw["latency_rel"]))


@dataclass(frozen=True)
class Evaluation:
    """One experiment and everything it produced: the unit that is stored, shown and exported.

    ``settings`` is what the deployment needs on the real machine, in the generation's own
    terms (compiler arguments, runtime environment, ...): the generation writes it when the
    deployment is evaluated, so that reading and exporting never need the generation's code.
    """

    workload: Workload
    deployment: Deployment
    load: Load
    result: Result
    cost: Cost
    provenance: Provenance
    settings: Mapping[str, Any] = field(default_factory=dict)
    uncertainty: Uncertainty | None = None  # None: recorded before autotune measured it

    @property
    def generation(self) -> str:
        return str(self.settings.get("generation", ""))

    @property
    def regime_generation(self) -> str:
        """The generation, with the serving stack where there is one (``gpu:tensorrt-fp16``)."""
        stack = self.settings.get("stack")
        return f"{self.generation}:{stack}" if stack else self.generation

    def to_dict(self) -> dict[str, Any]:
        return {
            "workload": self.workload.to_dict(),
            "deployment": self.deployment.to_dict(),
            "load": self.load.to_dict(),
            "result": self.result.to_dict(),
            "cost": self.cost.to_dict(),
            "provenance": self.provenance.to_dict(),
            "settings": dict(self.settings),
            "uncertainty": None if self.uncertainty is None else self.uncertainty.to_dict(),
        }

    def flat(self) -> dict[str, Any]:
        """The one flat view of an evaluation: ``autotune bench --json``, the JSON of study
        results and validation rows. Rounded for reading; the stored values are exact."""
        r, c, p = self.result, self.cost, self.provenance
        out: dict[str, Any] = {
            "instance_type": self.deployment.instance_type,
            **self.workload.to_dict(),
            **{k: v for k, v in self.deployment.to_dict().items() if k != "instance_type"},
            "mode": r.mode,
            "copies": len(self.settings.get("copies", ())) or 1,
            "concurrency": r.concurrency,
            "requests": r.requests,
            "seed": self.load.seed,
            "traffic": self.load.traffic(),
            "throughput": round(r.throughput, 3),
            "latency_ms": {k: round(v, 4) for k, v in r.latency.to_dict().items()},
            "cost_per_hour_usd": c.per_hour_usd,
            "cost_per_1m_usd": round(c.per_1m_usd, 6),
            "price_set": c.price_set,
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
            "plan_key": p.plan_key,
            "emulator_version": p.emulator_version,
            "compile_seconds": round(p.compile_seconds, 4),
            "compile_cached": p.compile_cached,
            "numeric_error": p.numeric_error,
        }
        if self.uncertainty is not None:
            out["uncertainty"] = self.uncertainty.to_dict()
        if self.load.open_loop:
            out["max_batch_delay_ms"] = self.load.max_batch_delay_ms
            for key in OPEN_LOOP_FIELDS:
                value = getattr(r, key)
                if value is not None:
                    out[key] = round(value, 3)
            if self.load.max_utilization is not None:
                out["max_utilization"] = self.load.max_utilization
        if c.fleet_size is not None:
            out["fleet_size"] = c.fleet_size
            out["fleet_cost_per_hour_usd"] = round(c.fleet_size * c.per_hour_usd, 4)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Evaluation:
        return cls(
            Workload.from_dict(raw["workload"]),
            Deployment.from_dict(raw["deployment"]),
            Load.from_dict(raw["load"]),
            Result.from_dict(raw["result"]),
            Cost.from_dict(raw["cost"]),
            Provenance.from_dict(raw["provenance"]),
            dict(raw.get("settings", {})),
            None if raw.get("uncertainty") is None else Uncertainty.from_dict(raw["uncertainty"]),
        )


@dataclass(frozen=True)
class TrialRecord:
    """The evaluation of one Optuna trial, keyed by its trial id, as storage keeps it."""

    study_name: str
    optuna_trial_id: int
    trial_number: int
    evaluation: Evaluation

    # The parts of the evaluation, one attribute away.
    @property
    def workload(self) -> Workload:
        return self.evaluation.workload

    @property
    def deployment(self) -> Deployment:
        return self.evaluation.deployment

    @property
    def result(self) -> Result:
        return self.evaluation.result

    @property
    def cost(self) -> Cost:
        return self.evaluation.cost

    @property
    def latency(self) -> Latency:
        return self.evaluation.result.latency

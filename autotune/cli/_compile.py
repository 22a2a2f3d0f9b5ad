"""``autotune compile``: the stage table of a compiled plan and its numeric check."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from autotune.catalog import get_instance
from autotune.cli._format import table
from autotune.emulator import CompileCache, Verifier, compile_model
from autotune.hardware import Plan, generation_of
from autotune.models import resolve_model
from autotune.values import Deployment, Workload

MB = 1e6


@dataclass(frozen=True)
class CompileReport:
    plan: Plan
    seconds: float
    cached: bool
    max_abs_error: float | None  # functional path vs eager model, None when not verified

    def to_dict(self) -> dict[str, object]:
        return {
            "plan": asdict(self.plan),
            "compile_seconds": round(self.seconds, 4),
            "cached": self.cached,
            "max_abs_error": self.max_abs_error,
        }

    def render(self) -> str:
        p = self.plan
        rows = [
            [
                s.index,
                s.n_ops,
                f"{s.flops / 1e9:.2f}",
                f"{s.weight_bytes / MB:.1f}",
                f"{s.resident_bytes / MB:.1f}",
                f"{s.streamed_bytes / MB:.1f}",
                f"{s.estimated_s * 1e3:.3f}",
            ]
            for s in p.stages
        ]
        knobs = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in p.compile_knobs)
        head = (
            f"{p.model} ({p.task}) batch {p.batch_size}, seq {p.seq_len}, "
            f"{knobs + ', ' if knobs else ''}{p.precision} on {p.accelerator}\n"
            f"plan {p.key[:16]}  {'cached' if self.cached else 'compiled'} in {self.seconds:.2f} s"
            f"  device memory per copy {p.device_bytes / MB:.0f} MB"
        )
        headers = ["stage", "ops", "GFLOP", "weight MB", "cached MB", "streamed MB", "est. ms"]
        check = (
            "functional check skipped (--no-verify)"
            if self.max_abs_error is None
            else f"functional check: stages executed on CPU ({p.precision} emulated), max abs "
            f"error vs eager model {self.max_abs_error:.3g}"
        )
        return f"{head}\n{table(headers, rows)}\n{check}"


def compile_report(
    model: str, task: str, seq_len: int, batch: int, deployment: Deployment, verify: bool
) -> CompileReport:
    instance = get_instance(deployment.instance_type)
    resolved = generation_of(instance).resolve(instance, deployment)
    source = resolve_model(model, task)
    workload = Workload(model, task, seq_len, batch)
    result = compile_model(source, workload, instance, resolved, CompileCache())
    error = Verifier(source).error(result.plan) if verify else None
    return CompileReport(result.plan, result.seconds, result.cached, error)

"""``autotune compile``: the stage table of a compiled plan and its numeric check."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from autotune._format import table
from autotune.bench import check_pipeline_cores
from autotune.catalog import get_instance
from autotune.emulator import CompileCache, Plan, compile_model
from autotune.models import resolve_model

MB = 1e6


@dataclass(frozen=True)
class CompileReport:
    plan: Plan
    seconds: float
    cached: bool
    max_abs_error: float | None  # functional path vs eager model, None when not verified

    def to_dict(self) -> dict[str, object]:
        plan = asdict(self.plan)
        return {
            "plan": plan,
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
        head = (
            f"{p.model} ({p.task}) batch {p.batch_size}, seq {p.seq_len}, "
            f"--neuroncore-pipeline-cores {p.pipeline_cores}, {p.precision} on "
            f"{p.accelerator}\nplan {p.key[:16]}  "
            f"{'cached' if self.cached else 'compiled'} in {self.seconds:.2f} s  "
            f"device memory per copy {p.device_bytes / MB:.0f} MB"
        )
        body = table(
            ["stage", "ops", "GFLOP", "weight MB", "cached MB", "streamed MB", "est. ms"], rows
        )
        check = (
            "functional check skipped (--no-verify)"
            if self.max_abs_error is None
            else f"functional check: stages executed on CPU ({p.precision} emulated), max abs "
            f"error vs eager model {self.max_abs_error:.3g}"
        )
        return f"{head}\n{body}\n{check}"


def verify_plan(plan: Plan, model: str, task: str, seed: int = 0) -> float:
    """Run the plan's stages on CPU and return the max abs error against the eager model."""
    from autotune.verify import Verifier

    return Verifier(resolve_model(model, task), seed).error(plan)


def compile_report(
    model: str,
    task: str,
    seq_len: int,
    batch: int,
    pipeline_cores: int,
    instance_type: str,
    verify: bool,
) -> CompileReport:
    instance = get_instance(instance_type)
    check_pipeline_cores(pipeline_cores, instance_type)
    source = resolve_model(model, task)
    result = compile_model(
        source,
        batch=batch,
        seq_len=seq_len,
        pipeline_cores=pipeline_cores,
        accelerator=instance.accelerator,
        cache=CompileCache(),
    )
    error = verify_plan(result.plan, model, task) if verify else None
    return CompileReport(result.plan, result.seconds, result.cached, error)

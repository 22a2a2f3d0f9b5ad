"""What the study commands print: one trial as JSON or a table row, and a study's result."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from autotune._format import table
from autotune.catalog import get_instance
from autotune.cli._app import emit

Storage = Annotated[
    str | None,
    typer.Option(help="Database URL [default: sqlite:///autotune.db in the working directory]."),
]
StudyName = Annotated[str, typer.Option(help="Name of the study.")]


def url_of(storage: str | None) -> str:
    from storage import default_storage_url

    return storage or default_storage_url()


def record_row(r: Any, goals: Any = None) -> dict[str, Any]:
    """The JSON of one recommended trial."""
    row = {
        "trial_number": r.trial_number,
        "instance_type": r.instance_type,
        "batch_size": r.batch_size,
        "pipeline_cores": r.pipeline_cores,
        "group_sizes": list(r.group_sizes),
        "concurrency": r.concurrency,
        "throughput": round(r.throughput, 3),
        "latency_ms": {
            "p50": round(r.latency_p50_ms, 4),
            "p95": round(r.latency_p95_ms, 4),
            "p99": round(r.latency_p99_ms, 4),
        },
        "cost_per_1m_usd": round(r.cost_per_1m_usd, 6),
        "cost_per_hour_usd": r.cost_per_hour_usd,
        "bottleneck": r.bottleneck,
        "numeric_error": r.numeric_error,
    }
    if r.fleet_size is not None:
        row["fleet_size"] = r.fleet_size
        row["fleet_cost_per_hour_usd"] = round(r.fleet_size * r.cost_per_hour_usd, 4)
    return row


def records_table(records: list[Any]) -> str:
    fleet = any(r.fleet_size is not None for r in records)
    headers = [
        "trial",
        "instance",
        "batch",
        "pipeline",
        "groups",
        "p95 ms",
        "p50 ms",
        "seq/s",
        "$/1M",
        "$/h",
        *(["fleet", "fleet $/h"] if fleet else []),
    ]
    rows = [
        [
            r.trial_number,
            r.instance_type,
            r.batch_size,
            r.pipeline_cores,
            ",".join(map(str, r.group_sizes)),
            f"{r.latency_p95_ms:.2f}",
            f"{r.latency_p50_ms:.2f}",
            f"{r.throughput:.1f}",
            f"{r.cost_per_1m_usd:.4f}",
            f"{r.cost_per_hour_usd:.3f}",
            *([r.fleet_size, f"{(r.fleet_size or 0) * r.cost_per_hour_usd:.3f}"] if fleet else []),
        ]
        for r in records
    ]
    return table(headers, rows)


def settings_line(r: Any) -> str:
    if get_instance(r.instance_type).is_gpu:
        return f"  trial {r.trial_number}: GPU, batch {r.batch_size}, {r.concurrency} clients"
    groups = ",".join(map(str, r.group_sizes))
    return (
        f"  trial {r.trial_number}: --neuroncore-pipeline-cores {r.pipeline_cores}, "
        f"NEURONCORE_GROUP_SIZES={groups}, batch {r.batch_size}, {r.concurrency} clients"
    )


def report(result: Any, as_json: bool) -> None:
    if as_json:
        emit(
            {
                "study_name": result.study_name,
                "storage": result.storage,
                "objective": result.goals.objective,
                "n_trials": result.n_trials,
                "n_complete": result.n_complete,
                "n_failed": result.n_failed,
                "feasible": bool(result.best),
                "best": [record_row(r) for r in result.best],
            }
        )
    else:
        what = "Pareto set" if result.goals.objective == "pareto" else "recommendation"
        typer.echo(
            f"study {result.study_name!r} ({result.goals.objective}) in {result.storage}:"
            f" {result.n_trials} trials, {result.n_failed} could not deploy"
        )
        if result.best:
            typer.echo(f"{what}:\n{records_table(list(result.best))}\nsettings:")
            for r in result.best:
                typer.echo(settings_line(r))
    if not result.best:
        why = (
            "no trial could be deployed"
            if not result.n_complete
            else "no completed trial meets the constraints (relax --max-p95-ms / --min-throughput)"
        )
        typer.echo(f"no feasible config: {why}; the trials are kept", err=True)
        raise typer.Exit(1)

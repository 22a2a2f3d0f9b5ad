"""Study commands: study, studies, trials, best, export."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from autotune._format import table
from autotune.catalog import get_instance
from autotune.cli._app import AsJson, app, emit
from autotune.errors import InputError

Storage = Annotated[
    str | None,
    typer.Option(help="Database URL [default: sqlite:///autotune.db in the working directory]."),
]
StudyName = Annotated[str, typer.Option(help="Name of the study.")]


def _ints(text: str | None, flag: str) -> tuple[int, ...] | None:
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",")]
    if not all(p.lstrip("-").isascii() and p.lstrip("-").isdigit() for p in parts):
        raise InputError(f"{flag} {text!r} is not a comma list of integers (e.g. 1,4,16)")
    return tuple(int(p) for p in parts)


def _url(storage: str | None) -> str:
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


def _table(records: list[Any]) -> str:
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


def _how(r: Any) -> str:
    if get_instance(r.instance_type).is_gpu:
        return f"  trial {r.trial_number}: GPU, batch {r.batch_size}, {r.concurrency} clients"
    groups = ",".join(map(str, r.group_sizes))
    return (
        f"  trial {r.trial_number}: --neuroncore-pipeline-cores {r.pipeline_cores}, "
        f"NEURONCORE_GROUP_SIZES={groups}, batch {r.batch_size}, {r.concurrency} clients"
    )


def _default_name(space: Any, goals: Any) -> str:
    digest = hashlib.sha256(
        json.dumps([space.model_dump(mode="json"), goals.__dict__], sort_keys=True).encode()
    ).hexdigest()
    return f"{goals.objective}-{Path(space.model).name}-{digest[:6]}"


@app.command()
def study(
    objective: Annotated[
        str, typer.Option(help="min-latency, max-throughput, min-cost or pareto (p95 vs cost).")
    ] = "min-latency",
    space_file: Annotated[
        Path | None,
        typer.Option("--space", help="Search space YAML [default: search_spaces/default.yaml]."),
    ] = None,
    model: Annotated[str | None, typer.Option(help="Override the space's model.")] = None,
    task: Annotated[str | None, typer.Option(help="Override the space's task.")] = None,
    seq_len: Annotated[int | None, typer.Option(help="Override the sequence length.")] = None,
    instances: Annotated[str | None, typer.Option(help="Comma list of instance types.")] = None,
    batch_sizes: Annotated[str | None, typer.Option(help="Comma list, e.g. 1,6.")] = None,
    pipeline_cores: Annotated[str | None, typer.Option(help="Comma list, e.g. 1,4,16.")] = None,
    price_set: Annotated[str | None, typer.Option(help="Named price set.")] = None,
    max_p95_ms: Annotated[float | None, typer.Option(help="Feasible only at or below.")] = None,
    min_throughput: Annotated[
        float | None, typer.Option(help="Feasible only at or above (seq/s).")
    ] = None,
    target_qps: Annotated[
        float | None,
        typer.Option(help="Size a fleet for this load (seq/s); cost becomes the fleet's $/h."),
    ] = None,
    trials: Annotated[int, typer.Option(help="Total finished trials wanted.")] = 100,
    timeout: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    sampler: Annotated[str, typer.Option(help="tpe, gp, nsga2, random or grid.")] = "tpe",
    seed: Annotated[int, typer.Option(help="Seed of the sampler and the simulator.")] = 0,
    storage: Storage = None,
    study_name: Annotated[
        str | None,
        typer.Option(
            help="[default: derived from objective, model and space; the same command resumes]"
        ),
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue an existing study.")] = False,
    n_jobs: Annotated[int, typer.Option(help="Parallel trials in this process.")] = 1,
    as_json: AsJson = False,
) -> None:
    """Search deployments with Optuna on the emulator and recommend one (or a Pareto set)."""
    from autotune.study import Goals, StudySettings, load_space, run_study, with_overrides

    space = with_overrides(
        load_space(space_file),
        model=model,
        task=task,
        seq_len=seq_len,
        instances=None if instances is None else tuple(i.strip() for i in instances.split(",")),
        batch_sizes=_ints(batch_sizes, "--batch-sizes"),
        pipeline_cores=_ints(pipeline_cores, "--pipeline-cores"),
        price_set=price_set,
        constraints={
            k: v
            for k, v in {"max_p95_ms": max_p95_ms, "min_throughput": min_throughput}.items()
            if v is not None
        }
        or None,
    )
    if target_qps is not None and target_qps <= 0:
        raise InputError(f"--target-qps {target_qps} must be positive")
    _check_timeout(timeout)
    goals = Goals(
        objective, space.constraints.max_p95_ms, space.constraints.min_throughput, target_qps
    )
    settings = StudySettings(
        space=space,
        goals=goals,
        study_name=study_name or _default_name(space, goals),
        storage=_url(storage),
        trials=trials,
        timeout=timeout,
        sampler=sampler,
        seed=seed,
        n_jobs=n_jobs,
        resume=resume,
        progress=not as_json,
    )
    result = run_study(settings)
    _report(result, as_json)


def _check_timeout(timeout: float | None) -> None:
    # A timeout already over would still create the study, with no trial in it.
    if timeout is not None and not timeout > 0:
        raise InputError(f"--timeout {timeout} must be a positive number of seconds")


def _report(result: Any, as_json: bool) -> None:
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
            typer.echo(f"{what}:\n{_table(list(result.best))}\nsettings:")
            for r in result.best:
                typer.echo(_how(r))
    if not result.best:
        why = (
            "no trial could be deployed"
            if not result.n_complete
            else "no completed trial meets the constraints (relax --max-p95-ms / --min-throughput)"
        )
        typer.echo(f"no feasible config: {why}; the trials are kept", err=True)
        raise typer.Exit(1)


@app.command()
def studies(storage: Storage = None, as_json: AsJson = False) -> None:
    """List the studies in a storage with their objective, trial counts and best result."""
    from autotune.study._queries import open_existing, study_names
    from storage import SchemaRevisionError

    url = _url(storage)
    rows: list[dict[str, Any]] = []
    for name in study_names(url):
        try:
            opened = open_existing(url, name)
        except SchemaRevisionError:
            raise
        except InputError:  # a study of another Optuna tool sharing the database
            rows.append(
                {
                    "study_name": name,
                    "objective": "(not an autotune study)",
                    "n_trials": None,
                    "n_failed": None,
                    "best": None,
                }
            )
            continue
        result = opened.outcome()
        top = result.best[0] if result.best else None
        rows.append(
            {
                "study_name": name,
                "objective": result.goals.objective,
                "max_p95_ms": result.goals.max_p95_ms,
                "min_throughput": result.goals.min_throughput,
                "target_qps": result.goals.target_qps,
                "n_trials": result.n_trials,
                "n_failed": result.n_failed,
                "best": record_row(top) if top else None,
            }
        )
    if as_json:
        emit({"storage": url, "studies": rows})
        return
    if not rows:
        typer.echo(f"no studies in {url}")
        return
    typer.echo(
        table(
            ["study", "objective", "trials", "failed", "best trial", "instance", "p95 ms", "$/1M"],
            [
                [
                    r["study_name"],
                    r["objective"],
                    r["n_trials"],
                    r["n_failed"],
                    *(
                        (
                            r["best"]["trial_number"],
                            r["best"]["instance_type"],
                            f"{r['best']['latency_ms']['p95']:.2f}",
                            f"{r['best']['cost_per_1m_usd']:.4f}",
                        )
                        if r["best"]
                        else ("-", "-", "-", "-")
                    ),
                ]
                for r in rows
            ],
        )
    )


_SORTS = {
    "number": lambda r: r.trial_number,
    "p95": lambda r: r.latency_p95_ms,
    "throughput": lambda r: -r.throughput,
    "cost": lambda r: r.cost_per_1m_usd,
}


@app.command()
def trials(
    study_name: StudyName,
    storage: Storage = None,
    sort: Annotated[str, typer.Option(help="number, p95, throughput or cost.")] = "number",
    limit: Annotated[int | None, typer.Option(help="Show only the first N.")] = None,
    as_json: AsJson = False,
) -> None:
    """List a study's completed trials (sortable) and the configs that could not deploy."""
    from autotune.errors import choice_error
    from autotune.study._queries import open_existing

    if limit is not None and limit < 1:
        raise InputError(f"--limit {limit} must be at least 1")
    if sort not in _SORTS:
        raise choice_error("sort key", sort, list(_SORTS))
    opened = open_existing(_url(storage), study_name)
    records = sorted(opened.records(), key=_SORTS[sort])[:limit]
    failures = opened.failures()
    if as_json:
        emit(
            {
                "study_name": study_name,
                "trials": [record_row(r) for r in records],
                "failed": [{"trial_number": n, "reason": why} for n, why in failures],
            }
        )
        return
    typer.echo(_table(records) if records else "no completed trials")
    for number, why in failures:
        typer.echo(f"trial {number} could not deploy: {why}")


@app.command("best")
def best_cmd(
    study_name: StudyName,
    storage: Storage = None,
    objective: Annotated[
        str | None,
        typer.Option(
            help="min-latency, max-throughput, min-cost or pareto [default: the study's]."
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """The recommendation of a study (or the best by another objective)."""
    import dataclasses

    from autotune.study import OBJECTIVES, best
    from autotune.study._queries import open_existing

    if objective is not None and objective not in OBJECTIVES:
        from autotune.errors import choice_error

        raise choice_error("objective", objective, list(OBJECTIVES))
    opened = open_existing(_url(storage), study_name)
    result = opened.outcome()
    found = best(opened.records(), opened.goals, objective)
    goals = dataclasses.replace(opened.goals, objective=objective or opened.goals.objective)
    _report(dataclasses.replace(result, best=tuple(found), goals=goals), as_json)


@app.command()
def export(
    study_name: StudyName,
    storage: Storage = None,
    trial: Annotated[int | None, typer.Option(help="Export this trial.")] = None,
    pick: Annotated[
        str | None,
        typer.Option(
            help="min-latency, max-throughput or min-cost [default: the study's objective]."
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="yaml, json, env or script.")] = "yaml",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File to write.")] = None,
) -> None:
    """Write the deployment of a trial: instance, compiler args, groups, expected metrics."""
    from autotune.study._export import FORMATS, render, spec_from_record
    from autotune.study._queries import open_existing
    from autotune.study._queries import pick as pick_record

    if trial is not None and pick is not None:
        raise InputError("give either --trial or --pick, not both")
    if fmt not in FORMATS:
        from autotune.errors import choice_error

        raise choice_error("export format", fmt, FORMATS)
    opened = open_existing(_url(storage), study_name)
    text = render(spec_from_record(pick_record(opened, trial, pick), study_name), fmt)
    if output is None:
        sys.stdout.write(text)
        return
    _write_file(output, text, executable=fmt == "script")
    typer.echo(f"wrote {output}", err=True)


def _write_file(path: Path, text: str, executable: bool) -> None:
    """Write atomically, so a failed export never leaves half a file."""
    tmp: str | None = None
    try:
        if path.is_dir():
            raise InputError(f"export path {str(path)!r} is a directory; give a file name")
        if path.exists() and not path.is_file():
            # A device or pipe (/dev/stdout): write into it; renaming over it would replace it.
            with path.open("w") as f:
                f.write(text)
            return
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".autotune-export-")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o755 if executable else 0o644)
        os.replace(tmp, path)
    except OSError as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise InputError(f"export path {str(path)!r} is not writable: {e.strerror}") from e


@app.command()
def worker(
    study_name: StudyName,
    storage: Storage = None,
    trials: Annotated[
        int | None,
        typer.Option(
            help="Total finished trials wanted [default: what the study was started with]."
        ),
    ] = None,
    timeout: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    n_jobs: Annotated[int, typer.Option(help="Parallel trials in this process.")] = 1,
    as_json: AsJson = False,
) -> None:
    """Join an existing study from another process or machine (Optuna's distributed mode)."""
    from autotune.study import StudySettings, run_study
    from autotune.study._queries import open_existing

    _check_timeout(timeout)
    url = _url(storage)
    opened = open_existing(url, study_name)
    run = opened.study.user_attrs.get("autotune_run", {})
    settings = StudySettings(
        space=opened.space,
        goals=opened.goals,
        study_name=study_name,
        storage=url,
        trials=int(run.get("trials", 100)) if trials is None else trials,
        timeout=timeout,
        sampler=str(run.get("sampler", "tpe")),
        seed=run.get("seed", 0),
        n_jobs=n_jobs,
        resume=True,
        progress=not as_json,
        worker=True,
    )
    _report(run_study(settings), as_json)

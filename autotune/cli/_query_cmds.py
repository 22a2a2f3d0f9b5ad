"""Reading studies back: ``autotune studies``, ``trials``, ``best`` and ``export``."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from autotune.cli._app import AsJson, app, emit
from autotune.cli._format import table
from autotune.cli._results import (
    Storage,
    StudyName,
    record_row,
    records_table,
    report,
    traffic_line,
    url_of,
)
from autotune.errors import InputError


def _summary(url: str, name: str) -> tuple[dict[str, Any], Any]:
    """One line of ``autotune studies`` as JSON (objective, counts and the recommendation), and
    the study's outcome (``None`` for a study autotune did not make)."""
    from autotune.study.read import open_existing
    from storage import SchemaRevisionError

    try:
        opened = open_existing(url, name)
    except SchemaRevisionError:
        raise
    except InputError:  # a study of another Optuna tool sharing the database
        objective = "(not an autotune study)"
        return {"study_name": name, "objective": objective, "n_trials": None, "best": None}, None
    result = opened.outcome()
    pareto = result.goals.objective == "pareto"
    return {
        "study_name": name,
        "objective": result.goals.objective,
        "max_p95_ms": result.goals.max_p95_ms,
        "min_throughput": result.goals.min_throughput,
        "target_qps": result.goals.target_qps,
        "n_trials": result.n_trials,
        "n_failed": result.n_failed,
        # A Pareto study's answer is its front: the JSON lists it, the table shows its size.
        "best": record_row(result.best[0]) if result.best and not pareto else None,
        "front": [record_row(r) for r in result.best] if pareto else None,
    }, result


def _best_cells(result: Any) -> tuple[object, ...]:
    """The recommendation's columns of the studies table, in the one display rounding."""
    from autotune.study.read import num

    if result is None or not result.best:
        return ("-", "-", "-", "-")
    if result.goals.objective == "pareto":
        return (f"front of {len(result.best)}", "-", "-", "-")
    top = result.best[0]
    p95, cost = num(top.latency.p95_ms), num(top.cost.per_1m_usd)
    return (top.trial_number, top.deployment.instance_type, p95, cost)


@app.command()
def studies(storage: Storage = None, as_json: AsJson = False) -> None:
    """List the studies in a storage with their objective, trial counts and best result."""
    from autotune.study.read import study_names

    url = url_of(storage)
    summaries = [_summary(url, name) for name in study_names(url)]
    if as_json:
        emit({"storage": url, "studies": [row for row, _ in summaries]})
        return
    if not summaries:
        typer.echo(f"no studies in {url}")
        return
    headers = ["study", "objective", "trials", "failed", "best trial", "instance", "p95 ms", "$/1M"]
    body = [
        [r["study_name"], r["objective"], r["n_trials"], r.get("n_failed"), *_best_cells(result)]
        for r, result in summaries
    ]
    typer.echo(table(headers, body))


_SORTS = {
    "number": lambda r: r.trial_number,
    "p95": lambda r: r.latency.p95_ms,
    "throughput": lambda r: -r.result.throughput,
    "cost": lambda r: r.cost.per_1m_usd,
}


@app.command()
def trials(
    study_name: StudyName = None,
    storage: Storage = None,
    sort: Annotated[str, typer.Option(help="number, p95, throughput or cost.")] = "number",
    limit: Annotated[int | None, typer.Option(help="Show only the first N.")] = None,
    as_json: AsJson = False,
) -> None:
    """List a study's completed trials (sortable) and the configs that could not deploy."""
    from autotune.errors import choice_error
    from autotune.study.read import open_existing, resolve_name

    if limit is not None and limit < 1:
        raise InputError(f"--limit {limit} must be at least 1")
    if sort not in _SORTS:
        raise choice_error("sort key", sort, list(_SORTS))
    url = url_of(storage)
    opened = open_existing(url, resolve_name(url, study_name))
    records = sorted(opened.records(), key=_SORTS[sort])[:limit]
    failures = opened.failures()
    if as_json:
        emit(
            {
                "study_name": opened.study.study_name,
                "trials": [record_row(r) for r in records],
                "failed": [{"trial_number": n, "reason": why} for n, why in failures],
            }
        )
        return
    if records:
        typer.echo(f"traffic: {traffic_line(records[0])}")
    typer.echo(records_table(records) if records else "no completed trials")
    for number, why in failures:
        typer.echo(f"trial {number} could not deploy: {why}")


@app.command("best")
def best_cmd(
    study_name: StudyName = None,
    storage: Storage = None,
    objective: Annotated[
        str | None,
        typer.Option(
            help="min-latency, max-throughput, min-cost or pareto (default: the study's)."
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """The recommendation of a study (or the best by another objective)."""
    import dataclasses

    from autotune.study import OBJECTIVES
    from autotune.study.read import best, open_existing, resolve_name, ties

    if objective is not None and objective not in OBJECTIVES:
        from autotune.errors import choice_error

        raise choice_error("objective", objective, list(OBJECTIVES))
    url = url_of(storage)
    opened = open_existing(url, resolve_name(url, study_name))
    result = opened.outcome()
    records = opened.records()
    found, tied = best(records, opened.goals, objective), ties(records, opened.goals, objective)
    report(dataclasses.replace(result, best=tuple(found), tied=tuple(tied)), as_json, objective)


@app.command()
def export(
    study_name: StudyName = None,
    storage: Storage = None,
    trial: Annotated[int | None, typer.Option(help="Export this trial.")] = None,
    pick: Annotated[
        str | None,
        typer.Option(
            help="min-latency, max-throughput or min-cost (default: the study's objective)."
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="yaml, json, env or script.")] = "yaml",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File to write.")] = None,
) -> None:
    """Write the deployment of a trial: instance, compiler args, groups, expected metrics."""
    from autotune.study._export import FORMATS, render, spec_from_record
    from autotune.study._queries import pick as pick_record
    from autotune.study.read import open_existing, resolve_name

    if trial is not None and pick is not None:
        raise InputError("give either --trial or --pick, not both")
    if fmt not in FORMATS:
        from autotune.errors import choice_error

        raise choice_error("export format", fmt, FORMATS)
    url = url_of(storage)
    opened = open_existing(url, resolve_name(url, study_name))
    name = opened.study.study_name
    text = render(spec_from_record(pick_record(opened, trial, pick), name), fmt)
    if output is None:
        sys.stdout.write(text)
        return
    _write_file(output, text, executable=fmt == "script")
    typer.echo(f"wrote {output}", err=True)


def _write_file(path: Path, text: str, executable: bool) -> None:
    """Write atomically, so a failed export never leaves half a file."""
    tmp: str | None = None
    target = Path(os.path.realpath(path))  # through a symlink to its file; the link stays
    try:
        if target.is_dir():
            raise InputError(f"export path {str(path)!r} is a directory; give a file name")
        if target.exists() and not target.is_file():
            # A device or pipe (/dev/stdout): write into it; renaming over it would replace it.
            with target.open("w") as f:
                f.write(text)
            return
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".autotune-export-")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o755 if executable else 0o644)
        os.replace(tmp, target)
    except OSError as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise InputError(f"export path {str(path)!r} is not writable: {e.strerror}") from e

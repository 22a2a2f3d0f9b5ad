"""What the study commands print: one trial as JSON or a table row, and a study's result."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer

from autotune.cli._app import emit
from autotune.cli._format import table
from autotune.study.read import compact, constraints_text, knobs_text, num, plural
from autotune.values import TrialRecord

Storage = Annotated[
    str | None,
    typer.Option(
        help="Database URL (default: $AUTOTUNE_STORAGE, else sqlite:///autotune.db in the "
        "working directory)"
    ),
]
StudyName = Annotated[
    str | None,
    typer.Option(help="Name of the study (default: the storage's only study)"),
]


def url_of(storage: str | None) -> str:
    """``--storage``, else ``$AUTOTUNE_STORAGE``, else ``autotune.db`` in the working directory."""
    import os

    from storage import default_storage_url

    return storage or os.environ.get("AUTOTUNE_STORAGE") or default_storage_url()


def record_row(r: TrialRecord) -> dict[str, Any]:
    """The JSON of one trial: its number and the evaluation's flat view."""
    return {"trial_number": r.trial_number, **r.evaluation.flat()}


def records_table(records: list[TrialRecord]) -> str:
    fleet = any(r.cost.fleet_size is not None for r in records)
    headers = [
        "trial",
        "instance",
        "batch",
        "deployment",
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
            r.deployment.instance_type,
            r.workload.batch_size,
            knobs_text(r.deployment),
            num(r.latency.p95_ms),
            num(r.latency.p50_ms),
            num(r.result.throughput),
            num(r.cost.per_1m_usd),
            num(r.cost.per_hour_usd),
            *([r.cost.fleet_size, num(r.cost.fleet_per_hour_usd or 0)] if fleet else []),
        ]
        for r in records
    ]
    return table(headers, rows)


def traffic_line(r: TrialRecord) -> str:
    """The traffic a result was measured at, and for open loop the fleet that carries it."""
    load = r.evaluation.load
    text = load.traffic_text()
    if load.open_loop and r.cost.fleet_size is not None:
        text += (
            f"; fleet sized so each instance is at most {load.max_utilization:.0%} busy, "
            f"p95 simulated at one instance's share"
        )
    return text


def settings_line(r: TrialRecord) -> str:
    """What to run on the real machine: compiler arguments, environment, batch and clients."""
    s = r.evaluation.settings
    parts = [" ".join(s.get("compiler_args", ()))]
    # Long lists compactly (``NEURONCORE_GROUP_SIZES=52 x 1``); the export writes them in full.
    parts += [f"{k}={_compact_list(str(v))}" for k, v in s.get("environment", {}).items()]
    load = r.evaluation.load
    if load.open_loop:
        delay = f"max_batch_delay {load.max_batch_delay_ms:g} ms"
        parts += [f"batch_size {r.workload.batch_size}", delay]
    else:
        parts += [f"batch {r.workload.batch_size}", plural(r.result.concurrency, "client")]
    return f"  trial {r.trial_number}: " + ", ".join(p for p in parts if p)


def _compact_list(value: str) -> str:
    items = value.split(",")
    return compact(items) if len(items) > 3 else value


def core_use_note(best: TrialRecord, records: list[TrialRecord]) -> str:
    """Whether the recommendation uses all of its instance's cores, and if not, why: the best
    deployment on the same instance that does, and what it measured at the same traffic."""
    used = {c for cores in best.result.copy_cores for c in cores}
    total = len(best.result.core_utilization)
    inst = best.deployment.instance_type
    if not used or len(used) >= total:
        return f"uses all {plural(total, 'core')} of {inst}"
    full = [
        r
        for r in records
        if r.deployment.instance_type == inst
        and len({c for cores in r.result.copy_cores for c in cores}) >= total
    ]
    if not full:
        return f"uses {len(used)} of {inst}'s {total} cores; no deployment using all was tried"
    other = min(full, key=lambda r: r.latency.p95_ms)
    return (
        f"uses {len(used)} of {inst}'s {total} cores: the best deployment using all of them "
        f"(trial {other.trial_number}, {knobs_text(other.deployment)}, batch "
        f"{other.workload.batch_size}) measured p95 {other.latency.p95_ms:.2f} ms against "
        f"{best.latency.p95_ms:.2f} ms"
    )


def tied_line(tied: Sequence[TrialRecord], shown: int = 5) -> str:
    """The other trials the emulator cannot tell from the recommendation (``tied[0]``)."""
    items = [
        f"trial {r.trial_number} ({r.deployment.instance_type}, batch {r.workload.batch_size}, "
        f"p95 {num(r.latency.p95_ms)} ms, ${num(r.cost.per_1m_usd)}/1M)"
        for r in tied[1 : shown + 1]
    ]
    more = len(tied) - 1 - len(items)
    return (
        "tied within the emulator's error: "
        + "; ".join(items)
        + (f"; and {more} more" if more > 0 else "")
    )


# The recommendation rule (``autotune.study._objectives``) in one line under every answer.
_RULE = {
    "one": "(a tie is a result within the emulator's uncertainty of the best, else 1%; "
    "the cheaper wins, for min-cost the faster)",
    "pareto": "(left out: configs another one matches within the emulator's uncertainty, "
    "else 1%, and clearly beats)",
}


def report(result: Any, as_json: bool, objective: str | None = None) -> None:
    """A study's outcome; ``objective``: its best was asked by another objective than its own."""
    study_objective = result.goals.objective
    asked = objective or study_objective
    if as_json:
        emit(
            {
                "study_name": result.study_name,
                "storage": result.storage,
                "objective": asked,
                "study_objective": study_objective,
                "constraints": {
                    "max_p95_ms": result.goals.max_p95_ms,
                    "min_throughput": result.goals.min_throughput,
                    "target_qps": result.goals.target_qps,
                },
                "n_trials": result.n_trials,
                "n_complete": result.n_complete,
                "n_failed": result.n_failed,
                "feasible": bool(result.best),
                "traffic": result.best[0].evaluation.load.traffic() if result.best else None,
                "best": [record_row(r) for r in result.best],
                # Trials within the emulator's uncertainty of the best, the recommendation first.
                "tied": [r.trial_number for r in result.tied],
            }
        )
    else:
        what = "Pareto set" if asked == "pareto" else "recommendation"
        if asked != study_objective:
            what = f"best by {asked} (not the study's objective)"
        typer.echo(
            f"study {result.study_name!r} ({study_objective}, {constraints_text(result.goals)})"
            f" in {result.storage}: {plural(result.n_trials, 'trial')},"
            f" {result.n_failed} could not deploy"
        )
        if result.best:
            typer.echo(f"traffic: {traffic_line(result.best[0])}")
            typer.echo(f"{what}:\n{records_table(list(result.best))}\nsettings:")
            for r in result.best:
                typer.echo(settings_line(r))
            if len(result.tied) > 1:
                typer.echo(tied_line(result.tied))
            if asked == "min-latency" and result.records:
                typer.echo(f"cores: {core_use_note(result.best[0], list(result.records))}")
            typer.echo(_RULE["pareto" if asked == "pareto" else "one"])
    if not result.best:
        why = (
            "no trial could be deployed"
            if not result.n_complete
            else "no completed trial meets the constraints (relax --max-p95-ms / --min-throughput)"
        )
        typer.echo(f"no feasible config: {why}; the trials are kept", err=True)
        raise typer.Exit(1)

"""``autotune study`` and ``autotune worker``: run trials, then report the recommendation."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from autotune.cli._app import AsJson, app
from autotune.cli._knobs import TRAFFIC_KINDS, Concurrency, Qps, Traffic
from autotune.cli._results import Storage, report, url_of
from autotune.errors import InputError


def _ints(text: str | None, flag: str) -> tuple[int, ...] | None:
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",")]
    if not all(p.lstrip("-").isascii() and p.lstrip("-").isdigit() for p in parts):
        raise InputError(f"{flag} {text!r} is not a comma list of integers (e.g. 1,4,16)")
    return tuple(int(p) for p in parts)


def _default_name(space: Any, goals: Any) -> str:
    digest = hashlib.sha256(
        json.dumps([space.stable_dump(), goals.__dict__], sort_keys=True).encode()
    ).hexdigest()
    return f"{goals.objective}-{Path(space.model).name}-{digest[:6]}"


# Long: Typer declares every flag in the signature; the body is short.
@app.command()
def study(
    objective: Annotated[
        str, typer.Option(help="min-latency, max-throughput, min-cost or pareto (p95 vs cost).")
    ] = "min-latency",
    space_file: Annotated[
        Path | None,
        typer.Option("--space", help="Search space YAML (default: search_spaces/default.yaml)."),
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
        typer.Option(
            help="Closed loop: size a fleet for this load (seq/s); cost becomes the fleet's $/h. "
            "With open-loop traffic it is the same as --qps."
        ),
    ] = None,
    traffic: Traffic = None,
    qps: Qps = None,
    concurrency: Concurrency = None,
    max_batch_delay_ms: Annotated[
        str | None,
        typer.Option(help="Open loop: batch delays to search, ms, as a comma list (e.g. 0,2,5)."),
    ] = None,
    max_utilization: Annotated[
        float | None,
        typer.Option(help="Open loop: size the fleet so each instance is at most this busy."),
    ] = None,
    trials: Annotated[int, typer.Option(help="Total finished trials wanted.")] = 100,
    timeout: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    sampler: Annotated[str, typer.Option(help="tpe, gp, nsga2, random or grid.")] = "tpe",
    seed: Annotated[int, typer.Option(help="Seed of the sampler and the simulator.")] = 0,
    storage: Storage = None,
    study_name: Annotated[
        str | None,
        typer.Option(
            help="Name of the study (default: derived from objective, model and space, so the "
            "same command resumes it)"
        ),
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue an existing study.")] = False,
    n_jobs: Annotated[int, typer.Option(help="Parallel trials in this process.")] = 1,
    as_json: AsJson = False,
) -> None:
    """Search deployments with Optuna on the emulator and recommend one (or a Pareto set)."""
    # Long: Typer reads one option per parameter off this signature; the body is short.
    from autotune.study import Goals, StudySettings, load_space, with_overrides
    from autotune.study.write import check_space, run_study

    base = load_space(space_file)
    if target_qps is not None and target_qps <= 0:
        raise InputError(f"--target-qps {target_qps} must be positive")
    if target_qps is not None and (qps is not None or traffic == "open-loop" or base.open_loop):
        if qps is not None:
            raise InputError("--target-qps and --qps say the same with open-loop traffic; give one")
        qps, target_qps = target_qps, None
    space = with_overrides(
        base,
        **_traffic_overrides(base, traffic, qps, concurrency, max_batch_delay_ms, max_utilization),
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
    check_space(space, "search space")
    if target_qps is not None and target_qps <= 0:
        raise InputError(f"--target-qps {target_qps} must be positive")
    _check_timeout(timeout)
    if space.open_loop and space.traffic is not None and space.traffic.qps is not None:
        # The fleet is sized for the traffic: costs are the fleet's $/h, labelled as such.
        target_qps = space.traffic.qps * space.traffic.sequences_per_request
    goals = Goals(
        objective, space.constraints.max_p95_ms, space.constraints.min_throughput, target_qps
    )
    settings = StudySettings(
        space=space,
        goals=goals,
        study_name=study_name or _default_name(space, goals),
        storage=url_of(storage),
        trials=trials,
        timeout=timeout,
        sampler=sampler,
        seed=seed,
        n_jobs=n_jobs,
        resume=resume,
        progress=not as_json,
    )
    result = run_study(settings)
    report(result, as_json)


def _traffic_overrides(
    space: Any,
    kind: str | None,
    qps: float | None,
    concurrency: int | None,
    delays: str | None,
    max_utilization: float | None,
) -> dict[str, Any]:
    """Space overrides from the traffic flags (validated with the space)."""
    if kind is not None and kind not in TRAFFIC_KINDS:
        raise InputError(f"unknown traffic {kind!r}; accepted: {', '.join(TRAFFIC_KINDS)}")
    kind = kind or ("open-loop" if qps is not None else None)
    if kind is None and concurrency is not None:
        kind = "closed-loop"
    if kind is None and space.traffic is not None:
        kind = space.traffic.kind
    out: dict[str, Any] = {}
    if kind == "closed-loop":
        if qps is not None:
            raise InputError("--qps applies to open-loop traffic; drop --traffic closed-loop")
        out["traffic"] = {"kind": "closed-loop", "clients": concurrency or "per-stage"}
    elif kind == "open-loop":
        if concurrency is not None:
            raise InputError("--concurrency applies to closed-loop traffic; open loop takes --qps")
        current = space.traffic.model_dump() if space.open_loop else {}
        out["traffic"] = current | {"kind": "open-loop"} | ({} if qps is None else {"qps": qps})
        out["traffic"].pop("clients", None)
    if delays is not None:
        parts = [p.strip() for p in delays.split(",")]
        try:
            out["max_batch_delay_ms"] = tuple(float(p) for p in parts)
        except ValueError as e:
            what = f"--max-batch-delay-ms {delays!r}"
            raise InputError(f"{what} is not a comma list of numbers (e.g. 0,2,5)") from e
    out["max_utilization"] = max_utilization
    return out


def _check_timeout(timeout: float | None) -> None:
    # A timeout already over would still create the study, with no trial in it.
    if timeout is not None and not timeout > 0:
        raise InputError(f"--timeout {timeout} must be a positive number of seconds")


@app.command()
def worker(
    study_name: Annotated[
        str | None,
        typer.Option(help="Study to join (default: work on queued studies, see `autotune serve`)"),
    ] = None,
    storage: Storage = None,
    trials: Annotated[
        int | None,
        typer.Option(
            help="Total finished trials wanted (default: what the study was started with)."
        ),
    ] = None,
    timeout: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    n_jobs: Annotated[int, typer.Option(help="Parallel trials in this process.")] = 1,
    as_json: AsJson = False,
    until_empty: Annotated[
        bool, typer.Option(help="Without --study-name: stop once no queued study is left.")
    ] = False,
) -> None:
    """Join an existing study from another process or machine (Optuna's distributed mode),
    or, without --study-name, claim queued studies one after another and run them."""
    from autotune.study import StudySettings
    from autotune.study.read import open_existing
    from autotune.study.write import run_study

    _check_timeout(timeout)
    url = url_of(storage)
    if study_name is None:
        from autotune.service import drain

        if trials is not None or timeout is not None or n_jobs != 1:
            raise InputError("--trials, --timeout and --n-jobs need --study-name")

        drain(url, until_empty=until_empty)
        return
    opened = open_existing(url, study_name)
    run = opened.study.user_attrs.get("autotune_run", {})
    settings = StudySettings(
        space=opened.space,
        goals=opened.goals,
        study_name=opened.study.study_name,
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
    report(run_study(settings), as_json)

"""The queue side of studies: submit a study for workers to run, follow it, cancel it.

What the API (``POST /studies``) and the dashboard's New study page both call. Imports nothing
of the emulator, the hardware models or torch: a request is checked with the search-space model,
the catalog and the model presets; whether the space has a deployable candidate is a write-side
question, asked by the caller that may import it (the API passes ``check``) or else by the
worker, which fails the study with the reason.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import optuna
from pydantic import BaseModel, ConfigDict, Field

from autotune.errors import ConflictError, NotFoundError, choice_error
from autotune.models import resolve_model
from autotune.study._settings import OBJECTIVES, Goals, StudySettings
from autotune.study._space import SearchSpace, load_space, parse_space
from storage import QueuedStudy, ServiceStore

# The samplers of ``autotune.study.write.SAMPLERS`` (a test keeps the two equal).
SAMPLER_NAMES = ("tpe", "gp", "nsga2", "random", "grid")
MAX_TRIALS = 10_000
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$"
State = Literal["queued", "running", "done", "cancelled", "failed"]


class StudyRequest(BaseModel):
    """A study to queue: the body of ``POST /studies`` and the dashboard's form."""

    # Strict: ``true`` is not a seed, ``"40"`` not a number of trials.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    space: dict[str, Any] = Field(
        default_factory=dict,
        description="Search-space document (the keys of search_spaces/*.yaml, constraints "
        "included); keys left out take the shipped default space's values.",
    )
    objective: str = Field("min-latency", description=f"One of: {', '.join(OBJECTIVES)}.")
    trials: int = Field(40, ge=1, le=MAX_TRIALS, description="Finished trials wanted.")
    name: str | None = Field(
        None, pattern=NAME_PATTERN, description="Study name (default: derived, unique)."
    )
    target_qps: float | None = Field(
        None, gt=0, le=1e12, description="Size a fleet for this load (seq/s)."
    )
    sampler: Literal["tpe", "gp", "nsga2", "random", "grid"] = "tpe"
    seed: int | None = Field(0, ge=0, le=2**63 - 1, description="Sampler and simulator seed.")


def resolve(request: StudyRequest) -> tuple[SearchSpace, Goals]:
    """The validated space (the request's keys over the default space) and goals."""
    if request.objective not in OBJECTIVES:
        raise choice_error("objective", request.objective, list(OBJECTIVES))
    merged = load_space().model_dump(mode="json") | request.space
    space = parse_space(merged, "space")
    resolve_model(space.model, space.task)  # a model path that does not exist, named now
    goals = Goals(
        request.objective,
        space.constraints.max_p95_ms,
        space.constraints.min_throughput,
        request.target_qps,
    )
    return space, goals


def default_name(space: SearchSpace, goals: Goals) -> str:
    """``autotune study``'s name for the space and goals, plus a suffix: every submission is a
    new study (the command line resumes; a queue of resubmissions would collide)."""
    digest = hashlib.sha256(
        json.dumps([space.stable_dump(), goals.__dict__], sort_keys=True).encode()
    ).hexdigest()
    return f"{goals.objective}-{Path(space.model).name}-{digest[:6]}-{uuid.uuid4().hex[:6]}"


def submit(
    store: ServiceStore,
    request: StudyRequest,
    who: str = "local",
    check: Callable[[SearchSpace], None] | None = None,
) -> QueuedStudy:
    """Validate ``request`` and queue it; nothing is written unless it is valid."""
    space, goals = resolve(request)
    if check is not None:
        check(space)
    name = request.name or default_name(space, goals)
    if name in optuna.study.get_all_study_names(_storage(store.url)):
        raise ConflictError(f"a study named {name!r} already exists; choose another name")
    entry = QueuedStudy(
        name=name,
        state="queued",
        space=space.model_dump(mode="json"),
        goals=dataclasses.asdict(goals),
        trials=request.trials,
        sampler=request.sampler,
        seed=request.seed,
        submitted_by=who,
    )
    return store.submit(entry)


def _storage(url: str) -> optuna.storages.RDBStorage:
    from autotune.study._storage import rdb_storage

    return rdb_storage(url)


def settings_of(entry: QueuedStudy, url: str, *, joining: bool) -> StudySettings:
    """What a worker runs for a claimed entry; ``joining`` a study another worker created."""
    return StudySettings(
        space=parse_space(dict(entry.space), f"queued study {entry.name!r}"),
        goals=Goals(**entry.goals),
        study_name=entry.name,
        storage=url,
        trials=entry.trials,
        sampler=entry.sampler,
        seed=entry.seed,
        resume=joining,
        progress=False,
        worker=joining,
    )


@dataclass(frozen=True)
class Progress:
    """Where a study stands: its state and finished trials out of those asked for."""

    name: str
    state: State
    objective: str
    n_finished: int  # completed, or failed because the config cannot deploy
    n_complete: int
    n_running: int
    total: int
    submitted_by: str | None = None
    error: str | None = None
    submitted_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


def progress(study: optuna.Study | None, entry: QueuedStudy | None, name: str) -> Progress:
    """The progress of study ``name``: its queue entry, if it has one, and its Optuna study,
    once a worker created it (``None`` before).

    A study started by ``autotune study`` has no queue entry: it is running while a trial
    runs, done otherwise. ``NotFoundError`` if neither a queue entry nor a study has the name.
    """
    if study is None:
        if entry is None:
            raise NotFoundError(f"no study named {name!r}")
        return _progress(entry, 0, 0, 0)
    states = (
        optuna.trial.TrialState.COMPLETE,
        optuna.trial.TrialState.FAIL,
        optuna.trial.TrialState.RUNNING,
    )
    trials = study.get_trials(deepcopy=False, states=states)
    done = finished_of(trials)
    n_complete = sum(t.state == optuna.trial.TrialState.COMPLETE for t in done)
    running = sum(t.state == optuna.trial.TrialState.RUNNING for t in trials)
    if entry is not None:
        return _progress(entry, len(done), n_complete, running)
    attrs = study.user_attrs
    if "autotune_goals" not in attrs:
        raise NotFoundError(f"study {name!r} was not created by autotune")
    objective = json.loads(attrs["autotune_goals"])["objective"]
    total = int(attrs.get("autotune_run", {}).get("trials", len(done)))
    state: State = "running" if running else "done"
    return Progress(name, state, objective, len(done), n_complete, running, total)


def _progress(entry: QueuedStudy, n_finished: int, n_complete: int, running: int) -> Progress:
    return Progress(
        name=entry.name,
        state=entry.state,  # type: ignore[arg-type]  # one of STATES, written by ServiceStore
        objective=str(entry.goals["objective"]),
        n_finished=n_finished,
        n_complete=n_complete,
        n_running=running,
        total=entry.trials,
        submitted_by=entry.submitted_by,
        error=entry.error,
        submitted_at=entry.submitted_at,
        started_at=entry.started_at,
        finished_at=entry.finished_at,
    )


def finished_of(trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """The trials with an outcome (as ``finished`` counts them for a study)."""
    return [
        t
        for t in trials
        if t.state == optuna.trial.TrialState.COMPLETE
        or (t.state == optuna.trial.TrialState.FAIL and "error" in t.user_attrs)
    ]


def cancel(store: ServiceStore, name: str) -> QueuedStudy:
    """Cancel a queued or running study; its finished trials stay."""
    entry = store.queued(name)
    if entry is None:
        if name in optuna.study.get_all_study_names(_storage(store.url)):
            raise ConflictError(
                f"study {name!r} was started by `autotune study`, not queued: stop that process"
            )
        raise NotFoundError(f"no study named {name!r}")
    if not store.cancel(name):
        raise ConflictError(
            f"study {name!r} is {entry.state}: only a queued or running study can be cancelled"
        )
    cancelled = store.queued(name)
    assert cancelled is not None
    return cancelled


__all__ = [
    "MAX_TRIALS",
    "SAMPLER_NAMES",
    "Progress",
    "StudyRequest",
    "cancel",
    "default_name",
    "finished_of",
    "progress",
    "resolve",
    "settings_of",
    "submit",
]

"""The API's endpoints: thin over the queue side and the read side of studies.

Each handler checks the caller's scope, calls the same function the command line or the
dashboard calls, and returns a pydantic answer. Errors are raised as autotune's errors and
become HTTP answers in one place (``autotune.service._errors``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Security
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from autotune.errors import ConflictError, InputError, NotFoundError
from autotune.service._auth import Caller, Gate, Scope
from autotune.service._errors import ErrorBody
from autotune.service._metrics import CONTENT_TYPE, render_metrics
from autotune.service._models import (
    BestOut,
    Created,
    FailedOut,
    Health,
    StudyList,
    StudyOut,
    TrialOut,
    TrialsOut,
)
from autotune.service._reads import Reads
from autotune.study.queue import StudyRequest, cancel, submit
from autotune.study.read import FORMATS, pick, render, spec_from_record
from autotune.values import TrialRecord

router = APIRouter()
_BEARER = HTTPBearer(auto_error=False, description="A token from `autotune token create`.")
Objective = Literal["min-latency", "max-throughput", "min-cost", "pareto"]
Pick = Literal["min-latency", "max-throughput", "min-cost"]
Format = Literal["yaml", "json", "env", "script"]
Sort = Literal["number", "p95", "throughput", "cost"]
_SORTS = {  # as ``autotune trials --sort``
    "number": lambda r: r.trial_number,
    "p95": lambda r: r.latency.p95_ms,
    "throughput": lambda r: -r.result.throughput,
    "cost": lambda r: r.cost.per_1m_usd,
}
_MEDIA = {
    "yaml": "application/yaml",
    "json": "application/json",
    "env": "text/plain",
    "script": "text/x-python",
}
assert tuple(_MEDIA) == FORMATS


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody} for code in (*codes, 401, 403, 422)}


def _reads(request: Request) -> Reads:
    reads: Reads = request.app.state.reads
    return reads


async def _caller(request: Request, scope: Scope) -> Caller:
    # In the event loop when no I/O is needed; a database read or scrypt goes to a thread.
    gate: Gate = request.app.state.gate
    header = request.headers.get("authorization")
    caller = gate.quick(header, scope)
    if caller is None:
        caller = await run_in_threadpool(gate.caller, header, scope)
    return caller


async def reader(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)]
) -> Caller:
    return await _caller(request, "read")


async def submitter(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)]
) -> Caller:
    return await _caller(request, "submit")


async def _answer(
    request: Request,
    key: tuple[Any, ...],
    name: str | None,
    compute: Callable[[], BaseModel | str],
    media_type: str = "application/json",
) -> Response:
    """The answer for ``key`` as bytes, kept while fresh (``Reads.cached``): a fresh one is
    sent from the event loop; computing one (database reads) runs in a thread."""
    reads = _reads(request)

    def encoded() -> bytes:
        answer = compute()
        return (answer if isinstance(answer, str) else answer.model_dump_json()).encode()

    body, fresh = reads.peek(key)
    if body is None:
        body = await run_in_threadpool(reads.cached, key, name, encoded)
    elif not fresh:
        reads.refresh(key, name, encoded)
    return Response(body, media_type=media_type)


Reader = Annotated[Caller, Depends(reader)]
Submitter = Annotated[Caller, Depends(submitter)]


def _check_space(space: Any) -> None:
    # The write side's check (which deployments the space's instances take): the server may
    # load the hardware models, the dashboard may not (its submissions are checked by workers).
    from autotune.study.write import check_space

    check_space(space, "space")


def _study_out(request: Request, name: str) -> StudyOut:
    reads = _reads(request)
    entry = reads.entry(name)
    progress = reads.progress(name, entry)
    url = str(request.url_for("get_study", name=name))
    return StudyOut.of(progress, url, reads.best_so_far(reads.opened(name)))


@router.post("/studies", status_code=202, response_model=Created, responses=_errors(400, 409, 413))
def create_study(body: StudyRequest, request: Request, caller: Submitter) -> Created:
    """Queue a study: workers (``autotune worker``) run it; follow it at the answer's URL."""
    reads = _reads(request)
    entry = submit(reads.store, body, who=caller.name, check=_check_space)
    reads.forget(entry.name)
    return Created(name=entry.name, url=str(request.url_for("get_study", name=entry.name)))


@router.get("/studies", response_model=StudyList, responses=_errors())
async def list_studies(request: Request, _: Reader) -> Response:
    """Every study: queued ones in submission order, then the others by name."""

    def compute() -> StudyList:
        out = []
        for name in _reads(request).names():
            try:
                out.append(_study_out(request, name))
            except NotFoundError:  # an Optuna study of another tool, or deleted meanwhile
                continue
        return StudyList(studies=out)

    return await _answer(request, ("list", None), None, compute)


@router.get("/studies/{name}", response_model=StudyOut, responses=_errors(404))
async def get_study(name: str, request: Request, _: Reader) -> Response:
    """A study's state (queued, running, done, cancelled, failed), progress and best so far."""
    return await _answer(request, ("study", name), name, lambda: _study_out(request, name))


@router.get("/studies/{name}/trials", response_model=TrialsOut, responses=_errors(404))
async def get_trials(
    name: str,
    request: Request,
    _: Reader,
    sort: Sort = "number",
    limit: Annotated[int | None, Query(ge=1, le=100_000)] = None,
) -> Response:
    """The completed trials (sorted as ``autotune trials --sort``) and those that failed."""
    reads = _reads(request)

    def compute() -> TrialsOut:
        opened = reads.opened(name)
        if opened is None:
            return TrialsOut(name=name, trials=[], failed=[])
        records = sorted(reads.records(opened), key=_SORTS[sort])[:limit]
        failed = [FailedOut(trial_number=n, reason=why) for n, why in opened.failures()]
        return TrialsOut(name=name, trials=[TrialOut.of(r) for r in records], failed=failed)

    return await _answer(request, ("trials", name, sort, limit), name, compute)


@router.get("/studies/{name}/best", response_model=BestOut, responses=_errors(404))
async def get_best(
    name: str, request: Request, _: Reader, objective: Objective | None = None
) -> Response:
    """The recommendation (or the best by another objective), as ``autotune best``."""
    reads = _reads(request)

    def compute() -> BestOut:
        opened = reads.opened(name)
        if opened is None:
            goal = objective or str(reads.progress(name, reads.entry(name)).objective)
            return BestOut(name=name, objective=goal, feasible=False, best=[])
        found: list[TrialRecord] = reads.best_so_far(opened, objective)
        goals = dataclasses.replace(opened.goals, objective=objective or opened.goals.objective)
        return BestOut(
            name=name,
            objective=goals.objective,
            feasible=bool(found),
            best=[TrialOut.of(r) for r in found],
        )

    return await _answer(request, ("best", name, objective), name, compute)


@router.get(
    "/studies/{name}/export",
    response_model=None,  # a file, in the media type of its format; errors are JSON
    responses={
        200: {
            "description": "The deployment file, as `autotune export --format` writes it.",
            "content": {
                media: {"schema": {"type": "object" if fmt in ("json", "yaml") else "string"}}
                for fmt, media in _MEDIA.items()
            },
        },
        **_errors(404, 409),
    },
)
async def export(
    name: str,
    request: Request,
    _: Reader,
    format: Format = "yaml",
    trial: Annotated[int | None, Query(ge=0)] = None,
    pick_: Annotated[Pick | None, Query(alias="pick")] = None,
) -> Response:
    """A trial's deployment (default: the recommendation): the files ``autotune export``
    writes."""
    reads = _reads(request)
    if trial is not None and pick_ is not None:
        raise InputError("give either trial or pick, not both")

    def compute() -> str:
        opened = reads.opened(name)
        if opened is None:
            raise ConflictError(f"study {name!r} is queued: it has no trial to export yet")
        return render(spec_from_record(pick(opened, trial, pick_), name), format)

    key = ("export", name, format, trial, pick_)
    return await _answer(request, key, name, compute, _MEDIA[format])


@router.delete("/studies/{name}", response_model=StudyOut, responses=_errors(404, 409))
def cancel_study(name: str, request: Request, _: Submitter) -> StudyOut:
    """Cancel a queued or running study: workers stop after their current trial; the
    finished trials stay."""
    reads = _reads(request)
    cancel(reads.store, name)
    reads.forget(name)
    return _study_out(request, name)


@router.get("/healthz", response_model=Health, responses={503: {"model": ErrorBody}})
def healthz(request: Request) -> Health:
    """Liveness and the database's reachability (no token needed)."""
    _reads(request).store.queue_counts()
    return Health(status="ok", database="ok")


@router.get(
    "/metrics",
    response_model=None,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        **_errors(),
    },
)
def metrics(request: Request, _: Reader) -> Response:
    """Prometheus metrics: queue depth, trials finished and failed, trial durations."""
    return Response(render_metrics(_reads(request).store), media_type=CONTENT_TYPE)


__all__ = ["router"]

"""The study: Optuna asks for deployments, the emulator answers, storage keeps everything.

A config already evaluated in the study is answered from its stored result, not simulated again.
The AWS pipeline heuristic and a data-parallel baseline are enqueued first. Workers sharing a
study finish exactly the number of trials asked for.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from typing import Any

import optuna

from autotune.bench import BenchConfig, BenchReport, run_bench
from autotune.emulator import CompileCache
from autotune.errors import DeploymentError, InputError, choice_error
from autotune.models import resolve_model
from autotune.study._database import HEARTBEAT_S, open_study
from autotune.study._objectives import OBJECTIVES, Goals, fleet_size, values, violations
from autotune.study._search import SAMPLERS, suggest, warm_start
from autotune.study._space import Candidate, SearchSpace, candidates
from autotune.verify import Verifier
from storage import ResultStore, TrialRecord


@dataclass(frozen=True)
class StudySettings:
    """Everything ``autotune study`` was asked for, validated."""

    space: SearchSpace
    goals: Goals
    study_name: str
    storage: str
    trials: int = 100
    timeout: float | None = None
    sampler: str = "tpe"
    seed: int | None = 0
    n_jobs: int = 1
    resume: bool = False
    progress: bool = True
    worker: bool = False  # joins a study: draws its own sampler seed, keeps the simulator's


def bench_config(c: Candidate, space: SearchSpace, seed: int = 0) -> BenchConfig:
    """The benchmark a trial of ``space`` runs for candidate ``c``."""
    return BenchConfig(
        instance_type=c.instance_type,
        batch_size=c.batch_size,
        pipeline_cores=c.pipeline_cores,
        group_sizes=c.group_sizes,
        model=space.model,
        task=space.task,
        seq_len=space.seq_len,
        requests=space.requests,
        concurrency=None if space.concurrency == "per-stage" else space.concurrency,
        seed=seed,
        price_set=space.price_set,
    )


def to_record(
    report: BenchReport,
    study_name: str,
    goals: Goals,
    numeric_error: float | None,
    trial_id: int = -1,
    number: int = -1,
) -> TrialRecord:
    """The full stored result of one evaluated trial."""
    r, d, c = report.result, report.deployment, report.config
    lat = r.latency_s
    stages = tuple(
        {
            **{
                k: v
                for k, v in dataclasses.asdict(s).items()
                if k not in ("cached_weights", "streamed_weights")
            },
            "service_s": t.service_s,
            "compute_s_sim": t.compute_s,
            "dram_s": t.dram_s,
            "link_s": t.link_s,
            "busy_fraction": t.busy_fraction,
        }
        for s, t in zip(d.plan.stages, r.stages, strict=True)
    )
    return TrialRecord(
        study_name=study_name,
        optuna_trial_id=trial_id,
        trial_number=number,
        model=c.model,
        task=c.task,
        seq_len=c.seq_len,
        instance_type=d.instance.name,
        batch_size=d.plan.batch_size,
        pipeline_cores=d.plan.pipeline_cores,
        group_sizes=d.group_sizes,
        concurrency=r.concurrency,
        price_set=c.price_set,
        throughput=r.throughput,
        latency_p50_ms=lat.p50 * 1e3,
        latency_p95_ms=lat.p95 * 1e3,
        latency_p99_ms=lat.p99 * 1e3,
        latency_mean_ms=lat.mean * 1e3,
        cost_per_hour_usd=report.cost_per_hour_usd,
        cost_per_1m_usd=report.cost_per_1m_usd,
        fleet_size=fleet_size(r.throughput, goals.target_qps),
        bottleneck=r.bottleneck,
        bottleneck_detail=r.bottleneck_detail,
        core_utilization=r.core_utilization,
        host_utilization=r.host_utilization,
        stages=stages,
        plan_key=d.plan.key,
        compile_seconds=report.compile_seconds,
        numeric_error=numeric_error,
        emulator_version=d.plan.emulator_version,
        seed=r.seed,
    )


def _ahead(trial: optuna.Trial) -> tuple[int, int]:
    """Trials done, and trials running with a smaller number than ``trial``."""
    done = running = 0
    for t in trial.study.get_trials(deepcopy=False):
        if t.number == trial.number:
            continue
        if t.state == optuna.trial.TrialState.COMPLETE or (
            t.state == optuna.trial.TrialState.FAIL and "error" in t.user_attrs
        ):
            done += 1
        elif t.state == optuna.trial.TrialState.RUNNING and t.number < trial.number:
            running += 1
    return done, running


def _surplus(trial: optuna.Trial, wanted: int) -> bool:
    """Whether ``wanted`` trials are already done or under way ahead of this one.

    Workers sharing a study each check this when a trial starts: trials are ranked by number, so
    together they finish exactly ``wanted`` trials (a surplus trial is pruned, not run). While
    the places left are held by running trials, it waits for them: each either finishes or, if
    its process died, is failed once its heartbeat is stale (or, never having had one, once it
    started more than the grace period ago) and retried, which frees its place.
    """
    while True:
        done, running = _ahead(trial)
        if done + running < wanted:
            return False
        if done >= wanted or running == 0:
            return True
        optuna.storages.fail_stale_trials(trial.study)
        time.sleep(HEARTBEAT_S)


class Objective:
    """Evaluates one trial: compile (cached), check the plan once, simulate, store, score."""

    def __init__(
        self,
        settings: StudySettings,
        store: ResultStore,
        cache: CompileCache,
        done: dict[str, TrialRecord | str],
    ):
        self.settings, self.store, self.cache = settings, store, cache
        self.verifier = Verifier(resolve_model(settings.space.model, settings.space.task))
        self.done = done  # candidate key -> its record, or the reason it cannot deploy
        self.lock = threading.Lock()

    def __call__(self, trial: optuna.Trial) -> list[float]:
        s = self.settings
        if _surplus(trial, s.trials):
            raise optuna.TrialPruned("the study already has the trials it asked for")
        candidate = suggest(trial, s.space, grid=s.sampler == "grid")
        trial.set_user_attr("candidate", candidate.key)
        with self.lock:
            previous = self.done.get(candidate.key)
            if previous is None:
                previous = self._evaluate(candidate)
                self.done[candidate.key] = previous
        if isinstance(previous, str):
            trial.set_user_attr("error", previous)
            raise DeploymentError(previous)
        record = dataclasses.replace(
            previous, optuna_trial_id=trial._trial_id, trial_number=trial.number
        )
        for name, value in violations(record, s.goals).items():
            trial.set_constraint(name, value)
        for key in ("throughput", "latency_p95_ms", "cost_per_1m_usd", "bottleneck"):
            trial.set_user_attr(key, getattr(record, key))
        # Last, so that a process killed before its trial completes leaves at most this record,
        # which the worker that fails the dead trial deletes.
        if not self.store.add(record, while_running=True):
            raise optuna.exceptions.UpdateFinishedTrialError(
                f"trial {trial.number} was failed as dead by another worker (heartbeat late)"
            )
        return values(record, s.goals)

    def _evaluate(self, c: Candidate) -> TrialRecord | str:
        config = bench_config(c, self.settings.space, self.settings.seed or 0)
        try:
            report = run_bench(config, self.cache)
        except DeploymentError as e:
            return str(e)
        plan = report.plan
        error = self.cache.get_error(plan.key)
        if error is None:
            error = self.verifier.error(plan)
            self.cache.put_error(plan.key, error)
        return to_record(report, self.settings.study_name, self.settings.goals, error)


@dataclass(frozen=True)
class StudyOutcome:
    """A study's state after a run: counts and the recommendation."""

    study_name: str
    storage: str
    goals: Goals
    n_trials: int
    n_complete: int
    n_failed: int
    best: tuple[TrialRecord, ...]


def _finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Trials with an outcome: completed, or failed because the config cannot deploy.

    Trials that died with their process are not outcomes: they are retried.
    """
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL)
    return [
        t
        for t in study.get_trials(deepcopy=False, states=states)
        if t.state == optuna.trial.TrialState.COMPLETE or "error" in t.user_attrs
    ]


def _known(study: optuna.Study, store: ResultStore) -> dict[str, TrialRecord | str]:
    """Configs this study already evaluated: their records, or why they cannot deploy."""
    records = {r.trial_number: r for r in store.records(study.study_name)}
    done: dict[str, TrialRecord | str] = {}
    for t in _finished(study):
        key = t.user_attrs.get("candidate")
        if key is None:
            continue
        if t.state == optuna.trial.TrialState.FAIL and "error" in t.user_attrs:
            done.setdefault(key, str(t.user_attrs["error"]))
        elif t.number in records:
            done.setdefault(key, records[t.number])
    return done


def outcome(study: optuna.Study, store: ResultStore, goals: Goals, url: str) -> StudyOutcome:
    from autotune.study._objectives import best

    finished = _finished(study)
    n_complete = sum(t.state == optuna.trial.TrialState.COMPLETE for t in finished)
    records = completed_records(store, study.study_name, finished)
    return StudyOutcome(
        study.study_name,
        url,
        goals,
        len(finished),
        n_complete,
        len(finished) - n_complete,
        tuple(best(records, goals)),
    )


def completed_records(
    store: ResultStore, study_name: str, trials: list[optuna.trial.FrozenTrial]
) -> list[TrialRecord]:
    """The records of those ``trials`` that completed (one that died may have left a record)."""
    complete = {t.number for t in trials if t.state == optuna.trial.TrialState.COMPLETE}
    return [r for r in store.records(study_name) if r.trial_number in complete]


def run_study(settings: StudySettings) -> StudyOutcome:
    """Run (or continue) the study to ``settings.trials`` finished trials."""
    if settings.goals.objective not in OBJECTIVES:
        raise choice_error("objective", settings.goals.objective, list(OBJECTIVES))
    if settings.sampler not in SAMPLERS:
        raise choice_error("sampler", settings.sampler, SAMPLERS)
    if settings.trials < 1:
        raise InputError(f"trials {settings.trials} must be at least 1")
    if settings.n_jobs < 1:
        raise InputError(f"n-jobs {settings.n_jobs} must be at least 1")
    source = resolve_model(settings.space.model, settings.space.task)
    from autotune.emulator import check_shape

    check_shape(source, min(settings.space.batch_sizes), settings.space.seq_len)
    store = ResultStore(settings.storage)
    # Failed deployments are recorded with their reason; Optuna's own warning would add a
    # traceback for each.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = open_study(settings)
    cache = CompileCache()
    done = _known(study, store)
    if not study.trials and settings.sampler != "grid":
        weights = _weights(source, settings.space, cache)
        for params in warm_start(settings.space, weights):
            study.enqueue_trial(params, skip_if_exists=True)

    def enough(study: optuna.Study, _: optuna.trial.FrozenTrial) -> None:
        # Other workers may be adding trials to the same study.
        if len(_finished(study)) >= settings.trials:
            study.stop()

    objective = Objective(settings, store, cache, done)
    deadline = None if settings.timeout is None else time.monotonic() + settings.timeout
    while (remaining := _remaining(study, settings, done)) > 0:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            break
        try:
            study.optimize(
                objective,
                n_trials=remaining,
                callbacks=[enough],
                timeout=left,
                n_jobs=settings.n_jobs,
                catch=(DeploymentError,),
                show_progress_bar=settings.progress,
            )
            break
        except optuna.exceptions.UpdateFinishedTrialError:
            # A slow trial of ours was taken for dead by another worker and retried there;
            # its result here is dropped (it never got a record) and the study goes on.
            continue
    return outcome(study, store, settings.goals, settings.storage)


def _remaining(study: optuna.Study, settings: StudySettings, done: dict[str, Any]) -> int:
    remaining = settings.trials - len(_finished(study))
    if settings.sampler == "grid":
        remaining = min(remaining, len(candidates(settings.space)) - len(done))
    return remaining


def _weights(source: Any, space: SearchSpace, cache: CompileCache) -> int:
    from autotune.catalog import get_instance
    from autotune.emulator import compile_model

    accelerator = get_instance(space.instances[0]).accelerator
    plan = compile_model(
        source,
        batch=min(space.batch_sizes),
        seq_len=space.seq_len,
        pipeline_cores=1,
        accelerator=accelerator,
        cache=cache,
    ).plan
    return sum(stage.weight_bytes for stage in plan.stages) // accelerator.compute_dtype_bytes


__all__ = [
    "Objective",
    "StudyOutcome",
    "StudySettings",
    "bench_config",
    "completed_records",
    "outcome",
    "run_study",
    "to_record",
]

"""The study: Optuna asks for deployments, the emulator answers, storage keeps everything.

A config already evaluated in the study is answered from its stored result, not simulated again.
The AWS pipeline heuristic and a data-parallel baseline are enqueued first. Workers sharing a
study finish exactly the number of trials asked for.

Length: over 300 lines because the trial lifecycle (heartbeats, dead-trial recovery, exact
totals) shares its locks and state with ``run_study``.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import optuna

from autotune.emulator import CompileCache, Verifier, capture_summary, compile_model
from autotune.errors import DeploymentError, InputError, choice_error
from autotune.evaluation import capacity, evaluate, load_curve
from autotune.hardware import emulator_version
from autotune.models import ModelSource, resolve_model
from autotune.study._candidates import Candidate, candidates, check_space
from autotune.study._objectives import default_pick, fleet_size, values, violations
from autotune.study._optuna import trial_id
from autotune.study._params import suggest, warm_start
from autotune.study._progress import Progress
from autotune.study._queries import StudyOutcome, finished, outcome
from autotune.study._search import SAMPLERS, make_sampler
from autotune.study._settings import OBJECTIVES, StudySettings
from autotune.study._space import SearchSpace
from autotune.study._storage import HEARTBEAT_S, identity, load_goals, rdb_storage, save_goals
from autotune.values import Evaluation, Experiment, TrialRecord, Workload
from storage import ResultStore

Callback = Callable[[optuna.Study, optuna.trial.FrozenTrial], None]


def experiment(c: Candidate, space: SearchSpace, seed: int = 0) -> Experiment:
    """The benchmark a trial of ``space`` runs for candidate ``c``."""
    return Experiment(
        Workload(space.model, space.task, space.seq_len, c.batch_size),
        c.deployment(),
        space.load(c.max_batch_delay_ms, seed),
        space.price_set,
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
    """Evaluates one trial: compile (cached), simulate, store, score."""

    def __init__(
        self,
        settings: StudySettings,
        store: ResultStore,
        cache: CompileCache,
        done: dict[str, Evaluation | str],
    ):
        self.settings, self.store, self.cache = settings, store, cache
        self.done = done  # candidate key -> its evaluation, or the reason it cannot deploy
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
        record = TrialRecord(s.study_name, trial_id(trial), trial.number, previous)
        for name, value in violations(record, s.goals).items():
            trial.set_constraint(name, value)
        # Named with their units, for optuna-dashboard and ``optuna.load_study`` readers.
        trial.set_user_attr("instance_type", record.deployment.instance_type)
        trial.set_user_attr("throughput_seq_per_s", record.result.throughput)
        trial.set_user_attr("latency_p95_ms", record.latency.p95_ms)
        trial.set_user_attr("cost_per_1m_usd", record.cost.per_1m_usd)
        trial.set_user_attr("cost_per_hour_usd", record.cost.per_hour_usd)
        trial.set_user_attr("clients", record.result.concurrency)
        trial.set_user_attr("bottleneck", record.result.bottleneck)
        # Last, so that a process killed before its trial completes leaves at most this record,
        # which the worker that fails the dead trial deletes.
        if not self.store.add(record, while_running=True):
            raise optuna.exceptions.UpdateFinishedTrialError(
                f"trial {trial.number} was failed as dead by another worker (heartbeat late)"
            )
        return values(record, s.goals)

    def _evaluate(self, c: Candidate) -> Evaluation | str:
        s = self.settings
        run = experiment(c, s.space, s.seed or 0)
        try:
            ev = evaluate(run, self.cache)
            if run.load.open_loop and s.goals.objective == "max-throughput":
                ev = _with_capacity(ev, run, s, self.cache)
        except DeploymentError as e:
            return str(e)
        if run.load.open_loop:
            return ev  # the evaluation sized the fleet at the traffic
        fleet = fleet_size(ev.result.throughput, s.goals.target_qps)
        return dataclasses.replace(ev, cost=dataclasses.replace(ev.cost, fleet_size=fleet))


def _with_capacity(
    ev: Evaluation, run: Experiment, settings: StudySettings, cache: CompileCache
) -> Evaluation:
    """``ev`` with one instance's capacity: under the SLO by bisection if there is one, else
    the rate that keeps it at the utilisation cap."""
    slo = settings.goals.max_p95_ms
    saturation = ev.result.saturation_throughput or 0.0
    if slo is None:
        found = settings.space.max_utilization * saturation / run.load.sequences_per_request
    else:
        found = capacity(run, slo, cache).result.capacity_qps or 0.0
    return dataclasses.replace(ev, result=dataclasses.replace(ev.result, capacity_qps=found))


def _known(study: optuna.Study, stored: Sequence[TrialRecord]) -> dict[str, Evaluation | str]:
    """Configs this study already evaluated: their evaluations, or why they cannot deploy."""
    records = {r.trial_number: r for r in stored}
    done: dict[str, Evaluation | str] = {}
    for t in finished(study):
        key = t.user_attrs.get("candidate")
        if key is None:
            continue
        if t.state == optuna.trial.TrialState.FAIL and "error" in t.user_attrs:
            done.setdefault(key, str(t.user_attrs["error"]))
        elif t.number in records:
            done.setdefault(key, records[t.number].evaluation)
    return done


def _drop_strays(study: optuna.Study, store: ResultStore, stored: Sequence[TrialRecord]) -> None:
    """Delete the records of failed trials. A Ctrl-C between storing a trial's record and
    Optuna completing the trial fails the trial but leaves its record (a trial failed as dead
    loses its record in ``_Reclaim``); records stay one per completed trial."""
    states = (optuna.trial.TrialState.FAIL,)
    failed = {t.number for t in study.get_trials(deepcopy=False, states=states)}
    for r in stored:
        if r.trial_number in failed:
            store.delete_trial(r.optuna_trial_id)


def open_study(settings: StudySettings) -> optuna.Study:
    """Create the study, or continue it when the same space and goals were asked for."""
    storage = rdb_storage(settings.storage, writer=True)
    names = set(optuna.study.get_all_study_names(storage))
    exists = settings.study_name in names
    if settings.resume and not exists:
        raise InputError(
            f"--resume: no study named {settings.study_name!r} in "
            f"{settings.storage}; studies there: {', '.join(sorted(names)) or 'none'}"
        )
    seed = None if settings.worker else settings.seed
    sampler = make_sampler(settings.sampler, seed, settings.space, settings.n_jobs)
    if exists:
        study = optuna.load_study(study_name=settings.study_name, storage=storage, sampler=sampler)
        if identity(*load_goals(study)) != identity(settings.space, settings.goals):
            raise InputError(
                f"study {settings.study_name!r} already exists with a different objective, "
                "constraints or search space; choose another --study-name"
            )
        return study
    study = optuna.create_study(
        study_name=settings.study_name,
        storage=storage,
        sampler=sampler,
        directions=settings.goals.directions,
    )
    save_goals(study, settings, emulator_version())
    return study


def verify_recommendation(
    result: StudyOutcome, store: ResultStore, source: ModelSource, cache: CompileCache
) -> StudyOutcome:
    """Run the plan the study recommends for export on the functional path (once per plan) and
    store its numeric error in the trial's record. Only that plan: a cold study would otherwise
    spend most of its time executing plans nobody deploys (``autotune compile`` checks any)."""
    record = default_pick(list(result.best), result.goals)  # what export picks by default
    if record is None or record.evaluation.provenance.numeric_error is not None:
        return result
    ev = record.evaluation
    error = cache.get_error(ev.provenance.plan_key)
    if error is None:
        error = Verifier(source).error(_plan(ev, source, cache))
        cache.put_error(ev.provenance.plan_key, error)
    provenance = dataclasses.replace(ev.provenance, numeric_error=error)
    checked = dataclasses.replace(record, evaluation=dataclasses.replace(ev, provenance=provenance))
    store.add(checked)
    best_records = tuple(checked if r == record else r for r in result.best)
    return dataclasses.replace(result, best=best_records)


# Recommendations that get a latency-against-load curve (a Pareto set can be long).
_CURVES = 8


def with_load_curves(result: StudyOutcome, store: ResultStore, cache: CompileCache) -> StudyOutcome:
    """Measure the recommendations' latency from light load to saturation (open loop, their
    batching) and store it in their records, for the dashboard's latency-against-load chart."""
    updated = {}
    for record in result.best[:_CURVES]:
        ev = record.evaluation
        if ev.result.load_curve:
            continue
        run = Experiment(ev.workload, ev.deployment, ev.load, ev.cost.price_set)
        curve = dataclasses.replace(ev.result, load_curve=load_curve(run, cache))
        updated[record.trial_number] = dataclasses.replace(
            record, evaluation=dataclasses.replace(ev, result=curve)
        )
        store.add(updated[record.trial_number])
    best = tuple(updated.get(r.trial_number, r) for r in result.best)
    return dataclasses.replace(result, best=best)


def _plan(ev: Evaluation, source: ModelSource, cache: CompileCache) -> Any:
    from autotune.catalog import get_instance

    instance = get_instance(ev.deployment.instance_type)
    return compile_model(source, ev.workload, instance, ev.deployment, cache).plan


# Long: opening, resuming, enqueueing the baselines and the optimize loop read best in order.
def run_study(settings: StudySettings, callbacks: Sequence[Callback] = ()) -> StudyOutcome:
    """Run (or continue) the study to ``settings.trials`` finished trials.

    ``callbacks`` run after each trial of this process, as Optuna's do (a queue worker's stops
    the study once it is cancelled).
    """
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
    check_space(settings.space)
    store = ResultStore(settings.storage)
    study = open_study(settings)
    cache = CompileCache()
    stored = store.records(study.study_name)
    done = _known(study, stored)  # a stray record's evaluation is still known...
    _drop_strays(study, store, stored)  # ...but the record of a failed trial goes
    if not study.trials and settings.sampler != "grid":
        weights = cache.graph(
            (source.identity, source.task, min(settings.space.batch_sizes), settings.space.seq_len),
            lambda: capture_summary(
                source, min(settings.space.batch_sizes), settings.space.seq_len, cache
            ),
        ).weight_elements
        for params in warm_start(settings.space, weights):
            study.enqueue_trial(params, skip_if_exists=True)

    def enough(study: optuna.Study, _: optuna.trial.FrozenTrial) -> None:
        # Other workers may be adding trials to the same study.
        if len(finished(study)) >= settings.trials:
            study.stop()

    objective = Objective(settings, store, cache, done)
    every: list[Callback] = [enough, *callbacks]
    if settings.progress:
        every.append(Progress(settings.goals, store, settings.trials))
    deadline = None if settings.timeout is None else time.monotonic() + settings.timeout
    while (remaining := _remaining(study, settings, done)) > 0:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            break
        try:
            study.optimize(
                objective,
                n_trials=remaining,
                callbacks=every,
                timeout=left,
                n_jobs=settings.n_jobs,
                catch=(DeploymentError,),
            )
            break
        except optuna.exceptions.UpdateFinishedTrialError:
            # A slow trial of ours was taken for dead by another worker and retried there;
            # its result here is dropped (it never got a record) and the study goes on.
            continue
    result = outcome(study, store, settings.goals, settings.storage)
    result = verify_recommendation(result, store, source, cache)
    return with_load_curves(result, store, cache)


def _remaining(study: optuna.Study, settings: StudySettings, done: dict[str, Any]) -> int:
    remaining = settings.trials - len(finished(study))
    if settings.sampler == "grid":
        remaining = min(remaining, len(candidates(settings.space)) - len(done))
    return remaining


__all__ = ["Objective", "experiment", "open_study", "run_study", "verify_recommendation"]

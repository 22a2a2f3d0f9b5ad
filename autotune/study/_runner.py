"""The study: Optuna asks for deployments, the emulator answers, storage keeps everything.

Each trial suggests an instance, a batch size, then (define-by-run) only pipeline-core counts and
copy counts that fit that instance, so no trial is spent on an impossible deployment. A config
already evaluated in the study is answered from its stored result, not simulated again. The AWS
pipeline heuristic and a data-parallel baseline are enqueued first.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Any

import optuna

from autotune import __version__
from autotune.bench import BenchConfig, BenchReport, run_bench
from autotune.emulator import CompileCache, emulator_version
from autotune.errors import DeploymentError, InputError, choice_error
from autotune.models import resolve_model
from autotune.study._objectives import OBJECTIVES, Goals, fleet_size, values, violations
from autotune.study._space import (
    Candidate,
    SearchSpace,
    candidates,
    copies_choices,
    pipeline_choices,
)
from autotune.verify import Verifier
from storage import ResultStore, TrialRecord, serialize_sqlite

SAMPLERS = ("tpe", "gp", "nsga2", "random", "grid")
_ATTR_SPACE, _ATTR_GOALS = "autotune_space", "autotune_goals"


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


def make_sampler(
    name: str, seed: int | None, space: SearchSpace, n_jobs: int = 1
) -> optuna.samplers.BaseSampler:
    """The Optuna sampler called ``name``."""
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    if name == "tpe":
        # consider_endpoints is deprecated (removal in Optuna 6, hence the pin below 6) but
        # worth keeping: the best deployments sit at the ends of the shares, and without it
        # the median trials to the optimum rose from 38 to 60 (min-latency) and 55 to 63
        # (min-cost) in benchmarks/bench_search.py.
        warnings.filterwarnings("ignore", message=".*consider_endpoints", category=FutureWarning)
        return optuna.samplers.TPESampler(
            seed=seed,
            multivariate=True,
            group=True,
            consider_endpoints=True,
            # The warm start already gives it a few spread-out trials to learn from.
            n_startup_trials=5,
            constant_liar=n_jobs > 1,
        )
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        return optuna.samplers.GridSampler(
            {"candidate": [c.key for c in candidates(space)]}, seed=seed
        )
    raise choice_error("sampler", name, SAMPLERS)


def _index(trial: optuna.Trial, name: str, size: int, log: bool = False) -> int:
    """An index into ``size`` ordered choices from one shared float in [0, 1].

    Shared across instances, the float keeps its meaning ("smallest", "largest", "a quarter of
    the way") whatever the instance offers, so what the sampler learns on one instance carries
    over to the others. ``log`` spreads the choices geometrically (1, 2, 4, ... cores).
    """
    u = trial.suggest_float(name, 0.0, 1.0)
    position = math.exp(u * math.log(size + 1)) - 1 if log else u * size
    return min(size - 1, int(position))


def share_of(index: int, size: int, log: bool = False) -> float:
    """The float ``_index`` maps to ``index`` (for enqueued trials)."""
    if size <= 1:
        return 0.0
    if log:
        return math.log(index + 1.5) / math.log(size + 1)
    return (index + 0.5) / size


def suggest(trial: optuna.Trial, space: SearchSpace, grid: bool) -> Candidate:
    """The deployment this trial tries; only valid choices are ever offered."""
    if grid:
        by_key = {c.key: c for c in candidates(space)}
        return by_key[str(trial.suggest_categorical("candidate", list(by_key)))]
    instance = str(trial.suggest_categorical("instance_type", space.instances))
    batches = space.batch_sizes
    batch = (
        batches[_index(trial, "batch_size_share", len(batches))] if len(batches) > 1 else batches[0]
    )
    cores = pipeline_choices(space, instance)
    p = (
        cores[_index(trial, "pipeline_cores_share", len(cores), log=True)]
        if len(cores) > 1
        else cores[0]
    )
    copies = copies_choices(space, instance, p)
    c = copies[_index(trial, "copies_share", len(copies))] if len(copies) > 1 else copies[0]
    return Candidate(instance, batch, p, c)


def warm_start(space: SearchSpace, weights: int) -> list[dict[str, Any]]:
    """AWS's pipeline heuristic (4 * round(weights / 2e7)) and data parallel, per inf1 size.

    Both at the smallest batch and with as many copies as fit, as the AWS blog ran them.
    """
    heuristic = 4 * round(weights / 2e7)  # weights: parameters multiplied, tables aside
    trials = []
    for instance in space.instances:
        cores = pipeline_choices(space, instance)
        if len(cores) <= 1:
            continue
        for p in dict.fromkeys([1, heuristic]):
            if p in cores:
                trials.append(
                    {
                        "instance_type": instance,
                        "batch_size_share": 0.0,
                        "pipeline_cores_share": share_of(cores.index(p), len(cores), log=True),
                        "copies_share": 1.0,
                    }
                )
    return trials


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
    the places left are held by running trials, it waits for them (a dead one is failed once its
    heartbeat is stale, and its place freed) instead of pruning one trial after another.
    """
    # A trial killed before its first heartbeat never turns stale in Optuna: wait a bounded
    # time, then run this one rather than wait forever (a slow live trial may then overshoot).
    deadline = time.monotonic() + GRACE_S + 2 * HEARTBEAT_S
    while True:
        done, running = _ahead(trial)
        if done + running < wanted:
            return False
        if done >= wanted or running == 0:
            return True
        if time.monotonic() > deadline:
            return False
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
        self.store.add(record)
        for name, value in violations(record, s.goals).items():
            trial.set_constraint(name, value)
        for key in ("throughput", "latency_p95_ms", "cost_per_1m_usd", "bottleneck"):
            trial.set_user_attr(key, getattr(record, key))
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


def _identity(space: SearchSpace, goals: Goals) -> tuple[str, str]:
    return (
        json.dumps(space.model_dump(mode="json"), sort_keys=True),
        json.dumps(dataclasses.asdict(goals), sort_keys=True),
    )


# Seconds between heartbeats, and of silence after which a running trial counts as dead.
HEARTBEAT_S = int(os.environ.get("AUTOTUNE_HEARTBEAT_S", "5"))
GRACE_S = int(os.environ.get("AUTOTUNE_GRACE_S", "20"))


def rdb_storage(url: str, writer: bool = False) -> optuna.storages.RDBStorage:
    """Optuna's storage on ``url``; SQLite waits for a busy database instead of failing.

    A ``writer`` runs trials: each reports a heartbeat every few seconds, and one whose
    process died (Ctrl-C, ``kill -9``, a lost machine) is failed by the next worker after the
    grace period and enqueued again with the same parameters, never left running forever.
    SQLite writers take the write lock at the start of every transaction.
    """
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs = {"connect_args": {"timeout": 60}}
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    beat: dict[str, Any] = {}
    if writer:
        beat = {
            "heartbeat_interval": HEARTBEAT_S,
            "grace_period": GRACE_S,
            "heartbeat_stale_trial_callback": optuna.storages.RetryHeartbeatStaleTrialCallback(
                max_retry=3
            ),
        }
    try:
        storage = optuna.storages.RDBStorage(url, engine_kwargs=kwargs, **beat)
    except Exception as e:  # SQLAlchemy and Optuna raise many types for a bad database
        raise InputError(
            f"storage {url!r} cannot be opened as an Optuna database: {str(e).splitlines()[0]}"
        ) from e
    if writer and url.startswith("sqlite"):
        serialize_sqlite(storage.engine)
    return storage


def load_goals(study: optuna.Study) -> tuple[SearchSpace, Goals]:
    """The space and goals a study was created with."""
    from autotune.study._space import parse_space

    attrs = study.user_attrs
    if _ATTR_SPACE not in attrs or _ATTR_GOALS not in attrs:
        raise InputError(f"study {study.study_name!r} was not created by autotune")
    space = parse_space(json.loads(attrs[_ATTR_SPACE]), f"study {study.study_name!r}")
    return space, Goals(**json.loads(attrs[_ATTR_GOALS]))


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
        if _identity(*load_goals(study)) != _identity(settings.space, settings.goals):
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
    space_json, goals_json = _identity(settings.space, settings.goals)
    study.set_user_attr(_ATTR_SPACE, space_json)
    study.set_user_attr(_ATTR_GOALS, goals_json)
    study.set_user_attr("autotune_version", __version__)
    study.set_user_attr(
        "autotune_run",
        {"trials": settings.trials, "sampler": settings.sampler, "seed": settings.seed},
    )
    study.set_user_attr("emulator_version", emulator_version())
    return study


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
    failed = sum(t.state == optuna.trial.TrialState.FAIL for t in finished)
    return StudyOutcome(
        study.study_name,
        url,
        goals,
        len(finished),
        len(finished) - failed,
        failed,
        tuple(best(store.records(study.study_name), goals)),
    )


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
    remaining = settings.trials - len(_finished(study))
    if settings.sampler == "grid":
        remaining = min(remaining, len(candidates(settings.space)) - len(done))
    if remaining > 0:
        if not study.trials and settings.sampler != "grid":
            weights = _weights(source, settings.space, cache)
            for params in warm_start(settings.space, weights):
                study.enqueue_trial(params, skip_if_exists=True)

        def enough(study: optuna.Study, _: optuna.trial.FrozenTrial) -> None:
            # Other workers may be adding trials to the same study.
            if len(_finished(study)) >= settings.trials:
                study.stop()

        study.optimize(
            Objective(settings, store, cache, done),
            n_trials=remaining,
            callbacks=[enough],
            timeout=settings.timeout,
            n_jobs=settings.n_jobs,
            catch=(DeploymentError,),
            show_progress_bar=settings.progress,
        )
    return outcome(study, store, settings.goals, settings.storage)


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
    "SAMPLERS",
    "Objective",
    "StudyOutcome",
    "StudySettings",
    "load_goals",
    "make_sampler",
    "open_study",
    "outcome",
    "rdb_storage",
    "run_study",
    "suggest",
    "to_record",
    "warm_start",
]

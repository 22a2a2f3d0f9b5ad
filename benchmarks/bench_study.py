"""Wall time of a 300-trial study on the default space, cold and warm compile cache.

    python benchmarks/bench_study.py [--trials 300] [--objective min-latency] [--space FILE]

Runs the real command line (`autotune study ... --json`) in a subprocess, imports included:
first with an empty compile cache (every plan compiled and functionally checked), then again
with that cache warm and a fresh database (every trial still simulated and stored). Goals
(issue "Tuning studies"): warm within 60 s, cold within 3 minutes on this 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path


def _run(
    trials: int, objective: str, space: list[str], cache: Path, db: Path
) -> tuple[float, dict[str, object]]:
    env = dict(os.environ, AUTOTUNE_CACHE_DIR=str(cache))
    started = time.perf_counter()
    out = subprocess.run(
        [
            "autotune",
            "study",
            "--objective",
            objective,
            "--trials",
            str(trials),
            "--storage",
            f"sqlite:///{db}",
            "--study-name",
            "bench",
            "--json",
            *space,
        ],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - started, json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--objective", default="min-latency")
    parser.add_argument("--space", help="search space YAML (default: the shipped default)")
    args = parser.parse_args()
    space = ["--space", args.space] if args.space else []
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "plans"
        cold, result = _run(args.trials, args.objective, space, cache, Path(tmp) / "cold.db")
        plans = len(list(cache.glob("*.check.json")))
        warm, _ = _run(args.trials, args.objective, space, cache, Path(tmp) / "warm.db")
    best = result["best"][0] if result["best"] else None  # type: ignore[index]
    print(
        f"| run | trials | wall s |\n|---|---:|---:|\n| cold cache | {args.trials} | "
        f"{cold:.1f} |\n| warm cache | {args.trials} | {warm:.1f} |"
    )
    print(
        f"\n{plans} distinct plans compiled and functionally checked in the cold run; "
        f"recommendation: {json.dumps(best)}"
    )


if __name__ == "__main__":
    main()

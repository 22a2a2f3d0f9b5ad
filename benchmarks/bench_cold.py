"""Cold start: the command line from an empty compile cache, against the same run warm.

    python benchmarks/bench_cold.py [--trials 100] [--repeats 3]

Goals (issue "One seam per hardware generation..."): a cold ``autotune bench`` (new compile, CLI
process) at most 5 s slower than a warm one; the README's first command (a 100-trial study of
bert-base-uncased from an empty compile cache) within 45 s; its peak memory within 1.5 GB.
Each run is a fresh ``autotune`` process with its own compile cache (``AUTOTUNE_CACHE_DIR``) and
database; wall time and the peak resident memory of the process (``ru_maxrss`` of the child) are
measured. Prints a Markdown table. The machine should be otherwise idle.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(args: list[str], cache: Path, cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one ``autotune`` process."""
    env = {**os.environ, "AUTOTUNE_CACHE_DIR": str(cache)}
    command = [sys.executable, "-c", "from autotune.cli import main; main()", *args]
    started = time.perf_counter()
    pid = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL).pid
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"autotune {' '.join(args)} failed")
    return seconds, usage.ru_maxrss / 1024


def cold_and_warm(args: list[str], repeats: int) -> tuple[list[float], list[float], float]:
    colds, warms, peak = [], [], 0.0
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            cache, cwd = Path(tmp) / "plans", Path(tmp)
            seconds, rss = run(args, cache, cwd)
            colds.append(seconds)
            peak = max(peak, rss)
            (cwd / "autotune.db").unlink(missing_ok=True)
            warms.append(run(args, cache, cwd)[0])
    return colds, warms, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    a = parser.parse_args()
    print("| run | cold (empty cache) | warm | cold - warm | peak RSS cold | goal |")
    print("|---|---:|---:|---:|---:|---|")
    cases = [
        ("`autotune bench`", ["bench", "--json"], "cold - warm <= 5 s"),
        (
            f"`autotune study --objective pareto --trials {a.trials}`",
            ["study", "--objective", "pareto", "--trials", str(a.trials), "--json"],
            "cold <= 45 s, <= 1.5 GB",
        ),
    ]
    for name, args, goal in cases:
        colds, warms, peak = cold_and_warm(args, a.repeats)
        cold, warm = statistics.median(colds), statistics.median(warms)
        print(
            f"| {name} | {cold:.1f} s | {warm:.1f} s | {cold - warm:.1f} s | {peak:.0f} MB | "
            f"{goal} |"
        )
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"\n(median of {a.repeats}; children's CPU time {usage.ru_utime + usage.ru_stime:.0f} s)")


if __name__ == "__main__":
    main()

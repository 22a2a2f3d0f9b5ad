"""Speed of the emulator: cold and cached compile, and one simulated config.

    python benchmarks/bench_speed.py

Goals (issue "Emulated Inferentia backend"): cold compile of bert-base-uncased at sequence 128,
any batch up to 16 and any pipeline cores, within 5 s; cached compile within 0.1 s; one
simulated config of 2,000 requests within 0.2 s. Compile times are measured in-process (the
interpreter, torch and transformers already imported); the CLI's wall time, imports included,
is measured too. Prints a Markdown table.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autotune.catalog import get_instance
from autotune.emulator import CompileCache, compile_model, place, run_load
from autotune.models import resolve_model
from autotune.models.build import build_model
from autotune.values import Deployment, Workload

BATCHES = (1, 4, 8, 16)
PIPELINES = (1, 4, 16)


def main() -> None:
    source = resolve_model("bert-base-uncased")
    instance = get_instance("inf1.6xlarge")
    build_model(source, meta=True)  # import transformers' model code once, outside the timing
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = CompileCache(Path(tmp))
        for batch in BATCHES:
            for cores in PIPELINES:
                workload = Workload(batch_size=batch)
                deployment = Deployment.of(instance.name, pipeline_cores=cores)
                cold = compile_model(source, workload, instance, deployment, cache)
                warm = min(
                    compile_model(source, workload, instance, deployment, cache).seconds
                    for _ in range(5)
                )
                placement = place(cold.plan, instance, deployment)
                started = time.perf_counter()
                run_load(placement, concurrency=2 * len(placement.copies) * cores, requests=2000)
                sim = time.perf_counter() - started
                rows.append((batch, cores, cold.seconds, warm, sim))
        env = dict(os.environ, AUTOTUNE_CACHE_DIR=tmp + "/cli")
        cli = []
        for _ in range(2):  # first run cold (empty cache), second cached
            started = time.perf_counter()
            subprocess.run(
                [
                    "autotune",
                    "compile",
                    "--no-verify",
                    "--batch-size",
                    "16",
                    "--pipeline-cores",
                    "16",
                    "--instance",
                    "inf1.6xlarge",
                ],
                check=True,
                env=env,
                capture_output=True,
            )
            cli.append(time.perf_counter() - started)
    print("| batch | pipeline cores | cold compile s | cached compile s | simulate 2,000 req s |")
    print("|---:|---:|---:|---:|---:|")
    for batch, cores, cold_s, warm_s, sim_s in rows:
        print(f"| {batch} | {cores} | {cold_s:.2f} | {warm_s:.4f} | {sim_s:.3f} |")
    print(
        f"\nworst: cold {max(r[2] for r in rows):.2f} s, cached {max(r[3] for r in rows):.4f}"
        f" s, simulate {max(r[4] for r in rows):.3f} s"
    )
    print(
        f"CLI `autotune compile --no-verify` (batch 16, 16 cores), wall time with imports: "
        f"cold {cli[0]:.2f} s, cached {cli[1]:.2f} s",
        file=sys.stdout,
    )


if __name__ == "__main__":
    main()

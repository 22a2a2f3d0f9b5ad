"""Throughput against batch size on inf1.xlarge data parallel (bert-base, sequence 128).

    python benchmarks/plot_batch_curve.py      # prints the curve, saves docs/batch_curve.png

Four copies, two clients per copy (the way neuronperf loads a data-parallel deployment), the
shipped calibration. Needs matplotlib for the picture (the figures print without it).
"""

from __future__ import annotations

from pathlib import Path

from autotune.emulator import CompileCache
from autotune.evaluation import evaluate
from autotune.values import Deployment, Experiment, Load, Workload

BATCHES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)
OUT = Path(__file__).resolve().parents[1] / "docs" / "batch_curve.png"


def curve() -> list[tuple[int, float, float, str]]:
    """(batch, throughput, p50 ms, bottleneck) for each batch size."""
    cache = CompileCache()
    deployment = Deployment.of("inf1.xlarge", pipeline_cores=1, group_sizes=(1, 1, 1, 1))
    out = []
    for batch in BATCHES:
        workload = Workload("bert-base-uncased", "question-answering", 128, batch)
        ev = evaluate(Experiment(workload, deployment, Load(concurrency=8, requests=1000)), cache)
        out.append((batch, ev.result.throughput, ev.result.latency.p50_ms, ev.result.bottleneck))
    return out


def main() -> None:
    points = curve()
    for batch, throughput, p50, bottleneck in points:
        print(f"batch {batch:3d}: {throughput:7.1f} seq/s  p50 {p50:7.2f} ms  {bottleneck}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no picture")
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([p[0] for p in points], [p[1] for p in points], marker="o")
    ax.set_xscale("log", base=2)
    ax.set_xticks(BATCHES, [str(b) for b in BATCHES])
    ax.set_xlabel("batch size (compiled)")
    ax.set_ylabel("throughput (sequences/s)")
    ax.set_ylim(bottom=0)
    ax.set_title("bert-base seq 128, inf1.xlarge data parallel (4 copies, 8 clients)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, dpi=120)
    print(f"saved {OUT}")


if __name__ == "__main__":
    main()

"""The p95 latency and cost of every deployment a study tried, by hardware family, with the front.

    python benchmarks/plot_front.py --storage sqlite:///autotune.db [--study-name N] [-o PNG]

Reads the study through autotune's read side (the same records and Pareto set the dashboard
draws) and saves a picture with matplotlib (a dev dependency), e.g. ``docs/current_front.png``
for the README's example on ``search_spaces/current.yaml``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from autotune.study import Goals, feasible, pareto_front, unique
from autotune.study.read import open_existing, resolve_name


def family(instance_type: str) -> str:
    return instance_type.split(".")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", required=True)
    parser.add_argument("--study-name")
    parser.add_argument("-o", "--output", type=Path, default=Path("docs/current_front.png"))
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    opened = open_existing(args.storage, resolve_name(args.storage, args.study_name))
    records = unique(opened.records())
    goals = Goals("pareto", opened.goals.max_p95_ms, opened.goals.min_throughput)
    ok = [r for r in records if feasible(r, goals)]
    front = pareto_front(ok, goals)
    fig, ax = plt.subplots(figsize=(8, 5))
    for name in sorted({family(r.deployment.instance_type) for r in records}):
        mine = [r for r in records if family(r.deployment.instance_type) == name]
        ax.scatter(
            [r.latency.p95_ms for r in mine], [r.cost.per_1m_usd for r in mine], s=14, label=name
        )
    ax.plot(
        [r.latency.p95_ms for r in front],
        [r.cost.per_1m_usd for r in front],
        "k-",
        lw=1,
        label="Pareto front",
    )
    if goals.max_p95_ms:
        ax.axvline(goals.max_p95_ms, color="grey", ls="--", lw=1, label="p95 limit")
    ax.set(xscale="log", yscale="log", xlabel="p95 latency (ms)", ylabel="$ per 1M inferences")
    ax.set_title(f"{opened.study.study_name}: {len(records)} deployments")
    ax.legend(fontsize=8)
    fig.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, dpi=120)
    print(f"wrote {args.output}; front:")
    for r in front:
        print(
            f"  {r.deployment.instance_type} b{r.workload.batch_size}: "
            f"p95 {r.latency.p95_ms:.2f} ms, ${r.cost.per_1m_usd:.4f} per 1M"
        )


if __name__ == "__main__":
    main()

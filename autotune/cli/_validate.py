"""What ``autotune validate`` prints: every public figure by source, and the blog's conclusions."""

from __future__ import annotations

from collections.abc import Sequence

from autotune.cli._format import table
from autotune.reference import Validated, ValidationRow
from autotune.reference._validate import median


def table_text(rows: Sequence[ValidationRow], left_out: bool) -> str:
    """Rows grouped by source, then the median and worst error over all of them."""
    headers = ["id", "metric", "predicted", "published", "error", "source"]
    body = []
    for r in rows:
        span = f"{r.lo:g}" if r.lo == r.hi else f"{r.lo:g}-{r.hi:g}"
        body.append([r.id, r.metric, f"{r.predicted:.2f}", span, f"{r.error:.1%}", r.source])
    errors = [r.error for r in rows]
    how = "each source predicted by a fit without it" if left_out else "in sample"
    summary = (
        f"{len(rows)} figures ({how}): median error {median(errors):.1%}, worst {max(errors):.1%}"
        " (0 inside the published span)"
    )
    return f"{table(headers, body)}\n\n{summary}"


def conclusions(rows: Sequence[Validated]) -> str:
    """The AWS blog's three conclusions, each checked on the emulator's figures."""
    inf1 = [v for v in rows if v.row.mode != "gpu"]

    def best(batch: int, key: str, low: bool) -> Validated:
        pool = [v for v in inf1 if v.row.batch_size == batch]
        value = {
            "p95": lambda v: v.evaluation.result.latency.p95_ms,
            "cost": lambda v: v.evaluation.cost.per_1m_usd,
            "throughput": lambda v: -v.evaluation.result.throughput,
        }[key]
        return min(pool, key=value) if low else max(pool, key=value)

    def name(v: Validated) -> str:
        return f"{v.row.instance_type} {v.row.mode} at batch {v.row.batch_size}"

    fastest, cheap1 = best(1, "p95", True), best(1, "cost", True)
    pipeline16 = fastest.row.mode == "pipeline" and fastest.row.pipeline_cores == 16
    widest = best(6, "throughput", True)
    cheapest = min(inf1, key=lambda v: v.evaluation.cost.per_1m_usd)
    claims = [
        (
            "at batch 1 the inf1.6xlarge 16-core pipeline has the lowest latency and cost",
            fastest is cheap1 and pipeline16,
            f"lowest p95: {name(fastest)}; lowest cost: {name(cheap1)}",
        ),
        (
            "at batch 6 inf1.6xlarge data parallel has the highest throughput",
            widest.row.instance_type == "inf1.6xlarge" and widest.row.mode == "data-parallel",
            name(widest),
        ),
        (
            "the cheapest per inference is inf1.xlarge data parallel at batch 6",
            (cheapest.row.instance_type, cheapest.row.mode, cheapest.row.batch_size)
            == ("inf1.xlarge", "data-parallel", 6),
            name(cheapest),
        ),
    ]
    lines = ["The AWS blog's conclusions, on the emulator's figures:"]
    lines += [f"  {'holds' if ok else 'FAILS'}: {claim} ({seen})" for claim, ok, seen in claims]
    return "\n".join(lines)

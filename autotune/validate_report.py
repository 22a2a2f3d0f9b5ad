"""``autotune validate``: the published table beside the emulator's figures."""

from __future__ import annotations

from autotune.bench import BenchConfig, run_bench
from autotune.emulator import CompileCache
from autotune.validation import (
    PUBLISHED_MODEL,
    PUBLISHED_PRICE_SET,
    PUBLISHED_SEQ_LEN,
    PUBLISHED_TASK,
    published_rows,
)


def _pct(emulated: float, published: float) -> float:
    return round((emulated / published - 1) * 100, 2)


def validate_rows(requests: int = 2000) -> list[dict[str, object]]:
    """One dict per published row with the emulator's throughput, p95 and cost beside it."""
    out = []
    cache = CompileCache()
    for row in published_rows():
        report = run_bench(
            BenchConfig(
                instance_type=row.instance_type,
                batch_size=row.batch_size,
                pipeline_cores=row.pipeline_cores,
                group_sizes=row.group_sizes,
                model=PUBLISHED_MODEL,
                task=PUBLISHED_TASK,
                seq_len=PUBLISHED_SEQ_LEN,
                concurrency=row.clients,
                requests=requests,
                price_set=PUBLISHED_PRICE_SET,
            ),
            cache,
        )
        p95 = report.result.latency_s.p95
        out.append(
            {
                "instance_type": row.instance_type,
                "batch_size": row.batch_size,
                "mode": row.mode,
                "pipeline_cores": row.pipeline_cores,
                "group_sizes": list(row.group_sizes),
                "clients": row.clients,
                "throughput_published": row.throughput,
                "throughput": round(report.result.throughput, 2),
                "throughput_error_pct": _pct(report.result.throughput, row.throughput),
                "p95_ms_published": row.latency_p95_s * 1e3,
                "p95_ms": round(p95 * 1e3, 3),
                "p95_error_pct": _pct(p95, row.latency_p95_s),
                "cost_per_1m_published": row.cost_per_1m_usd,
                "cost_per_1m_usd": round(report.cost_per_1m_usd, 4),
                "bottleneck": report.result.bottleneck,
            }
        )
    return out

"""``autotune bench --qps`` and ``autotune capacity`` on the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.study.helpers import MINILM, run_cli

SMALL = ["--model", MINILM, "--seq-len", "32", "--requests", "500"]


def test_bench_at_a_rate_reports_it(tmp_path: Path) -> None:
    run = run_cli(
        tmp_path,
        "bench",
        *SMALL,
        "--qps",
        "200",
        "--batch-size",
        "4",
        "--max-batch-delay-ms",
        "2",
        "--json",
    )
    assert run.code == 0, run.err
    out = run.json()
    assert out["offered_qps"] == 200
    assert out["traffic"] == {
        "kind": "open-loop",
        "qps": 200.0,
        "arrival": "poisson",
        "sequences_per_request": 1,
    }
    assert out["max_batch_delay_ms"] == 2.0 and 1 <= out["mean_batch"] <= 4
    assert out["latency_ms"]["p50"] <= out["latency_ms"]["p95"]


def test_capacity_meets_its_slo(tmp_path: Path) -> None:
    run = run_cli(tmp_path, "capacity", *SMALL, "--max-p95-ms", "20", "--json")
    assert run.code == 0, run.err
    out = run.json()
    assert out["capacity_qps"] > 0 and out["latency_ms"]["p95"] <= 20


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bench", "--traffic", "closed-loop", "--qps", "5"], "--qps applies to open-loop"),
        (["bench", "--traffic", "open-loop"], "needs --qps"),
        (["bench", "--qps", "5", "--concurrency", "2"], "--concurrency applies to closed-loop"),
        (["bench", "--qps", "0"], "qps 0.0 must be a positive number"),
        (["bench", "--qps", "5", "--max-batch-delay-ms", "-1"], "max batch delay -1.0 ms"),
        (["bench", "--traffic", "bursty"], "unknown traffic 'bursty'"),
        (["capacity", "--max-p95-ms", "-2"], "max p95 -2.0 ms must be positive"),
    ],
)
def test_bad_traffic_is_one_line_and_exit_2(tmp_path: Path, args, message) -> None:
    run = run_cli(tmp_path, *args)
    assert run.code == 2 and message in run.err and len(run.err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())

"""The published AWS blog table, and the emulator reproducing it (``validate_rows``)."""

from __future__ import annotations

import pytest

from autotune.reference import published_rows, validate_rows

INF1 = ("inf1.xlarge", "inf1.6xlarge")


def test_published_table():
    rows = published_rows()
    assert len(rows) == 10
    assert {r.instance_type for r in rows} == {*INF1, "g4dn.xlarge"}
    assert sorted({r.batch_size for r in rows}) == [1, 6, 64]
    headline = next(
        r
        for r in rows
        if r.instance_type == "inf1.6xlarge" and r.batch_size == 1 and r.mode == "pipeline"
    )
    assert (headline.pipeline_cores, headline.copies) == (16, 1)
    assert headline.deployment.knob("group_sizes") == (16,)
    assert (headline.throughput, headline.latency_p95_s) == (1793, 0.0069)
    dp = next(
        r
        for r in rows
        if r.instance_type == "inf1.xlarge" and r.batch_size == 6 and r.mode == "data-parallel"
    )
    assert (dp.deployment.knob("group_sizes"), dp.cost_per_1m_usd) == ((1, 1, 1, 1), 0.10)


def test_clients_follow_littles_law():
    by_key = {(r.instance_type, r.batch_size, r.mode): r for r in published_rows()}
    # 1793 seq/s x 6.9 ms / batch 1 = 12.4 clients in flight -> 12.
    assert by_key["inf1.6xlarge", 1, "pipeline"].clients == 12
    # 245 x 16.5 ms / 1 / 4 copies = 1.01 per copy -> 4 clients.
    assert by_key["inf1.xlarge", 1, "data-parallel"].clients == 4
    assert by_key["g4dn.xlarge", 64, "gpu"].clients == 1
    for r in by_key.values():
        assert r.clients >= r.copies and r.clients % r.copies == 0


def test_published_costs_follow_from_the_blog_prices():
    from autotune.catalog import price_per_hour

    for r in published_rows():
        price = price_per_hour(r.instance_type, "on-demand-2021-05")
        assert price / (r.throughput * 3600) * 1e6 == pytest.approx(r.cost_per_1m_usd, abs=0.006)


@pytest.fixture(scope="module")
def validated() -> list[dict]:
    """Every blog row with the emulator's figures, once for the module (~10 s)."""
    out = []
    for v in validate_rows(requests=1000):
        d = v.to_dict()
        d["pipeline_cores"] = v.evaluation.deployment.knob("pipeline_cores")
        out.append(d)
    return out


def _row(rows, instance, batch, mode):
    (row,) = [
        r
        for r in rows
        if (r["instance_type"], r["batch_size"], r["mode"]) == (instance, batch, mode)
    ]
    return row


def test_validate_gives_every_published_row(validated):
    assert len(validated) == 10
    assert [(r["instance_type"], r["batch_size"], r["mode"]) for r in validated] == [
        (r.instance_type, r.batch_size, r.mode) for r in published_rows()
    ]


@pytest.mark.parametrize("index", range(10))
def test_each_row_within_tolerance(validated, index):
    row = validated[index]
    tolerance = 10 if row["instance_type"] in INF1 else 20  # percent
    assert abs(row["throughput"] / row["throughput_published"] - 1) * 100 <= tolerance
    assert abs(row["p95_ms"] / row["p95_ms_published"] - 1) * 100 <= tolerance
    assert row["throughput_error_pct"] == pytest.approx(
        (row["throughput"] / row["throughput_published"] - 1) * 100, abs=0.02
    )


def test_batch_1_pipeline_16_has_lowest_latency_and_cost(validated):
    batch1 = [r for r in validated if r["batch_size"] == 1 and r["instance_type"] in INF1]
    assert len(batch1) == 4
    best = _row(validated, "inf1.6xlarge", 1, "pipeline")
    assert best["pipeline_cores"] == 16
    assert best["p95_ms"] == min(r["p95_ms"] for r in batch1)
    assert best["cost_per_1m_usd"] == min(r["cost_per_1m_usd"] for r in batch1)


def test_batch_6_data_parallel_on_6xlarge_has_highest_throughput(validated):
    batch6 = [r for r in validated if r["batch_size"] == 6]
    best = _row(validated, "inf1.6xlarge", 6, "data-parallel")
    assert best["throughput"] == max(r["throughput"] for r in batch6)


def test_cheapest_per_inference_is_xlarge_batch_6_data_parallel(validated):
    cheapest = min(validated, key=lambda r: r["cost_per_1m_usd"])
    assert (cheapest["instance_type"], cheapest["batch_size"], cheapest["mode"]) == (
        "inf1.xlarge",
        6,
        "data-parallel",
    )


def test_inferentia_beats_the_gpu(validated):
    gpu = _row(validated, "g4dn.xlarge", 1, "gpu")
    headline = _row(validated, "inf1.6xlarge", 1, "pipeline")
    assert headline["throughput"] > 10 * gpu["throughput"]
    assert headline["cost_per_1m_usd"] < 0.4 * gpu["cost_per_1m_usd"]

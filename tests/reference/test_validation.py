"""The validation API: every public figure with its prediction, leave-one-source-out, and the
uncertainty of a prediction's regime."""

from __future__ import annotations

import pytest

from autotune.hardware import load_calibration
from autotune.reference import (
    cross_validation,
    measurements,
    uncertainty,
    validation_table,
)
from autotune.reference._uncertainty import regime, regime_table

# bert-base at sequence 128, batch 1 and 6 only: the shapes other tests compile too.
QUICK = ("blog-inf1.xlarge-b1-data-parallel", "blog-inf1.xlarge-b1-pipeline", "onecore-bs1")


@pytest.fixture(scope="module")
def quick_rows(session_cache):
    return [m for m in measurements()[0] if m.id in QUICK]


def test_table_rows_have_the_published_fields(quick_rows, session_cache):
    table = validation_table(rows=quick_rows, cache=session_cache, requests=400)
    assert len(table) == len(quick_rows) == 6
    keys = {"id", "source", "metric", "predicted", "lo", "hi", "error"}
    for row in table:
        d = row.to_dict()
        assert set(d) == keys
        assert d["error"] == pytest.approx(
            max(0.0, (row.lo - row.predicted) / row.lo, (row.predicted - row.hi) / row.hi),
            abs=1e-4,
        )
        assert row.error < 0.2  # in sample
    # Grouped by source: the blog's rows first, then neuronperf's.
    assert [r.source.split()[0] for r in table] == ["AWS"] * 4 + ["neuronperf"] * 2


def test_cross_validation_holds_each_source_out(quick_rows, session_cache):
    """Two sources: each is predicted by a fit on the other only (one short fit each)."""
    folds = cross_validation(rows=quick_rows, cache=session_cache, requests=200, max_nfev=1)
    assert sorted(r.id for r in folds) == sorted(m.id for m in quick_rows)
    assert {r.source.split()[0] for r in folds} == {"AWS", "neuronperf"}


def test_regimes_and_uncertainty_lookup():
    assert regime("neuroncore-v1", 1, 4, 4) == ("neuroncore-v1", "1", "light")
    assert regime("neuroncore-v1", 6, 8, 4) == ("neuroncore-v1", "2-8", "queued")
    assert regime("gpu", 64, 1, 1) == ("gpu", "9+", "light")
    table = validation_table(rows=[], calibration=load_calibration())
    assert table == []
    summary = regime_table([])
    assert summary["all"] == {"throughput_rel": None, "latency_rel": None, "rows": 0}


def test_every_evaluation_gets_an_uncertainty(session_cache):
    from autotune.evaluation import evaluate
    from autotune.values import Deployment, Experiment, Load, Workload

    ev = evaluate(
        Experiment(
            Workload("bert-base-uncased", "question-answering", 128, 1),
            Deployment.of("inf1.xlarge", pipeline_cores=1),
            Load(concurrency=4, requests=200),
        ),
        session_cache,
    )
    u = uncertainty(ev)
    assert 0 < u.throughput_rel < 0.5 and 0 < u.latency_rel < 0.5
    assert set(u.to_dict()) == {"throughput_rel", "latency_rel"}


def test_calibration_yaml_rewrites_values_and_keeps_comments():
    import dataclasses

    from autotune.hardware import parse_calibration
    from autotune.hardware._calibration import calibration_text
    from autotune.reference._fit import calibration_yaml

    text = calibration_text()
    cal = dict(parse_calibration(text))
    cal["neuroncore-v1"] = dataclasses.replace(cal["neuroncore-v1"], jitter_sigma=0.123456)
    gpu = dict(cal["gpu"])
    gpu["tensorrt-int8"] = dataclasses.replace(gpu["tensorrt-int8"], kernel_launch_s=7e-6)
    cal["gpu"] = gpu
    rewritten = calibration_yaml(cal, text)
    assert parse_calibration(rewritten) == cal
    comments = [line.split("#", 1)[1] for line in text.splitlines() if "#" in line]
    assert comments == [line.split("#", 1)[1] for line in rewritten.splitlines() if "#" in line]
    assert calibration_yaml(parse_calibration(text), text) == text  # the shipped file is a fixpoint

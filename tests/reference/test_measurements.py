"""Every public measurement as a typed row and an experiment, and the error against a span."""

from __future__ import annotations

import pytest
from pytest import approx

from autotune.catalog import load_instances
from autotune.reference import (
    Measurement,
    blog_measurements,
    measurements,
    public_rows,
    released_measurements,
)
from autotune.reference._validate import source_of
from autotune.values import Experiment


def test_public_rows_are_typed():
    rows = public_rows()
    assert len(rows) == 38
    pp16 = rows[0]
    assert (pp16.id, pp16.instance, pp16.batch, pp16.pipeline_cores) == (
        "pp16-bs1-c12",
        "inf1.6xlarge",
        1,
        16,
    )
    assert (pp16.group_sizes, pp16.copies, pp16.concurrency, pp16.stack) == ((16,), None, 12, None)
    assert (pp16.metric, pp16.lo, pp16.hi) == ("throughput", 1681, 2080)
    dp = next(r for r in rows if r.id == "dp4x2-bs6")
    assert dp.deployment.knob("group_sizes") == (1, 1, 1, 1)
    trt = next(r for r in rows if r.id == "t4-trt16-b8")
    assert trt.deployment.knob("stack") == "tensorrt-fp16" and trt.pipeline_cores is None
    assert {r.metric for r in rows} == {"throughput", "p50_ms", "mean_ms"}


def test_rows_of_instances_not_in_the_catalog_are_skipped_with_a_note():
    released, notes = released_measurements()
    known = set(load_instances())
    assert all(m.experiment.deployment.instance_type in known for m in released)
    assert len(released) + len(notes) == len(public_rows())
    assert all("is not in the catalog" in n for n in notes)
    # Every released row's instance is in the catalog now (inf2 and trn1 included).
    assert not notes


def test_blog_rows_give_throughput_and_p95():
    blog = blog_measurements()
    assert len(blog) == 20 and {m.metric for m in blog} == {"throughput", "p95_ms"}
    headline = [m for m in blog if m.id == "blog-inf1.6xlarge-b1-pipeline"]
    assert [(m.metric, m.lo) for m in headline] == [("throughput", 1793), ("p95_ms", approx(6.9))]
    assert headline[0].experiment.load.concurrency == 12


def test_sources_group_a_publication():
    rows, _ = measurements()
    sources = {source_of(m) for m in rows}
    # One publication, whichever figure of it: the p50 of onecore-bs1 cites a second source.
    assert "neuronperf 2.11-2.20 latency-optimized" in sources
    assert "NVIDIA TensorRT demo/BERT README" in sources
    assert len(sources) == 11


@pytest.mark.parametrize(
    ("predicted", "error"), [(90, 0.1), (100, 0.0), (110, 0.0), (120, 0.0), (132, 0.1)]
)
def test_error_is_zero_inside_the_span(predicted, error):
    m = Measurement("x", "s", "throughput", 100, 120, Experiment())
    assert m.error(predicted) == pytest.approx(error)

"""Studies at a traffic: the space's traffic keys, the objectives at the traffic, and what the
output says about the recommendation's cores."""

from __future__ import annotations

import dataclasses
import itertools
import time
from typing import Any

import pytest

from autotune.cli._results import core_use_note
from autotune.errors import InputError
from autotune.evaluation import CURVE_LOAD
from autotune.study import parse_space
from autotune.values import Load
from storage import ResultStore
from tests.factories import record
from tests.study.helpers import SMALL, run_cli, sqlite_url

BASE: dict[str, Any] = {"instances": ["inf1.xlarge"], "batch_sizes": [1, 2]}


def test_open_loop_space_gives_the_trials_load() -> None:
    space = parse_space(
        BASE
        | {
            "traffic": {"kind": "open-loop", "qps": 500},
            "max_batch_delay_ms": [5, 0, 2],
            "max_utilization": 0.7,
        }
    )
    assert space.open_loop and space.max_batch_delay_ms == (0.0, 2.0, 5.0)
    assert space.load(2.0, seed=3) == Load(
        requests=2000, seed=3, qps=500.0, max_batch_delay_ms=2.0, max_utilization=0.7
    )
    closed = parse_space(BASE | {"traffic": {"kind": "closed-loop", "clients": 3}})
    assert closed.load() == Load(concurrency=3)
    assert parse_space(BASE).load() == Load()  # spaces without traffic: the closed loop


@pytest.mark.parametrize(
    ("traffic", "message"),
    [
        ({"kind": "open-loop"}, "traffic: open-loop traffic needs qps"),
        ({"kind": "closed-loop", "qps": 5}, "closed-loop traffic takes clients, not qps"),
        ({"kind": "open-loop", "qps": -1}, "traffic.qps"),
        ({"kind": "bursty", "qps": 5}, "traffic.kind"),
        ({"kind": "open-loop", "qps": 5, "burst": 2}, "unknown key 'traffic.burst'"),
    ],
)
def test_bad_traffic_names_the_key(traffic: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message.replace(".", r"\.")):
        parse_space(BASE | {"traffic": traffic})


def test_core_note_says_why_not_all_cores() -> None:
    full = record(1, p95_ms=7.0, group_sizes=(1, 1, 1, 1))
    half = dataclasses.replace(record(2, p95_ms=5.0, group_sizes=(1, 1)))
    half_ev = dataclasses.replace(
        half.evaluation,
        result=dataclasses.replace(half.evaluation.result, copy_cores=((0,), (1,))),
    )
    half = dataclasses.replace(half, evaluation=half_ev)
    full_ev = dataclasses.replace(
        full.evaluation,
        result=dataclasses.replace(full.evaluation.result, copy_cores=((0,), (1,), (2,), (3,))),
    )
    full = dataclasses.replace(full, evaluation=full_ev)
    assert core_use_note(full, [full, half]) == "uses all 4 cores of inf1.xlarge"
    note = core_use_note(half, [full, half])
    assert note.startswith("uses 2 of inf1.xlarge's 4 cores: the best deployment using all")
    assert "(trial 1," in note and "p95 7.00 ms against 5.00 ms" in note


def test_max_throughput_is_capacity_under_the_slo(tmp_path) -> None:
    run = run_cli(
        tmp_path,
        "study",
        *SMALL,
        "--objective",
        "max-throughput",
        "--max-p95-ms",
        "10",
        "--trials",
        "2",
        "--storage",
        sqlite_url(tmp_path),
        "--json",
    )
    assert run.code == 0, run.err
    out = run.json()
    assert out["traffic"]["kind"] == "open-loop"
    (row,) = out["best"]
    assert row["capacity_qps"] > 0 and row["traffic"] == out["traffic"]
    # The recommendation's record carries its latency from light load to saturation.
    (stored,) = [
        r
        for r in ResultStore(sqlite_url(tmp_path)).records(out["study_name"])
        if r.trial_number == row["trial_number"]
    ]
    curve = stored.result.load_curve
    assert [p.utilization for p in curve] == list(CURVE_LOAD)
    assert all(a.p95_ms <= b.p95_ms * 1.05 for a, b in itertools.pairwise(curve))


def test_exported_inf1_script_drives_open_loop_batches() -> None:
    """The serving script's open-loop driver (what runs on a real inf1), with a stand-in model:
    every request is answered, after at least one batch's service."""
    import importlib.util

    from autotune.study._export import script_template

    spec = importlib.util.spec_from_loader("deploy_v1", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    exec(compile(script_template("neuroncore-v1"), "deploy_v1", "exec"), module.__dict__)
    module.CONFIG.update(
        instance_count=2,
        traffic={"kind": "open-loop", "qps": 1000.0},
        batching={"batch_size": 4, "max_batch_delay_ms": 2.0},
    )
    served: list[int] = []
    latencies = module.open_loop(lambda copy: (served.append(copy), time.sleep(0.001)), 2, 200)
    assert len(latencies) == 200 and min(latencies) >= 0.001
    assert 50 <= len(served) <= 200 and set(served) <= {0, 1}

"""One answer everywhere: every surface asked for the best of a study with ties names the same
trial, and shows its p95 with the same rounding.

The study (``tied_study`` in conftest.py) has several trials at the lowest p95 and others within
the emulator's uncertainty of it; the recommendation is the cheapest of them, which is neither
the first trial at the lowest p95 nor the first trial.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from autotune.service import create_app
from autotune.study.read import num, open_existing
from tests.conftest import TIED_STUDY
from tests.study.helpers import run_cli
from ui import analysis
from ui.data import load_study

pytestmark = pytest.mark.slow


def _table_trial(text: str, header: str) -> int:
    """The trial number of the first row of the table under ``header`` in a command's output."""
    lines = text.splitlines()
    start = lines.index(header)
    assert lines[start + 1].startswith("trial") and set(lines[start + 2]) <= {"-", " "}
    return int(lines[start + 3].split()[0])


def test_every_surface_names_the_same_trial(tied_study: tuple[str, Any], tmp_path: Any) -> None:
    url, study_run = tied_study
    best = run_cli(tmp_path, "best", "--storage", url, "--json")
    assert best.code == 0, best.err
    (row,) = best.json()["best"]
    chosen = row["trial_number"]
    tied = best.json()["tied"]  # every trial within the uncertainty, the recommendation first
    assert tied[0] == chosen and len(tied) >= 2
    text = run_cli(tmp_path, "best", "--storage", url)
    assert f"tied within the emulator's error: trial {tied[1]} (" in text.out

    opened = open_existing(url, TIED_STUDY)
    records = opened.records()
    opened.store.close()
    top = next(r for r in records if r.trial_number == chosen)
    # The tie is real, and the rule decides it: the lowest p95 is shared, and the first trial
    # at it (the dashboard's old rule) or the first trial at all is not the recommendation.
    feasible = [r for r in records if r.latency.p95_ms <= 0.9]
    lowest = min(r.latency.p95_ms for r in feasible)
    at_lowest = [r for r in feasible if r.latency.p95_ms == lowest]
    assert len(at_lowest) >= 2
    assert chosen != min(r.trial_number for r in at_lowest)
    assert chosen != min(r.trial_number for r in feasible)
    close = [r for r in feasible if r.latency.p95_ms <= lowest * 1.01]
    assert (
        top.cost.per_1m_usd
        == min(r.cost.per_1m_usd for r in close)
        < max(r.cost.per_1m_usd for r in at_lowest)
    )

    shown = num(top.latency.p95_ms)
    # The study's own output and its progress line (into a pipe: plain lines, with the unit).
    assert _table_trial(study_run.out, "recommendation:") == chosen
    assert "\r" not in study_run.err
    last = study_run.err.strip().splitlines()[-1]
    assert last == f"trial 8/8, best p95 {shown} ms (trial {chosen})"
    assert "(min-latency, p95 <= 0.9 ms)" in study_run.out.splitlines()[0]
    # autotune best (text), studies (JSON and text), export's default pick.
    text = run_cli(tmp_path, "best", "--storage", url)
    assert _table_trial(text.out, "recommendation:") == chosen
    assert f" {shown} " in text.out
    studies = run_cli(tmp_path, "studies", "--storage", url, "--json").json()["studies"]
    assert [s["best"]["trial_number"] for s in studies] == [chosen]
    listed = run_cli(tmp_path, "studies", "--storage", url).out.splitlines()[-1].split()
    assert listed[4:6] == [str(chosen), top.deployment.instance_type] and listed[6] == shown
    exported = run_cli(tmp_path, "export", "--storage", url)
    assert re.search(rf"^  trial: {chosen}$", exported.out, re.M), exported.out
    # The dashboard: the studies table, the pickers' trial and the lowest-latency card.
    loaded = load_study(url, TIED_STUDY)
    (row_ui,) = [r for r in analysis.study_table([analysis.study_row(
        TIED_STUDY, loaded.opened.goals, loaded.records, loaded.n_failed, loaded.n_running
    )])]  # fmt: skip
    assert str(row_ui["recommendation"]).startswith(f"trial {chosen}, ")
    assert f"/{shown}/" in str(row_ui["recommendation"])
    picked = analysis.recommended(loaded.records, loaded.opened.goals)
    assert picked is not None and picked.trial_number == chosen
    card = analysis.best_cards(loaded.records, loaded.opened.goals)[0]
    assert (card.record.trial_number, card.headline) == (chosen, f"p95 {shown} ms")
    # The API.
    app = create_app(url)
    try:
        with TestClient(app) as client:
            answer = client.get(f"/studies/{TIED_STUDY}/best").json()
            assert [t["trial_number"] for t in answer["best"]] == [chosen]
            summary = client.get(f"/studies/{TIED_STUDY}").json()
            assert [t["trial_number"] for t in summary["best"]] == [chosen]
            yaml = client.get(f"/studies/{TIED_STUDY}/export").text
            assert re.search(rf"^  trial: {chosen}$", yaml, re.M)
    finally:
        app.state.reads.store.close()
        app.state.reads.storage.engine.dispose()


def test_other_optuna_clients_read_names_units_and_traffic(tied_study: tuple[str, Any]) -> None:
    import optuna

    url, _ = tied_study
    study = optuna.load_study(study_name=TIED_STUDY, storage=url)  # as optuna-dashboard does
    assert study.metric_names == ["p95 latency (ms)"]
    assert study.user_attrs["autotune_units"]["latency"] == "ms"
    assert study.user_attrs["autotune_traffic"]["kind"] == "closed loop"
    attrs = study.trials[0].user_attrs
    assert {"latency_p95_ms", "throughput_seq_per_s", "cost_per_1m_usd", "instance_type"} <= set(
        attrs
    )


def test_best_by_another_objective_says_so(tied_study: tuple[str, Any], tmp_path: Any) -> None:
    url, _ = tied_study
    run = run_cli(tmp_path, "best", "--storage", url, "--objective", "max-throughput")
    assert run.code == 0, run.err
    first, traffic, heading = run.out.splitlines()[:3]
    assert "(min-latency, p95 <= 0.9 ms)" in first  # the study's own objective
    assert traffic.startswith("traffic: closed-loop")  # what the figures were measured at
    assert heading == "best by max-throughput (not the study's objective):"
    as_json = run_cli(tmp_path, "best", "--storage", url, "--objective", "min-cost", "--json")
    assert (as_json.json()["objective"], as_json.json()["study_objective"]) == (
        "min-cost",
        "min-latency",
    )

"""A study's database is a normal Optuna database, on SQLite and on PostgreSQL."""

from __future__ import annotations

import io
import json
import wsgiref.util
from pathlib import Path
from typing import Any

import optuna
import pytest

from autotune.study import Goals, best
from storage import ResultStore
from tests.storage.conftest import db_url, postgres_admin  # noqa: F401  (fixtures)
from tests.study.helpers import SMALL, run_cli

# Real studies, and a PostgreSQL server.
pytestmark = pytest.mark.slow


def _study(tmp_path: Path, url: str) -> dict[str, Any]:
    run = run_cli(
        tmp_path,
        "study",
        *SMALL,
        "--objective",
        "pareto",
        "--trials",
        "4",
        "--storage",
        url,
        "--study-name",
        "shared",
        "--json",
    )
    assert run.code == 0, run.err
    return run.json()


def test_a_study_runs_on_every_backend(tmp_path: Path, db_url: str) -> None:  # noqa: F811
    result = _study(tmp_path, db_url)
    assert result["n_trials"] == 4
    study = optuna.load_study(study_name="shared", storage=db_url)
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    records = ResultStore(db_url, read_only=True).records("shared")
    assert sorted(r.trial_number for r in records) == sorted(t.number for t in completed)
    # The plan export picks from the Pareto set (the cheapest) was checked on the functional
    # path and its record updated with the result; no other trial was checked.
    (picked,) = best(records, Goals("pareto"), "min-cost")
    checked = [r for r in records if r.evaluation.provenance.numeric_error is not None]
    assert checked == [picked]
    assert picked.trial_number in {row["trial_number"] for row in result["best"]}


def _get(app: object, path: str) -> tuple[str, bytes]:
    environ: dict[str, object] = {
        "PATH_INFO": path,
        "REQUEST_METHOD": "GET",
        "wsgi.input": io.BytesIO(),
    }
    wsgiref.util.setup_testing_defaults(environ)
    status: list[str] = []
    body = b"".join(app(environ, lambda s, h, *a: status.append(s)))  # type: ignore[operator]
    return status[0], body


def test_optuna_dashboard_opens_the_database(tmp_path: Path) -> None:
    dashboard = pytest.importorskip("optuna_dashboard")
    url = f"sqlite:///{tmp_path / 'dash.db'}"
    _study(tmp_path, url)
    app = dashboard.wsgi(url)
    status, body = _get(app, "/api/studies")
    assert status.startswith("200")
    studies = json.loads(body)["study_summaries"]
    assert [s["study_name"] for s in studies] == ["shared"]
    status, body = _get(app, f"/api/studies/{studies[0]['study_id']}")
    assert status.startswith("200")
    assert len(json.loads(body)["trials"]) == 4

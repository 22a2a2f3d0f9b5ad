"""The dashboard's reads: where the database is, and that reading never changes it."""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from storage import default_storage_url
from ui import analysis
from ui.data import ENV_VAR, load_study, storage_url, study_rows

APP = str(Path(analysis.__file__).parent / "app.py")


def test_storage_url_from_arguments_then_environment_then_working_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_VAR, "sqlite:///env.db")
    assert storage_url(["--storage", "sqlite:///a.db"]) == "sqlite:///a.db"
    assert storage_url(["--storage=sqlite:///b.db"]) == "sqlite:///b.db"
    assert storage_url([]) == "sqlite:///env.db"
    monkeypatch.delenv(ENV_VAR)
    assert storage_url(["--storage"]) == default_storage_url()


def _digest(url: str) -> str:
    """Every row of every table. Not the file's bytes: when another process sharing this
    session's database closes its last connection, SQLite folds the write-ahead log into the
    file, which changes bytes but no row."""
    path = Path(url.removeprefix("sqlite:///"))
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return hashlib.sha256("\n".join(db.iterdump()).encode()).hexdigest()


@pytest.mark.slow
def test_reading_every_page_leaves_the_database_unchanged(
    study_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _digest(study_url)
    monkeypatch.setenv(ENV_VAR, study_url)
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    for page in at.sidebar.radio(key="page").options:
        at.sidebar.radio(key="page").set_value(page).run()
        assert not at.exception
    assert _digest(study_url) == before


@pytest.mark.slow
def test_study_rows_and_load_study(study_url: str) -> None:
    rows = study_rows(study_url)
    assert [(r.study_name, r.n_complete, r.n_running) for r in rows] == [
        ("ui", 8, 0),
        ("ui-cost", 4, 0),
    ]
    loaded = load_study(study_url, "ui")
    assert (loaded.name, len(loaded.records), loaded.n_failed) == ("ui", 8, 0)

"""Databases that cannot be opened become one-line ``InputError``s naming the URL."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from autotune.errors import InputError
from autotune.values import TrialRecord
from storage import ResultStore, default_storage_url
from storage._models import TrialResultRow


def _one_line_error(url: str, **kwargs: bool) -> str:
    with pytest.raises(InputError) as caught:
        ResultStore(url, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_text_file_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database, just some notes\n" * 100)
    url = f"sqlite:///{path}"
    message = _one_line_error(url)
    assert url in message and "not a database" in message
    assert "not a database" in _one_line_error(url, read_only=True)


def test_a_missing_directory(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing' / 'autotune.db'}"
    message = _one_line_error(url)
    assert url in message and "does not exist" in message
    assert not (tmp_path / "missing").exists()


def test_read_only_needs_an_existing_file(tmp_path: Path) -> None:
    assert "no such file" in _one_line_error(default_storage_url(tmp_path), read_only=True)
    assert not (tmp_path / "autotune.db").exists()


def test_a_closed_postgresql_port_fails_fast() -> None:
    pytest.importorskip("psycopg", reason="psycopg is not installed")
    url = "postgresql+psycopg://postgres:s3cret@127.0.0.1:1/test"
    started = time.monotonic()
    message = _one_line_error(url)
    assert time.monotonic() - started < 15
    assert "127.0.0.1:1" in message and "s3cret" not in message


@pytest.mark.parametrize("url", ["not a url", "nosuchdb://host/db", "sqlite://user@host/x.db"])
def test_urls_that_name_no_usable_database(url: str) -> None:
    assert "result database" in _one_line_error(url)


def test_sqlite_is_tuned_for_several_processes(tmp_path: Path) -> None:
    store = ResultStore(default_storage_url(tmp_path))
    with store.session_scope() as session:
        pragma = {
            name: session.execute(text(f"PRAGMA {name}")).scalar_one()
            for name in ("journal_mode", "busy_timeout", "foreign_keys")
        }
    assert pragma == {"journal_mode": "wal", "busy_timeout": 30000, "foreign_keys": 1}


def test_default_storage_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_storage_url(tmp_path) == f"sqlite:///{tmp_path}/autotune.db"
    monkeypatch.chdir(tmp_path)
    assert default_storage_url() == f"sqlite:///{tmp_path}/autotune.db"


def test_the_table_mirrors_the_record() -> None:
    columns = set(TrialResultRow.__table__.columns.keys())
    fields = {field.name for field in dataclasses.fields(TrialRecord)}
    assert fields == {"study_name", "optuna_trial_id", "trial_number", "evaluation"}
    assert columns == fields | {"id", "created_at", "autotune_version"}  # + bookkeeping

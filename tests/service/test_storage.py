"""Revision 0004 (the queue and the tokens), on SQLite and PostgreSQL: the migrated schema is
exactly the models, a downgrade to 0003 removes only the new tables, and queue claims are
taken once each when workers race for them."""

from __future__ import annotations

import threading

import optuna
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from storage import QueuedStudy, ServiceStore
from storage._engine import open_engine
from storage._models import Base
from storage._schema import _ALEMBIC_LOCK, _config, head_revision


def _migrate(url: str, revision: str, *, down: bool = False) -> None:
    engine = open_engine(url, read_only=False)
    try:
        with _ALEMBIC_LOCK, engine.begin() as connection:
            (command.downgrade if down else command.upgrade)(_config(connection), revision)
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_head_is_0004_and_builds_exactly_the_models(db_url: str) -> None:
    assert head_revision() == "0004"
    store = ServiceStore(db_url)
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "compare_type": True,
                    "include_name": lambda name, kind, _parent: (
                        kind != "table" or name in Base.metadata.tables
                    ),
                },
            )
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
        store.close()


def test_downgrade_to_0003_drops_only_the_service_tables(db_url: str) -> None:
    ServiceStore(db_url).close()
    assert {"autotune_queue", "autotune_tokens", "autotune_trial_results"} <= _tables(db_url)
    _migrate(db_url, "0003", down=True)
    tables = _tables(db_url)
    assert "autotune_trial_results" in tables
    assert not {"autotune_queue", "autotune_tokens"} & tables
    ServiceStore(db_url).close()  # opening upgrades again
    assert {"autotune_queue", "autotune_tokens"} <= _tables(db_url)


def test_racing_workers_start_each_queued_study_once(db_url: str) -> None:
    optuna.storages.RDBStorage(db_url)  # Optuna's tables, which claims look at
    store = ServiceStore(db_url)
    for i in range(6):
        store.submit(QueuedStudy(f"s{i}", "queued", {}, {"objective": "min-cost"}, 3))
    started: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        mine = ServiceStore(db_url)
        try:
            while (claimed := mine.claim()) is not None and claimed[1]:
                with lock:
                    started.append(claimed[0].name)
        finally:
            mine.close()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # No Optuna study exists, so running entries are not joinable: each was started once.
    assert sorted(started) == [f"s{i}" for i in range(6)]
    assert store.queue_counts() == {"running": 6}
    store.close()

"""The contract every backend of ``ResultStore`` keeps (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import optuna
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from autotune.errors import InputError
from autotune.values import Load, StageResult, TrialRecord, Uncertainty
from storage import ResultStore
from storage._models import Base
from storage._schema import VERSION_TABLE, head_revision
from tests.factories import gpu_record, record

# Values a backend must keep exactly: a seed beyond 32 bits, floats at full precision, text
# beyond ASCII, several stages with every field set, and a fleet left unsized.
_STORED: dict[str, Any] = {
    "study_name": "bert-qa",
    "optuna_trial_id": 1,
    "model": "bert-base-uncased",
    "seq_len": 128,
    "batch_size": 4,
    "pipeline_cores": 2,
    "group_sizes": (2, 2),
    "concurrency": 8,
    "price_set": "on-demand-us-east-1",
    "throughput": 412.5,
    "p50_ms": 9.25,
    "p95_ms": 12.5,
    "p99_ms": 14.125,
    "mean_ms": 9.875,
    "per_1m_usd": 0.1535353535353535,
    "bottleneck": "neuron_core",
    "bottleneck_detail": "stage 1 of 2 busy 97% of the time (µs-level jitter, naïve)",
    "core_utilization": (0.97, 0.81, 0.0, 0.0),
    "host_utilization": 0.12,
    "stages": tuple(
        StageResult(
            i,
            40 + i,
            1.5e9 / 3,
            2.5e7,
            1e5,
            44_000_001,
            40_000_000,
            4_000_001,
            0.0041 + i,
            0.0045,
            0.003,
            0.001,
            1e-5 * i,
            0.97 - 0.16 * i,
        )
        for i in range(2)
    ),
    "plan_key": "3f2a9c0d",
    "compile_seconds": 1.5,
    "numeric_error": 1.25e-3,
    "emulator_version": "0.1.0",
    "seed": 2**40 + 7,
    "uncertainty": Uncertainty(0.0813, 0.1172),
}


def stored(trial_number: int = 0, **changes: Any) -> TrialRecord:
    """A realistic record of study ``bert-qa`` with the given changes."""
    return record(trial_number, **(_STORED | changes))


def _version(url: str, table: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return str(connection.execute(text(f"SELECT version_num FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def _run_trials(url: str, study_name: str, n: int) -> optuna.Study:
    study = optuna.create_study(storage=url, study_name=study_name)
    study.optimize(lambda trial: trial.suggest_float("x", -1.0, 1.0) ** 2, n_trials=n)
    return study


def test_round_trip(db_url: str) -> None:
    store = ResultStore(db_url)
    written = stored()
    store.add(written)
    assert store.record(written.study_name, written.trial_number) == written
    assert store.records(written.study_name) == [written]
    # Exactly, not only equal: ints stay ints, floats keep every digit.
    (read,) = store.records(written.study_name)
    assert read.evaluation.to_dict() == written.evaluation.to_dict()
    assert type(read.evaluation.load.seed) is int and read.evaluation.load.seed == 2**40 + 7


def test_none_values_round_trip(db_url: str) -> None:
    store = ResultStore(db_url)
    written = stored(
        fleet_size=3, numeric_error=None, stages=(), group_sizes=(4,), uncertainty=None
    )
    written = dataclasses.replace(
        written, evaluation=dataclasses.replace(written.evaluation, load=Load(None, 2000, 3))
    )
    store.add(written)
    assert store.records(written.study_name) == [written]


def test_a_deployment_without_knobs_round_trips(db_url: str) -> None:
    # As revision 0003 converts the GPU rows of 0002, and a generation without knobs would.
    store = ResultStore(db_url)
    bare = gpu_record(0, study_name="bert-qa", optuna_trial_id=1, stack=None, settings={})
    store.add(bare)
    assert store.records("bert-qa") == [bare]
    assert store.records("bert-qa")[0].deployment.knobs == ()


def test_a_deployment_with_a_named_knob_round_trips(db_url: str) -> None:
    store = ResultStore(db_url)
    gpu = gpu_record(0, study_name="bert-qa", optuna_trial_id=1, stack="tensorrt-int8")
    store.add(gpu)
    assert store.records("bert-qa") == [gpu]
    assert store.records("bert-qa")[0].deployment.knobs == (("stack", "tensorrt-int8"),)


def test_records_by_trial_number_of_one_study(db_url: str) -> None:
    store = ResultStore(db_url)
    for trial_id, number in [(10, 2), (11, 0), (12, 1)]:
        store.add(stored(optuna_trial_id=trial_id, trial_number=number))
    store.add(stored(study_name="other", optuna_trial_id=13, trial_number=0))
    assert [r.trial_number for r in store.records("bert-qa")] == [0, 1, 2]
    assert [r.optuna_trial_id for r in store.records("other")] == [13]
    assert store.records("missing") == []
    assert store.record("bert-qa", 7) is None


def test_add_again_replaces_the_record_of_that_trial(db_url: str) -> None:
    store = ResultStore(db_url)
    store.add(stored())
    store.add(stored())
    assert len(store.records("bert-qa")) == 1
    changed = stored(throughput=1.0, stages=(StageResult(0),))
    store.add(changed)
    assert store.records("bert-qa") == [changed]


def test_delete_study_deletes_only_its_records(db_url: str) -> None:
    store = ResultStore(db_url)
    store.add(stored(optuna_trial_id=1, trial_number=0))
    store.add(stored(optuna_trial_id=2, trial_number=1))
    store.add(stored(study_name="other", optuna_trial_id=3))
    assert store.delete_study("bert-qa") == 2
    assert store.records("bert-qa") == []
    assert len(store.records("other")) == 1


def test_optuna_study_first_then_store(db_url: str) -> None:
    study = _run_trials(db_url, "s", 3)
    store = ResultStore(db_url)
    for trial in study.trials:
        store.add(
            stored(study_name="s", optuna_trial_id=trial._trial_id, trial_number=trial.number)
        )
    loaded = optuna.load_study(study_name="s", storage=db_url)
    assert [t.number for t in loaded.trials] == [0, 1, 2]
    assert [r.optuna_trial_id for r in store.records("s")] == [t._trial_id for t in study.trials]
    tables = set(inspect(store._engine).get_table_names())
    assert {"alembic_version", VERSION_TABLE, "trials", "studies"} <= tables
    assert _version(db_url, VERSION_TABLE) == head_revision()
    assert _version(db_url, "alembic_version") != head_revision()  # still Optuna's own


def test_store_first_then_optuna_study(db_url: str) -> None:
    store = ResultStore(db_url)
    study = _run_trials(db_url, "s", 3)
    store.add(stored(study_name="s", optuna_trial_id=study.trials[0]._trial_id))
    assert len(optuna.load_study(study_name="s", storage=db_url).trials) == 3
    assert ResultStore(db_url).records("s")[0].optuna_trial_id == study.trials[0]._trial_id


def test_reopening_keeps_records_at_the_head_revision(db_url: str) -> None:
    ResultStore(db_url).add(stored())
    reopened = ResultStore(db_url)
    assert reopened.records("bert-qa") == [stored()]
    assert _version(db_url, VERSION_TABLE) == head_revision()


def test_migrations_build_exactly_the_models(db_url: str) -> None:
    store = ResultStore(db_url)
    _run_trials(db_url, "s", 1)  # Optuna's tables must be ignored by the comparison
    with store._engine.connect() as connection:
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


def test_session_scope_rolls_back_data_and_ddl(db_url: str) -> None:
    store = ResultStore(db_url)
    with pytest.raises(RuntimeError), store.session_scope() as session:
        # DDL too: a failing migration must leave no table behind.
        session.execute(text("CREATE TABLE autotune_probe (x INTEGER)"))
        session.execute(text("DELETE FROM autotune_trial_results"))
        raise RuntimeError("abort")
    assert "autotune_probe" not in inspect(store._engine).get_table_names()


def test_read_only_store_reads_and_refuses_writes(db_url: str) -> None:
    writer = ResultStore(db_url)
    writer.add(stored())
    writer.close()  # SQLite: the reader must cope without a writer keeping the WAL files
    reader = ResultStore(db_url, read_only=True)
    assert reader.records("bert-qa") == [stored()]
    with pytest.raises(InputError, match="read-only"):
        reader.add(stored(optuna_trial_id=2))
    with pytest.raises(InputError, match="read-only"):
        reader.delete_study("bert-qa")
    # The database itself refuses too, not only the store's own checks.
    with pytest.raises(InputError, match="read"), reader.session_scope() as session:
        session.execute(text("DELETE FROM autotune_trial_results"))
    assert reader.records("bert-qa") == [stored()]


def test_read_only_needs_autotune_tables(db_url: str) -> None:
    _run_trials(db_url, "s", 1)
    with pytest.raises(InputError, match="holds no autotune results"):
        ResultStore(db_url, read_only=True)


def test_a_newer_schema_is_refused(db_url: str) -> None:
    store = ResultStore(db_url)
    with store.session_scope() as session:
        session.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    with pytest.raises(InputError, match="9999"):
        ResultStore(db_url)
    with pytest.raises(InputError, match="revision 9999"):
        ResultStore(db_url, read_only=True)


def test_concurrent_first_opens_migrate_once(db_url: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def open_and_add(trial_id: int) -> None:
        try:
            barrier.wait()
            ResultStore(db_url).add(stored(optuna_trial_id=trial_id, trial_number=trial_id))
        except BaseException as e:  # collected: an exception in a thread would go unseen
            errors.append(e)

    threads = [threading.Thread(target=open_and_add, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [r.trial_number for r in ResultStore(db_url).records("bert-qa")] == [0, 1, 2]

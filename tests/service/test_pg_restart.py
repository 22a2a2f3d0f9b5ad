"""PostgreSQL restarted mid-study (``pg_ctlcluster 15 main restart``): the API and two queue
workers reconnect, and the study completes with exactly the trials asked for.

It restarts the machine's PostgreSQL server, so it runs only when asked
(``AUTOTUNE_TEST_PG_RESTART=1``): never by surprise on a shared developer machine, and never in
the middle of a suite whose other tests hold pooled connections to that server (CI runs it as a
step of its own, after the suite).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from tests.service.conftest import SPACE, ServerFactory, _postgres_db, autotune_cmd, service_env
from tests.service.test_worker import _census

pytestmark = pytest.mark.slow
RESTART = ["pg_ctlcluster", "15", "main", "restart"]


@pytest.fixture
def pg_url(postgres_admin: Engine) -> object:
    if os.environ.get("AUTOTUNE_TEST_PG_RESTART") != "1":
        pytest.skip("restarts the local PostgreSQL: set AUTOTUNE_TEST_PG_RESTART=1 to run it")
    if shutil.which(RESTART[0]) is None:
        pytest.skip("pg_ctlcluster is not installed (Debian's postgresql-common)")
    yield from _postgres_db(postgres_admin)


def test_the_study_completes_across_a_postgresql_restart(
    pg_url: str, serve: ServerFactory, tmp_path: Path
) -> None:
    server = serve(pg_url)
    body = {"space": SPACE, "objective": "min-cost", "trials": 14, "name": "restarted"}
    assert httpx.post(f"{server.base}/studies", json=body, timeout=60).status_code == 202
    workers = [
        subprocess.Popen(
            autotune_cmd("worker", "--storage", pg_url, "--until-empty"),
            env=service_env(),
            stdout=(tmp_path / f"worker{i}.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        for i in range(2)
    ]
    deadline = time.monotonic() + 240
    while _census(pg_url, "restarted")[0] < 4 and time.monotonic() < deadline:
        time.sleep(0.3)
    subprocess.run(RESTART, check=True, timeout=120)
    statuses = []
    deadline = time.monotonic() + 300
    state = None
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{server.base}/studies/restarted", timeout=30)
            statuses.append(answer.status_code)
            if answer.status_code == 200 and (state := answer.json()["state"]) == "done":
                break
        except httpx.HTTPError as e:
            statuses.append(type(e).__name__)
        time.sleep(0.5)
    logs = "\n".join(p.read_text() for p in sorted(tmp_path.glob("worker*.log")))
    for w in workers:
        assert w.wait(timeout=120) == 0, logs
    print(f"API answers after the restart: {Counter(map(str, statuses))}")
    assert state == "done", (statuses[-5:], logs)
    assert set(statuses) <= {200, 503}, statuses  # unavailable while down, never a 500
    assert _census(pg_url, "restarted") == (14, 0, 14), logs
    final = httpx.get(f"{server.base}/studies/restarted", timeout=30).json()
    assert final["progress"] == {"n": 14, "total": 14}

"""A real ``autotune serve`` process on loopback, with a real queue worker, on SQLite and
PostgreSQL: the whole path a user takes (token, queue, watch, export), and what the server
refuses."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest

from autotune.service import is_loopback
from autotune.study.read import open_existing, pick, render, spec_from_record
from tests.service.conftest import SPACE, ServerFactory, autotune_cmd, service_env

pytestmark = pytest.mark.slow


def _token(url: str, scope: str, name: str) -> str:
    run = subprocess.run(
        autotune_cmd("token", "create", "--scope", scope, "--name", name, "--storage", url),
        env=service_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    lines = run.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("autotune.")  # the token alone, once
    return lines[-1]


def test_the_whole_path_against_a_real_server(
    db_url: str, serve: ServerFactory, tmp_path: Path
) -> None:
    submit_token = _token(db_url, "submit", "ci")
    read_token = _token(db_url, "read", "dashboard")
    server = serve(db_url)
    auth = {"Authorization": f"Bearer {submit_token}"}
    with httpx.Client(base_url=server.base, timeout=30) as http:
        assert http.get("/studies").status_code == 401
        body = {"space": SPACE, "objective": "min-cost", "trials": 4, "name": "served"}
        created = http.post("/studies", json=body, headers=auth)
        assert created.status_code == 202, created.text
        assert created.json() == {"name": "served", "url": f"{server.base}/studies/served"}
        assert http.get("/studies/served", headers=auth).json()["state"] == "queued"
        assert http.post("/studies", json=body, headers=auth).status_code == 409
        read = {"Authorization": f"Bearer {read_token}"}
        assert http.post("/studies", json=body, headers=read).status_code == 403
        worker = subprocess.Popen(
            autotune_cmd("worker", "--storage", db_url, "--until-empty"),
            env=service_env(),
            stdout=(tmp_path / "worker.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        seen = set()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            study = http.get("/studies/served", headers=read).json()
            seen.add(study["state"])
            if study["state"] == "done":
                break
            time.sleep(0.3)
        assert worker.wait(timeout=120) == 0, (tmp_path / "worker.log").read_text()
        assert study["state"] == "done" and study["progress"] == {"n": 4, "total": 4}, study
        assert "running" in seen or "queued" in seen
        exported = http.get("/studies/served/export?format=yaml", headers=read)
        assert exported.headers["content-type"].startswith("application/yaml")
        chosen = pick(open_existing(db_url, "served"), None, None)
        assert exported.text == render(spec_from_record(chosen, "served"), "yaml")
        best = http.get("/studies/served/best?objective=min-latency", headers=read).json()
        assert best["objective"] == "min-latency" and best["feasible"]
        metrics = http.get("/metrics", headers=read).text
        assert 'autotune_queue_studies{state="done"} 1' in metrics
    log = server.stop()
    assert "GET /studies/served" in log  # the access log is there...
    for token in (submit_token, read_token):  # ...and never holds a token
        assert token not in log and token.split(".")[2] not in log


def test_a_non_loopback_host_is_refused_while_no_token_exists(sqlite_url: str) -> None:
    run = subprocess.run(
        autotune_cmd("serve", "--storage", sqlite_url, "--host", "0.0.0.0", "--port", "1"),
        env=service_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2, run.stderr
    error = run.stderr.strip().splitlines()[-1]
    assert error.startswith("error: --host 0.0.0.0 is not a loopback address")
    assert "autotune token create" in error


def test_loopback_hosts() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "10.0.0.1", "::", "example.org"))


def test_token_scope_is_checked(sqlite_url: str) -> None:
    run = subprocess.run(
        autotune_cmd("token", "create", "--scope", "admin", "--storage", sqlite_url),
        env=service_env(),
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2 and run.stdout == ""
    assert "unknown token scope 'admin'; accepted: read, submit" in run.stderr

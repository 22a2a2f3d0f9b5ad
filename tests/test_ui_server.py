"""``autotune ui`` owns its Streamlit server: the server's port closes when ``autotune ui`` is
killed (SIGTERM, Ctrl-C or ``kill -9``), within 5 s."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait(predicate: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_killing_autotune_ui_frees_the_port(tmp_path: Path, signum: int) -> None:
    port = _free_port()
    env = {**os.environ, "AUTOTUNE_STORAGE": f"sqlite:///{tmp_path / 'none.db'}"}
    command = [sys.executable, "-c", "from autotune.cli import main; main()"]
    parent = subprocess.Popen(
        [*command, "ui", "--port", str(port)], env=env, stdout=subprocess.DEVNULL
    )
    try:
        assert _wait(lambda: _listening(port), 60), "the dashboard never started"
        parent.send_signal(signum)
        assert _wait(lambda: not _listening(port), 5), "the server outlived autotune ui"
    finally:
        parent.kill()
        parent.wait()

"""``autotune ui``: the command it runs, its input checks, and a real server start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from autotune.cli._ui_cmds import app_path, streamlit_command
from storage import ResultStore
from tests.study.helpers import assert_one_error_line, run_cli, sqlite_url
from tests.ui.browser import free_port


def test_the_command_runs_the_packaged_app_headless_on_the_port() -> None:
    command = streamlit_command("sqlite:///x.db", 8600)
    assert app_path().is_file()
    assert command[:5] == [sys.executable, "-m", "streamlit", "run", str(app_path())]
    assert command[5:] == [
        "--server.port",
        "8600",
        "--server.headless",
        "true",
        "--client.toolbarMode",
        "minimal",
        "--",
        "--storage",
        "sqlite:///x.db",
    ]


@pytest.mark.parametrize("port", ["0", "70000"])
def test_a_port_out_of_range_is_one_error_line(tmp_path: Path, port: str) -> None:
    assert_one_error_line(run_cli(tmp_path, "ui", "--port", port), "--port", port)


@pytest.mark.slow
def test_autotune_ui_serves_the_dashboard(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    ResultStore(url).close()
    port = free_port()
    cli = [sys.executable, "-c", "from autotune.cli import main; main()"]
    server = subprocess.Popen(
        [*cli, "ui", "--storage", url, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped below with streamlit
        env={**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"},
    )
    try:
        deadline, health = time.monotonic() + 30, ""
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health") as r:
                    health = r.read().decode()
                break
            except OSError:
                time.sleep(0.2)
        assert health == "ok", server.poll()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        out = server.communicate(timeout=10)[0].decode()
    assert f"autotune dashboard on http://localhost:{port}" in out


_NO_TORCH = """
import json, sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=30)
at.run()
for page in at.sidebar.radio(key="page").options:
    at.sidebar.radio(key="page").set_value(page).run()
    assert not at.exception, at.exception
forbidden = ("torch", "transformers")
forbidden_packages = ("autotune.emulator", "autotune.hardware", "autotune.evaluation")
loaded = sorted(
    m for m in sys.modules if m.split(".")[0] in forbidden or m.startswith(forbidden_packages)
)
print(json.dumps({"loaded": loaded, "pages": len(at.sidebar.radio[0].options)}))
"""


@pytest.mark.slow
def test_the_dashboard_never_imports_torch_or_the_emulator(study_url: str) -> None:
    # A fresh interpreter: this test session imports torch for the studies it runs.
    done = subprocess.run(
        [sys.executable, "-c", _NO_TORCH, str(app_path())],
        capture_output=True,
        text=True,
        env={**os.environ, "AUTOTUNE_STORAGE": study_url},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"loaded": [], "pages": 9}

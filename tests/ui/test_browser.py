"""The dashboard in a real browser: ``autotune ui`` served, headless Chromium clicking through it.

Needs Debian's ``chromium`` (``/usr/bin/chromium``) and the ``playwright`` Python package (its
own browser download is not used); skipped with the reason when either is missing. Screenshots
of every page visited are left in the test's ``tmp_path``.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autotune.study.read import open_existing
from storage import ResultStore
from ui import analysis

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STUDY = "ui"  # the pareto study of conftest.py's ``study_url``
TIMEOUT_MS = 20_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(base: str, server: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"autotune ui exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=1) as response:
                if response.read().decode().strip() == "ok":
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"autotune ui not healthy within {timeout_s:g} s")


@pytest.fixture
def server(study_url: str, tmp_path: Path) -> Iterator[str]:
    """``autotune ui`` on a free port (own process group, killed at teardown); its base URL."""
    port = _free_port()
    env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        ["autotune", "ui", "--storage", study_url, "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, process)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


@pytest.fixture
def browser_page(tmp_path: Path) -> Iterator[Any]:
    """A page of headless Debian Chromium driven by Playwright; skips if either is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} missing: apt-get install chromium")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright missing: pip install playwright"
    )
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1400, "height": 1000}, accept_downloads=True
            )
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def _go_to(page: Any, name: str, header: str) -> None:
    page.locator('[data-testid="stSidebar"]').get_by_text(name, exact=True).click()
    page.get_by_role("heading", name=header).wait_for()
    _settled(page)


def _settled(page: Any) -> None:
    """Wait until Streamlit has finished the run the last interaction started."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached")


def _select(page: Any, label: str, option: str) -> None:
    box = page.get_by_role("combobox", name=label, exact=True)
    box.click()
    page.get_by_role("option", name=option, exact=True).click()
    assert box.input_value() == option
    _settled(page)


def _chart_points(page: Any) -> tuple[int, int]:
    """(marker points, points of the front line) of the first Plotly chart on the page."""
    page.locator(".js-plotly-plot").first.wait_for()
    traces = page.evaluate(
        "() => document.querySelectorAll('.js-plotly-plot')[0].data"
        ".map(t => ({mode: t.mode, name: t.name, n: (t.x || []).length}))"
    )
    markers = sum(t["n"] for t in traces if t["mode"] == "markers")
    front = sum(t["n"] for t in traces if t["name"] == "Pareto front")
    return markers, front


def test_pareto_trial_and_export_in_a_real_browser(
    server: str, browser_page: Any, study_url: str, tmp_path: Path
) -> None:
    page = browser_page
    records = ResultStore(study_url, read_only=True).records(STUDY)
    opened = open_existing(study_url, STUDY)
    opened.store.close()
    info = analysis.pareto_info(records, opened.goals)

    page.goto(server)
    page.get_by_role("heading", name="Studies").wait_for()
    _settled(page)
    _select(page, "study", STUDY)
    page.screenshot(path=tmp_path / "studies.png", full_page=True)

    _go_to(page, "Pareto front", f"Pareto front: {STUDY}")
    assert _chart_points(page) == (len(info.points), len(info.front))
    page.screenshot(path=tmp_path / "pareto.png", full_page=True)

    chosen = records[-1]
    _go_to(page, "Trial detail", f"Trial detail: {STUDY}")
    _select(page, "trial", str(chosen.trial_number))
    page.get_by_text(f"trial {chosen.trial_number}", exact=False).first.wait_for()
    page.get_by_text(f"Limited by {chosen.result.bottleneck}", exact=False).wait_for()
    page.screenshot(path=tmp_path / "trial.png", full_page=True)

    exported = records[2]
    _go_to(page, "Export", f"Export: {STUDY}")
    _select(page, "trial to export", str(exported.trial_number))
    # The buttons serve what the last finished run rendered: wait until that run is the one for
    # the chosen trial (its YAML is shown below the buttons).
    page.locator('[data-testid="stCode"]').filter(
        has_text=re.compile(rf"\btrial: {exported.trial_number}(\s|$)")
    ).wait_for()
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download yaml").click()
    download = download_info.value
    assert download.suggested_filename == "deployment.yaml"
    saved = tmp_path / "deployment.yaml"
    download.save_as(saved)
    page.screenshot(path=tmp_path / "export.png", full_page=True)

    cli = subprocess.run(
        [
            "autotune",
            "export",
            "--storage",
            study_url,
            "--study-name",
            STUDY,
            "--trial",
            str(exported.trial_number),
            "--format",
            "yaml",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert saved.read_text() == cli.stdout

"""The dashboard in a real browser: ``autotune ui`` served, headless Chromium clicking through it.

Needs Debian's ``chromium`` and the ``playwright`` Python package (``tests/ui/browser.py``: skipped
with the reason when either is missing, a failure under ``CI=true``). Screenshots
of every page visited are left in the test's ``tmp_path``.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autotune.study.read import open_existing
from storage import ResultStore
from tests.ui.browser import chromium_page, serve_ui, settled
from ui import analysis

pytestmark = pytest.mark.slow

STUDY = "ui"  # the pareto study of conftest.py's ``study_url``


@pytest.fixture
def server(study_url: str, tmp_path: Path) -> Iterator[str]:
    """``autotune ui`` on a free port; its base URL."""
    with serve_ui(study_url, tmp_path) as base:
        yield base


@pytest.fixture
def browser_page() -> Iterator[Any]:
    with chromium_page() as page:
        yield page


def _go_to(page: Any, name: str, header: str) -> None:
    page.locator('[data-testid="stSidebar"]').get_by_text(name, exact=True).click()
    page.get_by_role("heading", name=header).wait_for()
    settled(page)


def _select(page: Any, label: str, option: str) -> None:
    box = page.get_by_role("combobox", name=label, exact=True)
    box.click()
    page.get_by_role("option", name=option, exact=True).click()
    assert box.input_value() == option
    settled(page)


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
    settled(page)
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

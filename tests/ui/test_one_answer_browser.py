"""Every page of the dashboard in a real browser, on a study with ties: each page states the
study's objective, tables fit their column, Streamlit's toolbar has no Deploy menu, and the
recommended trial (the one the pickers open on, the lowest-latency card, the studies table) is
the one ``autotune best --json`` prints.

Served by the real ``autotune ui``; driven by Debian's ``/usr/bin/chromium`` through the
``playwright`` Python package (its own browser download is not used). Skipped when either is
missing, except under ``CI=true``, where that is a failure. A screenshot of every page is left in
``tests/ui/screenshots/`` (ignored by git) for review.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TIED_STUDY
from tests.ui.browser import chromium_page, serve_ui, settled

pytestmark = pytest.mark.slow
SHOTS = Path(__file__).parent / "screenshots"


@pytest.fixture
def tied_server(tied_study: tuple[str, Any], tmp_path: Path) -> Iterator[str]:
    """``autotune ui`` over the tied study on a free port; its base URL."""
    with serve_ui(tied_study[0], tmp_path) as base:
        yield base


@pytest.fixture
def chromium() -> Iterator[Any]:
    with chromium_page() as page:
        yield page


def _open(page: Any, name: str) -> None:
    page.locator('[data-testid="stSidebar"]').get_by_text(name, exact=True).click()
    page.get_by_role("heading", name=name, exact=False).first.wait_for()
    settled(page)


def _check_page(page: Any, name: str) -> None:
    """What every study page shows: the objective, tables that fit, no Deploy menu."""
    # Streamlit typesets "<=" as "≤".
    page.get_by_text("Objective: lowest p95 latency (min-latency); p95 ≤ 0.9 ms").wait_for()
    cut = page.evaluate(
        "() => [...document.querySelectorAll('[data-testid=\"stTable\"]')]"
        ".filter(t => t.scrollWidth > t.clientWidth + 1).length"
    )
    assert cut == 0, f"a table of {name} is cut off at the right"
    assert page.get_by_role("button", name="Deploy").count() == 0
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SHOTS / f"{name.lower().replace(' ', '-')}.png", full_page=True)


def _picker_value(page: Any, label: str) -> str:
    return str(page.get_by_role("combobox", name=label, exact=True).input_value())


def test_every_page_names_the_trial_autotune_best_prints(
    tied_study: tuple[str, Any], tied_server: str, chromium: Any
) -> None:
    url, _ = tied_study
    best = subprocess.run(
        ["autotune", "best", "--storage", url, "--json"], capture_output=True, text=True
    )
    assert best.returncode == 0, best.stderr
    chosen = json.loads(best.stdout)["best"][0]["trial_number"]
    page = chromium
    page.goto(tied_server)
    page.get_by_role("heading", name="Studies").wait_for()
    settled(page)
    assert page.get_by_role("button", name="Deploy").count() == 0
    table = page.locator('[data-testid="stTable"]')
    assert "n_complete" not in table.inner_text() and "completed" in table.inner_text()
    assert f"trial {chosen}, " in table.inner_text()
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SHOTS / "studies.png", full_page=True)

    _open(page, "Pareto front")
    page.locator(".js-plotly-plot").first.wait_for()
    layout = page.evaluate("() => document.querySelectorAll('.js-plotly-plot')[0].layout")
    assert (layout["xaxis"]["type"], layout["yaxis"]["type"]) == ("log", "log")
    _check_page(page, "Pareto front")

    _open(page, "Best per objective")
    card = page.locator('[data-testid="stMetric"]').first
    assert "Lowest p95 latency" in card.inner_text()
    page.get_by_text(f"trial {chosen}\n", exact=False).first.wait_for()
    _check_page(page, "Best per objective")

    _open(page, "Study insight")
    page.get_by_role("heading", name="Parameter importances for p95 latency (ms)").wait_for()
    _check_page(page, "Study insight")

    _open(page, "Trial detail")
    assert _picker_value(page, "trial") == f"{chosen} (recommended)"
    _check_page(page, "Trial detail")

    _open(page, "Compare")
    page.get_by_text("two trials", exact=True).click()
    table = page.locator('[data-testid="stTable"]')
    table.get_by_text(f"{TIED_STUDY} / {chosen}", exact=True).wait_for()
    assert _picker_value(page, "trial A") == f"{chosen} (recommended)"
    _check_page(page, "Compare")

    _open(page, "Export")
    assert _picker_value(page, "trial to export") == f"{chosen} (recommended)"
    page.locator('[data-testid="stCode"]').get_by_text(f"trial: {chosen}").wait_for()
    _check_page(page, "Export")

    _open(page, "New study")
    page.screenshot(path=SHOTS / "new-study.png", full_page=True)

"""Every dashboard page, rendered by Streamlit's AppTest against a real study database.

The database (``study_url``, see conftest.py) is made by the real ``autotune study`` command;
the app reads it through ``$AUTOTUNE_STORAGE``, read-only.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from autotune.study import Goals, unique
from autotune.study.read import render, spec_from_record
from autotune.values import TrialRecord
from storage import ResultStore
from tests.study.helpers import sqlite_url
from ui import analysis
from ui.charts import FRONT_NAME, INFEASIBLE_NAME

# Streamlit runs every page (seconds each), mostly over a database of real studies.
pytestmark = pytest.mark.slow

APP = str(Path(analysis.__file__).parent / "app.py")
PAGES = [
    "Studies",
    "Pareto front",
    "Best per objective",
    "Study insight",
    "Trial detail",
    "Latency vs load",
    "Compare",
    "Export",
]


@pytest.fixture(scope="module")
def url(study_url: str) -> str:
    return study_url


@pytest.fixture(scope="module")
def records(url: str) -> list[TrialRecord]:
    return ResultStore(url, read_only=True).records("ui")


@pytest.fixture
def app(url: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("AUTOTUNE_STORAGE", url)
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    return at


def show(at: AppTest, page: str) -> AppTest:
    at.sidebar.radio(key="page").set_value(page).run()
    assert not at.exception, at.exception
    return at


def figures(at: AppTest) -> list[dict[str, Any]]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_exception_or_warning(app: AppTest, page: str) -> None:
    show(app, page)
    assert not app.warning
    assert app.header[0].value.startswith(page.split()[0])


def test_studies_page_refreshes_while_a_study_runs(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import optuna

    copy = tmp_path / "running.db"
    with sqlite3.connect(url.removeprefix("sqlite:///")) as source, sqlite3.connect(copy) as dest:
        source.backup(dest)  # a file copy would miss pages still in the WAL
    optuna.load_study(study_name="ui", storage=f"sqlite:///{copy}").ask()  # left RUNNING
    monkeypatch.setenv("AUTOTUNE_STORAGE", f"sqlite:///{copy}")
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    assert not at.exception
    assert list(at.table[0].value["state"]) == ["running", "finished"]
    assert any("refreshing every" in c.value for c in at.caption)


def test_studies_page_lists_both_studies(app: AppTest) -> None:
    show(app, "Studies")
    table = app.table[0].value
    assert list(table["study"]) == ["ui", "ui-cost"]
    assert list(table["objective"]) == ["pareto", "min-cost"]
    assert list(table["state"]) == ["finished", "finished"]
    assert list(table["completed"]) == [8, 4]  # human column names, not n_complete


def test_pareto_chart_draws_every_distinct_config_and_the_front(
    app: AppTest, records: list[TrialRecord]
) -> None:
    show(app, "Pareto front")
    (fig,) = figures(app)
    markers = [t for t in fig["data"] if t["mode"] == "markers"]
    assert sum(len(t["x"]) for t in markers) == len(unique(records))
    front = analysis.pareto_info(records, Goals("pareto")).front
    (line,) = [t for t in fig["data"] if t["name"] == FRONT_NAME]
    assert line["x"] == [p.p95_ms for p in front]
    table = app.table[0].value  # a static table: wraps, never cut off at the right
    assert list(table["trial"]) == [p.trial_number for p in front]


def test_pareto_chart_greys_infeasible_points(app: AppTest, url: str) -> None:
    app.sidebar.selectbox(key="study").set_value("ui-cost")
    show(app, "Pareto front")
    records = unique(ResultStore(url, read_only=True).records("ui-cost"))
    infeasible = [r for r in records if r.latency.p95_ms > 0.8]
    assert infeasible, "the constrained study should have infeasible trials"
    (fig,) = figures(app)
    grey = [t for t in fig["data"] if t["name"] == INFEASIBLE_NAME]
    assert [len(t["x"]) for t in grey] == [len(infeasible)]
    assert sum(len(t["x"]) for t in fig["data"] if t["mode"] == "markers") == len(records)


def test_pareto_toggles_switch_to_throughput_and_log_axes(app: AppTest) -> None:
    show(app, "Pareto front")
    app.radio(key="pareto_y").set_value("throughput").run()
    app.toggle(key="pareto_log").set_value(True).run()
    assert not app.exception
    (fig,) = figures(app)
    assert fig["layout"]["yaxis"]["title"]["text"] == "throughput (seq/s)"
    assert fig["layout"]["xaxis"]["type"] == "log"


def test_best_page_shows_a_card_per_objective_and_the_fleet(app: AppTest) -> None:
    show(app, "Best per objective")
    # A card per objective, and the fleet for the study's own traffic (open loop, 1,000/s).
    assert len(app.metric) == 4
    assert [m.label for m in app.metric][-1] == "Cheapest fleet for 1000 seq/s"
    app.number_input(key="best_qps").set_value(20000.0).run()
    assert [m.label for m in app.metric][-1] == "Cheapest fleet for 20000 seq/s"


def test_insight_page_draws_history_per_objective_and_importances(app: AppTest) -> None:
    show(app, "Study insight")
    names = [[t.get("name") for t in f["data"]] for f in figures(app)]
    assert names[:2] == [["trial", "best so far"], ["trial", "best so far"]]
    (bars,) = figures(app)[2]["data"]  # the importances of the study's parameters
    assert bars["type"] == "bar" and bars["orientation"] == "h"
    assert len(app.table[0].value) >= 1


def test_trial_page_shows_the_chosen_trial(app: AppTest, records: list[TrialRecord]) -> None:
    show(app, "Trial detail")
    last = records[-1]
    app.selectbox(key="trial_number").set_value(last.trial_number).run()
    assert not app.exception
    assert len(app.table[0].value) == len(last.result.stages)
    assert app.info[0].value.startswith(f"Limited by {last.result.bottleneck}")
    assert any("Reconstructed" in c.value for c in app.caption)


def test_compare_page_compares_studies_and_trials(app: AppTest, records: list[TrialRecord]) -> None:
    show(app, "Compare")
    app.selectbox(key="compare_study").set_value("ui-cost").run()
    table = app.table[0].value
    assert list(table.loc[table[""] == "completed trials", ["A", "B"]].iloc[0]) == ["8", "4"]
    app.radio(key="compare_what").set_value("two trials").run()
    assert not app.exception
    row = app.table[0].value.iloc[0]
    # Trial A opens on the recommended trial, B on the one after it.
    top = analysis.recommended(records, Goals("pareto"))
    assert top is not None
    numbers = [r.trial_number for r in records]
    after = numbers[(numbers.index(top.trial_number) + 1) % len(numbers)]
    assert (row["A"], row["B"]) == (f"ui / {top.trial_number}", f"ui / {after}")


@pytest.fixture
def media(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, bytes]]:
    """The bytes of every file the app hands to the browser, by media id."""
    stored: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def keep(self: MemoryMediaFileStorage, data: Any, *args: Any, **kwargs: Any) -> str:
        file_id = original(self, data, *args, **kwargs)
        stored[file_id] = data.encode() if isinstance(data, str) else bytes(data)
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    yield stored


def test_export_downloads_are_exactly_what_autotune_export_writes(
    app: AppTest, records: list[TrialRecord], media: dict[str, bytes]
) -> None:
    show(app, "Export")
    chosen = records[2]
    app.selectbox(key="export_trial").set_value(chosen.trial_number).run()
    spec = spec_from_record(chosen, "ui")
    buttons = {b.proto.id.rsplit("-", 1)[1]: b.proto.url for b in app.get("download_button")}
    assert set(buttons) == {"export_yaml", "export_env", "export_script"}
    for fmt in ("yaml", "env", "script"):
        file_id = buttons[f"export_{fmt}"].rsplit("/", 1)[1].split(".")[0]
        assert media[file_id].decode() == render(spec, fmt)


def _messages(at: AppTest) -> str:
    assert not at.exception, at.exception
    return " ".join(e.value for e in [*at.warning, *at.info])


@pytest.mark.parametrize("page", ["Studies", "Pareto front"])
def test_missing_database_is_a_message_and_is_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, page: str
) -> None:
    missing = tmp_path / "none.db"
    monkeypatch.setenv("AUTOTUNE_STORAGE", f"sqlite:///{missing}")
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    show(at, page)
    assert "no such file" in _messages(at)
    assert not missing.exists()


def test_unreadable_and_empty_databases_are_messages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    junk = tmp_path / "junk.db"
    junk.write_text("not a database " * 100)
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    for path, expected in ((junk, "not a database"), (empty, "holds no autotune results")):
        monkeypatch.setenv("AUTOTUNE_STORAGE", f"sqlite:///{path}")
        at = AppTest.from_file(APP, default_timeout=30)
        at.run()
        assert expected in _messages(at)


def test_database_without_studies_and_study_without_trials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import optuna

    from autotune.study.read import rdb_storage

    url = sqlite_url(tmp_path)
    ResultStore(url).close()  # autotune's tables, no study yet
    monkeypatch.setenv("AUTOTUNE_STORAGE", url)
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    assert "No studies in" in _messages(at)
    optuna.create_study(study_name="other", storage=rdb_storage(url))
    at.run()
    show(at, "Studies")
    assert list(at.table[0].value["objective"]) == ["(not an autotune study)"]
    show(at, "Pareto front")
    assert "was not created by autotune" in _messages(at)

"""The dashboard's New study page: its form queues through the API's function, with the same
validation, and the queue shows with its progress (Streamlit's AppTest, no browser)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from autotune.errors import InputError
from storage import ServiceStore
from tests.service.conftest import MINILM, dump
from ui._new_study import choice_list, clients, request_of

pytestmark = pytest.mark.slow  # Streamlit runs the dashboard's script
APP = str(Path(__file__).resolve().parents[2] / "ui" / "app.py")

FORM: dict[str, Any] = {
    "objective": "min-cost",
    "trials": 7,
    "name": "",
    "sampler": "tpe",
    "seed": 0,
    "target_qps": 0.0,
    "model": MINILM,
    "task": "question-answering",
    "seq_len": 32,
    "instances": ["inf1.xlarge"],
    "batch_sizes": "1, 2",
    "pipeline_cores": "all",
    "copies": "max",
    "concurrency": "per-stage",
    "workers_per_copy": "1,2",
    "auto_cast": ["matmult"],
    "auto_cast_type": ["bf16"],
    "requests": 300,
    "price_set": "on-demand",
    "max_p95_ms": 0.0,
    "min_throughput": 50.0,
}


def test_form_values_make_the_apis_request() -> None:
    request = request_of(FORM)
    assert request.objective == "min-cost" and request.trials == 7 and request.name is None
    assert request.space["batch_sizes"] == [1, 2] and request.space["copies"] == "max"
    assert request.space["constraints"] == {"max_p95_ms": None, "min_throughput": 50.0}
    assert request.space["workers_per_copy"] == [1, 2] and request.space["auto_cast"] == ["matmult"]
    assert choice_list("all", "pipeline_cores") == "all"
    assert clients("8") == 8 and clients("per-stage") == "per-stage"
    with pytest.raises(InputError, match="batch_sizes: 'one' is not"):
        request_of({**FORM, "batch_sizes": "one"})


def _page(url: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("AUTOTUNE_STORAGE", url)
    app = AppTest.from_file(APP, default_timeout=120)
    app.run()
    app.sidebar.radio(key="page").set_value("New study").run()
    return app


def test_the_page_queues_a_study_and_shows_it(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ServiceStore(sqlite_url).close()  # an empty autotune database
    app = _page(sqlite_url, monkeypatch)
    assert not app.exception, app.exception
    assert [h.value for h in app.header] == ["New study"]
    app.text_input[1].set_value(MINILM)  # model
    app.text_input[2].set_value("1,2")  # batch sizes
    app.button[0].click().run()
    assert not app.exception and not app.error, app.error
    assert "Queued study" in app.success[0].value
    entries = ServiceStore(sqlite_url).queue()
    assert len(entries) == 1 and entries[0].submitted_by == "dashboard"
    assert entries[0].space["model"] == MINILM and entries[0].space["batch_sizes"] == [1, 2]
    assert any(entries[0].name in str(p.proto) for p in app.get("progress"))


def test_the_page_shows_a_bad_value_and_queues_nothing(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ServiceStore(sqlite_url).close()
    app = _page(sqlite_url, monkeypatch)
    before = dump(sqlite_url)
    app.text_input[1].set_value("/no/such/model")
    app.button[0].click().run()
    assert not app.exception
    assert "/no/such/model" in app.error[0].value
    assert dump(sqlite_url) == before

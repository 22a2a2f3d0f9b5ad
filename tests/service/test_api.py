"""The API through FastAPI's test client, on SQLite and PostgreSQL: answers, errors, tokens.

Every rejected request leaves the database exactly as it was (a dump of every table before
and after).
"""

from __future__ import annotations

import json
from typing import Any, get_args

from fastapi.testclient import TestClient

from autotune.service import create_token
from autotune.service._routes import Objective
from autotune.study import OBJECTIVES
from autotune.study.queue import SAMPLER_NAMES, StudyRequest
from autotune.study.write import SAMPLERS
from storage import ServiceStore
from tests.service.conftest import SPACE, dump


def _queue(client: TestClient, **body: Any) -> dict[str, Any]:
    answer = client.post("/studies", json={"space": SPACE, "trials": 3, **body})
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


def test_a_study_is_queued_and_read_back(client: TestClient) -> None:
    created = _queue(client, objective="min-cost", name="first")
    assert created == {"name": "first", "url": "http://testserver/studies/first"}
    study = client.get("/studies/first").json()
    assert study["state"] == "queued"
    assert (study["n_complete"], study["progress"]) == (0, {"n": 0, "total": 3})
    assert study["objective"] == "min-cost" and study["best"] == []
    assert [s["name"] for s in client.get("/studies").json()["studies"]] == ["first"]
    assert client.get("/studies/first/best").json() == {
        "name": "first",
        "objective": "min-cost",
        "feasible": False,
        "best": [],
    }
    assert client.get("/studies/first/trials").json() == {
        "name": "first",
        "trials": [],
        "failed": [],
    }
    assert client.get("/studies/first/export").status_code == 409


def test_space_keys_left_out_take_the_default_spaces_values(client: TestClient) -> None:
    name = _queue(client, space={"model": SPACE["model"], "seq_len": 32})["name"]
    assert name.startswith("min-latency-model-")  # the command line's naming, made unique
    store = ServiceStore(str(client.app.state.reads.url))  # type: ignore[attr-defined]
    entry = store.queued(name)
    assert entry is not None
    assert entry.space["instances"][0] == "inf1.xlarge" and len(entry.space["instances"]) == 5
    assert entry.space["batch_sizes"] == [1, 2, 4, 6, 8, 12, 16]
    assert entry.space["seq_len"] == 32
    assert _queue(client)["name"] != _queue(client)["name"]


BAD_REQUESTS = [
    ("post", "/studies", {"space": SPACE, "objective": "fastest"}, 422, "objective"),
    ("post", "/studies", {"space": {**SPACE, "colour": "red"}}, 422, "unknown key 'colour'"),
    ("post", "/studies", {"space": {**SPACE, "batch_sizes": [0]}}, 422, "batch_sizes"),
    ("post", "/studies", {"space": {**SPACE, "instances": ["p9.huge"]}}, 422, "p9.huge"),
    ("post", "/studies", {"space": {**SPACE, "model": "/no/such/dir"}}, 422, "/no/such/dir"),
    ("post", "/studies", {"space": SPACE, "trials": 0}, 422, "trials"),
    ("post", "/studies", {"space": SPACE, "sampler": "magic"}, 422, "sampler"),
    ("post", "/studies", {"space": SPACE, "name": "a/b"}, 422, "name"),
    ("post", "/studies", {"space": SPACE, "extra": 1}, 422, "extra"),
    ("post", "/studies", {"space": "not a mapping"}, 422, "space"),
    ("get", "/studies/missing", None, 404, "missing"),
    ("get", "/studies/missing/trials", None, 404, "missing"),
    ("get", "/studies/missing/best", None, 404, "missing"),
    ("get", "/studies/missing/export", None, 404, "missing"),
    ("delete", "/studies/missing", None, 404, "missing"),
    ("get", "/studies/queued/export?format=xml", None, 422, "format"),
    ("get", "/studies/queued/best?objective=fastest", None, 422, "objective"),
    ("get", "/studies/queued/trials?sort=colour", None, 422, "sort"),
    ("get", "/studies/queued/trials?limit=0", None, 422, "limit"),
]


def test_bad_input_is_a_clear_json_error_and_changes_nothing(client: TestClient) -> None:
    _queue(client, name="queued")
    url = str(client.app.state.reads.url)  # type: ignore[attr-defined]
    before = dump(url)
    for method, path, body, status, named in BAD_REQUESTS:
        answer = client.request(method, path, json=body)
        assert answer.status_code == status, (method, path, body, answer.text)
        error = answer.json()
        assert set(error) == {"error", "message", "status"} and error["status"] == status
        assert named in error["message"], (path, body, error)
        assert "\n" not in error["message"] and "Traceback" not in answer.text
    assert dump(url) == before


def test_malformed_json_and_oversized_bodies(client: TestClient) -> None:
    url = str(client.app.state.reads.url)  # type: ignore[attr-defined]
    before = dump(url)
    broken = client.post(
        "/studies", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422 and broken.json()["error"] == "invalid"
    binary = client.post(
        "/studies", content=b"\xff\xfe{", headers={"content-type": "application/json"}
    )
    assert binary.status_code == 400 and binary.json()["error"] == "bad_request"
    big = {"space": {**SPACE, "model": "x" * 70_000}}
    answer = client.post("/studies", json=big)
    assert answer.status_code == 413 and answer.json()["error"] == "body_too_large"

    def chunks() -> Any:  # no Content-Length: the limit counts what streams in
        for _ in range(100):
            yield b" " * 1024

    streamed = client.post(
        "/studies", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert dump(url) == before


def test_duplicate_names_conflict(client: TestClient) -> None:
    _queue(client, name="twice")
    url = str(client.app.state.reads.url)  # type: ignore[attr-defined]
    before = dump(url)
    answer = client.post("/studies", json={"space": SPACE, "name": "twice"})
    assert answer.status_code == 409 and "twice" in answer.json()["message"]
    assert dump(url) == before


def test_delete_cancels_a_queued_study_once(client: TestClient) -> None:
    _queue(client, name="doomed")
    answer = client.delete("/studies/doomed")
    assert answer.status_code == 200 and answer.json()["state"] == "cancelled"
    assert client.get("/studies/doomed").json()["state"] == "cancelled"
    again = client.delete("/studies/doomed")
    assert again.status_code == 409 and "cancelled" in again.json()["message"]


def test_tokens_scopes_and_statuses(client: TestClient) -> None:
    assert client.get("/studies").status_code == 200  # no token yet: open (loopback only)
    store = client.app.state.reads.store  # type: ignore[attr-defined]
    reader, submitter = create_token(store, "read", "ci"), create_token(store, "submit", "alice")
    client.app.state.gate._required = True  # type: ignore[attr-defined]  # no 1 s wait
    url = str(client.app.state.reads.url)  # type: ignore[attr-defined]
    before = dump(url)
    for headers, status in [
        ({}, 401),
        ({"Authorization": "Bearer nonsense"}, 401),
        ({"Authorization": f"Bearer {reader}x"}, 401),
        ({"Authorization": f"Basic {reader}"}, 401),
        ({"Authorization": f"Bearer {reader}"}, 403),
    ]:
        answer = client.post("/studies", json={"space": SPACE}, headers=headers)
        assert answer.status_code == status, (headers, answer.text)
        assert reader not in answer.text and submitter not in answer.text
        if status == 401:
            assert answer.headers["www-authenticate"] == "Bearer"
    assert dump(url) == before
    assert client.get("/studies").status_code == 401
    assert client.get("/metrics").status_code == 401
    assert client.get("/healthz").status_code == 200
    for token in (reader, submitter):
        assert (
            client.get("/studies", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        )
    auth = {"Authorization": f"Bearer {submitter}"}
    created = client.post("/studies", json={"space": SPACE, "name": "by-alice"}, headers=auth)
    assert created.status_code == 202
    assert client.get("/studies/by-alice", headers=auth).json()["submitted_by"] == "alice"
    assert (
        client.delete(
            "/studies/by-alice", headers={"Authorization": f"Bearer {reader}"}
        ).status_code
        == 403
    )
    stored = json.dumps(dump(url)["autotune_tokens"])
    for token in (reader, submitter):
        assert token.split(".")[2] not in stored  # the secret is never stored
        assert token.split(".")[1] in stored  # its public id is


def test_metrics_in_prometheus_text(client: TestClient) -> None:
    _queue(client, name="waiting")
    answer = client.get("/metrics")
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = answer.text.splitlines()
    assert "autotune_queue_depth 1" in lines
    assert 'autotune_queue_studies{state="queued"} 1' in lines
    assert "autotune_trials_finished_total 0" in lines
    assert 'autotune_trial_duration_seconds_bucket{le="+Inf"} 0' in lines
    assert "# TYPE autotune_trial_duration_seconds histogram" in lines


def test_openapi_and_docs(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths) == {
        "/studies",
        "/studies/{name}",
        "/studies/{name}/trials",
        "/studies/{name}/best",
        "/studies/{name}/export",
        "/healthz",
        "/metrics",
    }
    assert client.get("/docs").status_code == 200


def test_request_choices_match_the_study_layer() -> None:
    assert SAMPLER_NAMES == SAMPLERS
    assert get_args(StudyRequest.model_fields["sampler"].annotation) == SAMPLERS
    assert get_args(Objective) == tuple(OBJECTIVES)

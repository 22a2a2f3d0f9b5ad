"""The dashboard's New study page: the search space as a form, queued for workers.

The form's values go through the same function as ``POST /studies``
(``autotune.study.queue.submit``), so they are validated as a search-space document is (the
message names the key). Workers (``autotune worker``) run what is queued; the table below the
form follows queued and running studies live. Whether the space's instances can deploy the
model is checked by the worker (the dashboard loads no hardware model): a space without any
deployable candidate shows as failed, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import optuna
import streamlit as st
from pydantic import ValidationError

from autotune.catalog import instance_names, price_set_names
from autotune.errors import InputError
from autotune.models import TASKS
from autotune.study import OBJECTIVES, load_space
from autotune.study.queue import SAMPLER_NAMES, Progress, StudyRequest, progress, submit
from autotune.study.read import rdb_storage
from storage import ServiceStore

REFRESH_S = 2.0


def choice_list(text: str, field: str, words: tuple[str, ...] = ("all",)) -> Any:
    """A form's ``all`` (or another word) or comma list of integers, as the space document
    takes it; ``InputError`` naming the field otherwise."""
    text = text.strip()
    if text in words:
        return text
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        accepted = " or ".join(repr(w) for w in words)
        raise InputError(
            f"{field}: {text!r} is not {accepted} or a comma list of integers"
        ) from None


def clients(text: str) -> str | int:
    """``per-stage`` or a number of clients."""
    text = text.strip()
    if text == "per-stage":
        return text
    try:
        return int(text)
    except ValueError:
        raise InputError(f"concurrency: {text!r} is not 'per-stage' or an integer") from None


def optional(value: float) -> float | None:
    """A number input's 0 means "not set"."""
    return value or None


def _form(default: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    with st.form("new_study"):
        left, right = st.columns(2)
        v: dict[str, Any] = {
            "objective": left.selectbox("objective", list(OBJECTIVES)),
            "trials": left.number_input("trials", 1, 10_000, 40),
            "name": left.text_input("name (optional)", ""),
            "sampler": left.selectbox("sampler", SAMPLER_NAMES),
            "seed": left.number_input("seed", 0, 2**31, 0),
            "target_qps": left.number_input("target load seq/s (0 = none)", 0.0, value=0.0),
            "model": right.text_input("model (preset or checkpoint directory)", default["model"]),
            "task": right.selectbox("task", TASKS, index=TASKS.index(default["task"])),
            "seq_len": right.number_input("sequence length", 1, 8192, default["seq_len"]),
            "instances": right.multiselect(
                "instances", instance_names(), default=default["instances"]
            ),
            "batch_sizes": right.text_input(
                "batch sizes", ",".join(map(str, default["batch_sizes"]))
            ),
        }
        more = st.columns(4)
        v["pipeline_cores"] = more[0].text_input("pipeline cores", str(default["pipeline_cores"]))
        v["copies"] = more[1].text_input("copies (all, max or list)", str(default["copies"]))
        v["concurrency"] = more[2].text_input("clients (per-stage or number)", "per-stage")
        v["requests"] = more[3].number_input("simulated requests", 1, value=default["requests"])
        v["price_set"] = more[0].selectbox("price set", price_set_names())
        v["max_p95_ms"] = more[1].number_input("max p95 ms (0 = none)", 0.0, value=0.0)
        v["min_throughput"] = more[2].number_input("min seq/s (0 = none)", 0.0, value=0.0)
        v2 = st.columns(3)  # NeuronCore-v2 (inf2, trn1)
        v["workers_per_copy"] = v2[0].text_input(
            "worker threads per copy (inf2, trn1)", _listed(default["workers_per_copy"])
        )
        v["auto_cast"] = v2[1].multiselect(
            "auto-cast (inf2, trn1)", ["none", "matmult", "all"], default=default["auto_cast"]
        )
        v["auto_cast_type"] = v2[2].multiselect(
            "auto-cast type (inf2, trn1)",
            ["bf16", "fp16", "tf32", "fp8_e4m3"],
            default=default["auto_cast_type"],
        )
        return st.form_submit_button("Queue study"), v


def _listed(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def request_of(v: dict[str, Any]) -> StudyRequest:
    """The API's request for the form's values (``ValidationError`` or ``InputError``)."""
    space = {
        "model": v["model"].strip(),
        "task": v["task"],
        "seq_len": int(v["seq_len"]),
        "instances": list(v["instances"]),
        "batch_sizes": choice_list(v["batch_sizes"], "batch_sizes", ()),
        "pipeline_cores": choice_list(v["pipeline_cores"], "pipeline_cores"),
        "copies": choice_list(v["copies"], "copies", ("all", "max")),
        "concurrency": clients(v["concurrency"]),
        "workers_per_copy": choice_list(v["workers_per_copy"], "workers_per_copy"),
        "auto_cast": list(v["auto_cast"]),
        "auto_cast_type": list(v["auto_cast_type"]),
        "requests": int(v["requests"]),
        "price_set": v["price_set"],
        "constraints": {
            "max_p95_ms": optional(v["max_p95_ms"]),
            "min_throughput": optional(v["min_throughput"]),
        },
    }
    return StudyRequest(
        space=space,
        objective=v["objective"],
        trials=int(v["trials"]),
        name=v["name"].strip() or None,
        target_qps=optional(v["target_qps"]),
        sampler=v["sampler"],
        seed=int(v["seed"]),
    )


@dataclass(frozen=True)
class QueueRow:
    study: str
    state: str
    progress: str
    running_trials: int
    objective: str
    submitted_by: str
    note: str


def queue_rows(url: str) -> list[Progress]:
    """Where every queued study stands, newest first."""
    store = ServiceStore(url)
    try:
        storage = rdb_storage(url)
        names = set(optuna.study.get_all_study_names(storage))
        return [
            progress(
                optuna.load_study(study_name=e.name, storage=storage) if e.name in names else None,
                e,
                e.name,
            )
            for e in reversed(store.queue())
        ]
    finally:
        store.close()


def new_study_page(url: str) -> None:
    st.header("New study")
    st.caption(
        "Queued for `autotune worker` processes (the same queue as `POST /studies`); keys you "
        "do not change keep the default space's values."
    )
    pressed, values = _form(load_space().model_dump(mode="json"))
    if pressed:
        try:
            entry = submit(ServiceStore(url), request_of(values), who="dashboard")
        except ValidationError as e:
            first = e.errors()[0]
            st.error(f"{'.'.join(map(str, first['loc']))}: {first['msg']}")
        except InputError as e:
            st.error(str(e))
        else:
            st.success(f"Queued study {entry.name!r}: start `autotune worker --storage {url}`.")
    _live_queue(url)


@st.fragment(run_every=REFRESH_S)
def _live_queue(url: str) -> None:
    rows = queue_rows(url)
    st.subheader("Queue")
    if not rows:
        st.info("Nothing queued yet.")
        return
    for p in rows:
        if p.state in ("queued", "running"):
            label = f"{p.name}: {p.state}, {p.n_finished}/{p.total} trials"
            st.progress(min(p.n_finished / p.total, 1.0), text=label)
    st.dataframe(
        [
            QueueRow(
                p.name,
                p.state,
                f"{p.n_finished}/{p.total}",
                p.n_running,
                p.objective,
                p.submitted_by or "-",
                p.error or "",
            ).__dict__
            for p in rows
        ],
        hide_index=True,
    )

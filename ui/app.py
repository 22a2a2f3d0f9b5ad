"""The autotune dashboard: ``streamlit run ui/app.py -- --storage URL`` (or ``autotune ui``).

Opens the result database read-only. Each page draws values computed by ``ui.analysis``;
every problem a user can cause is shown as a message, never as a traceback.

Length: just over 300 lines, one short function per page.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from autotune.errors import AutotuneError
from autotune.study.read import render, spec_from_record
from autotune.values import TrialRecord
from ui import analysis, charts
from ui._new_study import new_study_page
from ui.data import LoadedStudy, list_study_names, load_study, storage_url, study_rows

REFRESH_S = 5.0
EXPORTS = (
    ("yaml", "deployment.yaml", "application/x-yaml"),
    ("env", "deployment.env", "text/plain"),
    ("script", "deploy.py", "text/x-python"),
)


def studies_page(url: str) -> None:
    st.header("Studies")
    rows = study_rows(url)
    if any(r.state == "running" for r in rows):
        _live_studies(url)
    else:
        _studies_table(rows)


@st.fragment(run_every=REFRESH_S)
def _live_studies(url: str) -> None:
    rows = study_rows(url)
    st.caption(f"a study is running: refreshing every {REFRESH_S:g} s")
    _studies_table(rows)
    if not any(r.state == "running" for r in rows):
        st.rerun(scope="app")  # stop refreshing once every study has finished


def _studies_table(rows: list[analysis.StudyRow]) -> None:
    # A static table: long recommendations wrap instead of being cut off at the right.
    st.table(analysis.study_table(rows), hide_index=True)


def _goals(study: LoadedStudy) -> None:
    """The study's objective, constraints and traffic, under every page's header."""
    traffic = analysis.traffic_text(study.records)
    st.caption(analysis.goals_text(study.opened.goals, traffic))


def pareto_page(study: LoadedStudy) -> None:
    st.header(f"Pareto front: {study.name}")
    _goals(study)
    left, right = st.columns(2)
    y: analysis.YAxis | None = left.radio(
        "y axis",
        analysis.Y_AXES,
        horizontal=True,
        key="pareto_y",
        format_func=lambda v: "cost vs latency" if v == "cost" else "throughput vs latency",
    )
    # Log axes by default: latency and cost span orders of magnitude across instance sizes.
    log_axes = right.toggle("log axes", value=True, key="pareto_log")
    info = analysis.pareto_info(study.records, study.opened.goals, y or "cost")
    st.plotly_chart(charts.pareto_figure(info, log_axes))
    st.caption(
        f"{len(info.points)} distinct configs, {sum(not p.feasible for p in info.points)} "
        f"infeasible (grey), {info.n_repeats} repeated trials not drawn twice. "
        "Marker: circle data-parallel, square pipeline, diamond mixed, triangle GPU. "
        "The front leaves out a config another one matches within the emulator's uncertainty "
        f"(else {analysis.DEFAULT_TOLERANCE:.0%}) and clearly beats on the other axis."
    )
    st.subheader("Pareto set")
    st.table(
        [
            {
                "trial": p.trial_number,
                "instance": p.instance_type,
                "mode": p.mode,
                "p95 (ms)": analysis.num(p.p95_ms),
                "seq/s": analysis.num(p.throughput),
                info.cost_label: analysis.num(p.cost),
                "config": p.config,
            }
            for p in info.front
        ],
        hide_index=True,
    )


def best_page(study: LoadedStudy) -> None:
    st.header(f"Best per objective: {study.name}")
    _goals(study)
    goals = study.opened.goals
    qps = st.number_input(
        "target load (seq/s) for the fleet card",
        min_value=0.0,
        value=float(goals.target_qps or 0.0),
        key="best_qps",
    )
    cards = analysis.best_cards(study.records, goals, qps or None)
    if not cards:
        st.warning("No completed trial meets the study's constraints.")
        return
    for column, card in zip(st.columns(len(cards)), cards, strict=True):
        with column.container(border=True):
            st.metric(card.title, card.headline)
            st.text(card.detail)
    st.caption(
        "Each card is `autotune best --objective ...`: values within the emulator's "
        "uncertainty tie, and a tie goes to the cheaper (for cost: the faster) config."
    )


def insight_page(study: LoadedStudy) -> None:
    st.header(f"Study insight: {study.name}")
    _goals(study)
    st.subheader("Optimization history")
    for series in analysis.history(study.records, study.opened.goals):
        st.plotly_chart(charts.history_figure(series))
    label = study.opened.goals.metric_labels()[0]
    st.subheader(f"Parameter importances for {label}")
    importances = analysis.param_importances(study.opened.study)
    if importances:
        st.plotly_chart(charts.importance_figure(importances, label))
        st.caption(
            "Optuna's fANOVA importance of each search parameter for the study's first "
            "objective; counts (copies, pipeline cores) are drawn as a share of what fits."
        )
    else:
        st.info("Importances need at least two completed trials with different parameters.")
    st.subheader("By instance type and batch size")
    st.table(analysis.group_table(analysis.by_instance_and_batch(study.records)), hide_index=True)


def _pick_trial(study: LoadedStudy, label: str, key: str, second: bool = False) -> TrialRecord:
    """A trial picker that opens on the recommended trial (``second``: on the trial after it)."""
    by_number = {r.trial_number: r for r in study.records}
    numbers = list(by_number)
    top = analysis.recommended(study.records, study.opened.goals)
    index = numbers.index(top.trial_number) if top is not None else 0
    if second:
        index = (index + 1) % len(numbers)
    number = st.selectbox(
        label,
        numbers,
        index=index,
        key=key,
        format_func=lambda n: f"{n} (recommended)" if top and n == top.trial_number else str(n),
    )
    return by_number[number if number is not None else numbers[0]]


def trial_page(study: LoadedStudy) -> None:
    st.header(f"Trial detail: {study.name}")
    _goals(study)
    record = _pick_trial(study, "trial", "trial_number")
    detail = analysis.trial_detail(record)
    st.text(analysis.config_text(record, study.opened.goals, "\n"))
    lat = detail.latency
    for column, (name, value) in zip(
        st.columns(5),
        [
            ("p50", f"{analysis.num(lat.p50_ms)} ms"),
            ("p95", f"{analysis.num(lat.p95_ms)} ms"),
            ("p99", f"{analysis.num(lat.p99_ms)} ms"),
            ("mean", f"{analysis.num(lat.mean_ms)} ms"),
            ("p99 / p50", analysis.num(lat.tail_ratio)),
        ],
        strict=True,
    ):
        column.metric(name, value)
    st.info(detail.bottleneck)
    st.subheader("Stages")
    st.table(analysis.stage_table(detail.stages), hide_index=True)
    st.subheader("Core utilization by chip")
    st.plotly_chart(charts.utilization_figure(detail.chips))
    st.caption(f"host CPU utilization {detail.host_utilization:.1%}")
    st.subheader("Request timeline")
    n = st.slider("requests", 1, 64, 12, key="timeline_n")
    st.plotly_chart(charts.timeline_figure(analysis.timeline(record, n)))
    st.caption(analysis.TIMELINE_NOTE)


def load_page(study: LoadedStudy) -> None:
    st.header(f"Latency against load: {study.name}")
    _goals(study)
    curves = analysis.load_curves(study.records)
    if not curves:
        st.info("No trial of this study has a latency-against-load curve yet.")
        st.caption(analysis.LOAD_NOTE)
        return
    labels = {c.label: c for c in curves}
    chosen = st.multiselect("deployments", list(labels), default=list(labels)[:3], key="curves")
    picked = [labels[label] for label in chosen or list(labels)[:1]]
    st.plotly_chart(charts.load_curve_figure(picked))
    st.caption(analysis.LOAD_NOTE)
    rows = [
        {
            "trial": c.trial_number,
            "knee requests/s": None if c.knee_point is None else round(c.knee_point.qps, 1),
            "knee utilization": None if c.knee_point is None else c.knee_point.utilization,
            "p95 at knee ms": None if c.knee_point is None else round(c.knee_point.p95_ms, 3),
        }
        for c in picked
    ]
    st.table(rows, hide_index=True)


def compare_page(study: LoadedStudy, url: str, names: list[str]) -> None:
    st.header("Compare")
    _goals(study)
    what = st.radio("compare", ["two studies", "two trials"], horizontal=True, key="compare_what")
    if what == "two trials":
        left, right = st.columns(2)
        with left:
            a = _pick_trial(study, "trial A", "compare_a")
        with right:
            b = _pick_trial(study, "trial B", "compare_b", second=True)
        rows = analysis.compare_trials(a, b)
    else:
        other = st.selectbox("other study", names, key="compare_study")
        second = study if other in (None, study.name) else load_study(url, other)
        rows = analysis.compare(
            study.records, second.records, study.opened.goals, second.opened.goals
        )
        st.caption(f"A = {study.name}, B = {second.name}")
    st.table([{"": r.what, "A": r.a, "B": r.b} for r in rows], hide_index=True)


def export_page(study: LoadedStudy) -> None:
    st.header(f"Export: {study.name}")
    _goals(study)
    record = _pick_trial(study, "trial to export", "export_trial")
    spec = spec_from_record(record, study.name)
    st.caption("The same files `autotune export` writes.")
    for column, (fmt, file_name, mime) in zip(st.columns(len(EXPORTS)), EXPORTS, strict=True):
        column.download_button(
            f"Download {fmt}",
            render(spec, fmt),
            file_name=file_name,
            mime=mime,
            key=f"export_{fmt}",
        )
    st.code(render(spec, "yaml"), language="yaml")


STUDY_PAGES: dict[str, Callable[[LoadedStudy], None]] = {
    "Pareto front": pareto_page,
    "Best per objective": best_page,
    "Study insight": insight_page,
    "Trial detail": trial_page,
    "Latency vs load": load_page,
    "Export": export_page,
}
PAGES = [
    "Studies",
    "New study",
    "Pareto front",
    "Best per objective",
    "Study insight",
    "Trial detail",
    "Latency vs load",
    "Compare",
    "Export",
]


def main() -> None:
    st.set_page_config(page_title="autotune", layout="wide")
    url = storage_url()
    st.sidebar.title("autotune")
    page = st.sidebar.radio("page", PAGES, key="page")
    st.sidebar.caption(f"storage: {url} (read-only but for New study)")
    try:
        if page == "New study":  # queues studies: needs no study to exist yet
            new_study_page(url)
            return
        _show(page or PAGES[0], url)
    except AutotuneError as e:
        st.warning(f"{e}")


def _show(page: str, url: str) -> None:
    names = list_study_names(url)
    if not names:
        st.info(f"No studies in {url} yet. Run `autotune study ... --storage {url}` first.")
        return
    name = st.sidebar.selectbox("study", names, key="study")
    if page == "Studies":
        studies_page(url)
        return
    study = load_study(url, name or names[0])
    if not study.records:
        state = "is still running" if study.n_running else "has no completed trial"
        st.info(f"Study {study.name!r} {state}: nothing to show yet.")
        return
    if page == "Compare":
        compare_page(study, url, names)
    else:
        STUDY_PAGES[page](study)


main()

"""Plotly figures drawn from the typed values of ``ui.analysis``; no computation of results."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.colors import qualitative

from ui.analysis import (
    ChipUtilization,
    HistorySeries,
    LoadCurve,
    ParetoInfo,
    ParetoPoint,
    TimelineBar,
)

SYMBOLS = {
    "data-parallel": "circle",
    "pipeline": "square",
    "mixed": "diamond",
    "gpu": "triangle-up",
}
FRONT_NAME = "Pareto front"
INFEASIBLE_NAME = "infeasible"
GREY = "#b0b0b0"
_PALETTE = qualitative.Plotly


def _y(point: ParetoPoint, info: ParetoInfo) -> float:
    return point.cost if info.y == "cost" else point.throughput


def pareto_figure(info: ParetoInfo, log_axes: bool = True) -> go.Figure:
    """One marker trace per instance family and mode (the instance size is in the hover),
    infeasible points grey, the front as a line."""
    fig = go.Figure()
    groups: dict[tuple[str, str], list[ParetoPoint]] = {}
    for p in info.points:
        if p.feasible:
            groups.setdefault((p.family, p.mode), []).append(p)
    palette = qualitative.Plotly
    for i, ((family, mode), points) in enumerate(sorted(groups.items())):
        trace = _markers(points, info, mode, palette[i % len(palette)], mode)
        trace.update(legendgroup=family, legendgrouptitle_text=family)
        fig.add_trace(trace)
    infeasible = [p for p in info.points if not p.feasible]
    if infeasible:
        fig.add_trace(_markers(infeasible, info, INFEASIBLE_NAME, GREY, None))
    if info.front:
        fig.add_trace(
            go.Scatter(
                x=[p.p95_ms for p in info.front],
                y=[_y(p, info) for p in info.front],
                mode="lines",
                line={
                    "color": "black",
                    "dash": "dot",
                    "shape": "hv" if info.y == "cost" else "linear",
                },
                name=FRONT_NAME,
                hoverinfo="skip",
            )
        )
    axis_type = "log" if log_axes else "linear"
    fig.update_layout(
        xaxis={"title": info.x_label, "type": axis_type},
        yaxis={"title": info.y_label, "type": axis_type},
        legend={"title": "family, mode", "groupclick": "toggleitem"},
        margin={"t": 30},
    )
    return fig


def _error_bars(sizes: list[float], colour: str) -> dict[str, object]:
    return {"type": "data", "array": sizes, "thickness": 1, "width": 3, "color": colour}


def _markers(
    points: Sequence[ParetoPoint], info: ParetoInfo, name: str, colour: str, mode: str | None
) -> go.Scatter:
    """Points of one legend entry; those on the front carry the emulator's uncertainty as
    error bars (a trade smaller than the bars is within the emulator's error)."""
    return go.Scatter(
        x=[p.p95_ms for p in points],
        y=[_y(p, info) for p in points],
        error_x=_error_bars([p.p95_ms * p.p95_rel if p.on_front else 0 for p in points], colour),
        error_y=_error_bars([_y(p, info) * p.y_rel if p.on_front else 0 for p in points], colour),
        mode="markers",
        name=name,
        marker={
            "color": colour,
            "size": [12 if p.on_front else 8 for p in points],
            "symbol": [SYMBOLS[p.mode] for p in points] if mode is None else SYMBOLS[mode],
            "line": {"width": 1, "color": "black"},
        },
        text=[p.hover for p in points],
        hovertemplate="%{text}<extra></extra>",
    )


def history_figure(series: HistorySeries) -> go.Figure:
    fig = go.Figure()
    xs = [p.trial_number for p in series.points]
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=[p.value for p in series.points],
            mode="markers",
            name="trial",
            marker={"color": ["#1f77b4" if p.feasible else GREY for p in series.points]},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=[p.best_so_far for p in series.points],
            mode="lines",
            line={"shape": "hv"},
            name="best so far",
        )
    )
    fig.update_layout(xaxis_title="trial", yaxis_title=series.label, margin={"t": 30})
    return fig


def importance_figure(importances: dict[str, float], objective: str = "") -> go.Figure:
    names = list(importances)[::-1]
    fig = go.Figure(go.Bar(x=[importances[n] for n in names], y=names, orientation="h"))
    title = f"importance for {objective}" if objective else "importance"
    fig.update_layout(xaxis_title=title, margin={"t": 30})
    return fig


def utilization_figure(chips: Sequence[ChipUtilization]) -> go.Figure:
    fig = go.Figure()
    for chip in chips:
        fig.add_trace(
            go.Bar(
                x=[f"core {c}" for c in chip.cores],
                y=[u * 100 for u in chip.utilization],
                name=f"chip {chip.chip}",
            )
        )
    fig.update_layout(yaxis={"title": "busy %", "range": [0, 100]}, margin={"t": 30})
    return fig


def timeline_figure(bars: Sequence[TimelineBar]) -> go.Figure:
    """A Gantt chart: one row per core, one bar per request on that core's stage."""
    fig = go.Figure()
    requests = sorted({b.request for b in bars})
    for request in requests:
        mine = [b for b in bars if b.request == request]
        fig.add_trace(
            go.Bar(
                base=[b.start_ms for b in mine],
                x=[b.end_ms - b.start_ms for b in mine],
                y=[f"core {b.core}" for b in mine],
                orientation="h",
                name=f"request {request}",
                marker={"color": qualitative.Plotly[request % len(qualitative.Plotly)]},
                text=[f"r{request}" for _ in mine],
                hovertemplate=[
                    f"request {b.request} (client {b.client}, copy {b.copy}) stage {b.stage}<br>"
                    f"{b.start_ms:.3f} - {b.end_ms:.3f} ms<extra></extra>"
                    for b in mine
                ],
            )
        )
    fig.update_layout(
        barmode="overlay",
        xaxis_title="time (ms, reconstructed)",
        yaxis={"autorange": "reversed"},
        showlegend=False,
        margin={"t": 30},
    )
    return fig


def load_curve_figure(curves: Sequence[LoadCurve]) -> go.Figure:
    """p50/p95/p99 against the arrival rate, one colour per deployment, the knee marked."""
    fig = go.Figure()
    dashes = {"p50": "dot", "p95": "solid", "p99": "dash"}
    for i, curve in enumerate(curves):
        colour = _PALETTE[i % len(_PALETTE)]
        x = [p.qps for p in curve.points]
        for name, dash in dashes.items():
            y = [getattr(p, f"{name}_ms") for p in curve.points]
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    mode="lines+markers",
                    name=f"{name} {curve.label}",
                    line={"color": colour, "dash": dash},
                )
            )
        k = curve.knee_point
        if k is not None:
            fig.add_trace(
                go.Scatter(
                    x=[k.qps],
                    y=[k.p95_ms],
                    mode="markers+text",
                    marker={"symbol": "x", "size": 14, "color": colour},
                    text=[f"knee {k.qps:.0f}/s"],
                    textposition="top left",
                    name=f"knee, trial {curve.trial_number}",
                )
            )
    fig.update_layout(
        xaxis_title="arrival rate at one instance (requests/s)",
        yaxis_title="latency (ms)",
        yaxis_type="log",
    )
    return fig

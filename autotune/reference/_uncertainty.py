"""How sure the emulator is: the leave-one-source-out error of a prediction's regime.

A regime is the hardware generation (a GPU with its serving stack, as "gpu:tensorrt-fp16"),
the batch range and the load (one client per model copy or fewer, or more).
``benchmarks/fit_calibration.py --cv --write-uncertainty`` writes the cross-validated error of
each regime to ``uncertainty.yaml``; ``uncertainty`` looks an evaluation's regime up there (a
regime without cross-validated figures falls back to its stack, its generation, then to all).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from autotune.reference._validate import ValidationRow, median
from autotune.values import Evaluation

UNCERTAINTY_FILE = Path(__file__).with_name("uncertainty.yaml")
LATENCY = ("p50_ms", "p95_ms", "mean_ms")


@dataclass(frozen=True)
class Uncertainty:
    """Relative uncertainty of a prediction's throughput and latency (0.1 = +-10%)."""

    throughput_rel: float
    latency_rel: float

    def to_dict(self) -> dict[str, float]:
        return {"throughput_rel": self.throughput_rel, "latency_rel": self.latency_rel}


def regime(generation: str, batch: int, clients: int, copies: int) -> tuple[str, str, str]:
    """(generation, batch range, load): one client per copy or fewer is a light load."""
    batches = "1" if batch == 1 else "2-8" if batch <= 8 else "9+"
    return generation, batches, "light" if clients <= copies else "queued"


def _rms(errors: Sequence[float]) -> float | None:
    return round(math.sqrt(sum(e * e for e in errors) / len(errors)), 4) if errors else None


def _entry(rows: Sequence[ValidationRow]) -> dict[str, float | int | None]:
    thr = [r.error for r in rows if r.metric == "throughput"]
    lat = [r.error for r in rows if r.metric in LATENCY]
    return {"throughput_rel": _rms(thr), "latency_rel": _rms(lat), "rows": len(rows)}


def regime_table(rows: Iterable[ValidationRow]) -> dict[str, object]:
    """RMS cross-validated error per regime, per generation, and over everything."""
    rows = list(rows)
    by: dict[tuple[str, str, str], list[ValidationRow]] = {}
    for r in rows:
        by.setdefault(regime(r.generation, r.batch, r.clients, r.copies), []).append(r)
    generations: dict[str, list[ValidationRow]] = {}
    for r in rows:  # a GPU stack, and the GPU generation as a whole
        for name in dict.fromkeys([r.generation, r.generation.split(":")[0]]):
            generations.setdefault(name, []).append(r)
    return {
        "regimes": [
            {"generation": g, "batch": b, "load": load, **_entry(rs)}
            for (g, b, load), rs in by.items()
        ],
        "generations": {g: _entry(rs) for g, rs in generations.items()},
        "all": _entry(rows),
    }


def write_uncertainty(rows: Iterable[ValidationRow], path: Path = UNCERTAINTY_FILE) -> None:
    header = (
        "# Leave-one-source-out error per regime (RMS of the relative errors of its figures),\n"
        "# written by benchmarks/fit_calibration.py --cv --write-uncertainty. Read by\n"
        "# autotune.reference.uncertainty(); null where a regime has no figure of that kind.\n"
    )
    path.write_text(header + yaml.safe_dump(regime_table(rows), sort_keys=False))


@functools.cache
def _table() -> dict:
    text = resources.files("autotune.reference").joinpath("uncertainty.yaml").read_text()
    return dict(yaml.safe_load(text))


def _lookup(entries: Sequence[dict], key: str) -> float | None:
    values = [e[key] for e in entries if e.get(key) is not None]
    return max(values) if values else None


def uncertainty(evaluation: Evaluation) -> Uncertainty:
    """The cross-validated relative error of ``evaluation``'s regime."""
    table = _table()
    generation = evaluation.generation
    if "stack" in evaluation.settings:
        generation = f"{generation}:{evaluation.settings['stack']}"
    copies = max(1, len(evaluation.settings.get("copies", ())))
    key = regime(generation, evaluation.workload.batch_size, evaluation.result.concurrency, copies)
    exact = [r for r in table["regimes"] if (r["generation"], r["batch"], r["load"]) == key]
    broader = [
        table["generations"].get(generation, {}),
        table["generations"].get(generation.split(":")[0], {}),
        table["all"],
    ]
    values = {}
    for kind in ("throughput_rel", "latency_rel"):
        values[kind] = _lookup(exact, kind) or next(
            (e[kind] for e in broader if e.get(kind) is not None), 0.0
        )
    return Uncertainty(float(values["throughput_rel"]), float(values["latency_rel"]))


def summarize(rows: Sequence[ValidationRow]) -> str:
    """Median and worst error: over every figure, and over each generation."""

    def line(name: str, rs: Sequence[ValidationRow]) -> str:
        errors = [r.error for r in rs]
        return (
            f"{name}: {len(rs)} figures, median {median(errors):.1%}, worst {max(errors):.1%}"
            if rs
            else f"{name}: no figures"
        )

    scopes = {"all": list(rows)}
    for r in rows:
        scopes.setdefault(r.generation, []).append(r)
    return "\n".join(line(name, rs) for name, rs in scopes.items())

"""Writing the emulator's uncertainty: the leave-one-source-out error of each regime.

``benchmarks/fit_calibration.py --cv --write-uncertainty`` writes the cross-validated error of
each regime to ``autotune/hardware/uncertainty.yaml``; every evaluation then carries the error
of its regime (``autotune.hardware.uncertainty_of``), which ``uncertainty`` here returns.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path

import yaml

from autotune.hardware import regime, uncertainty_of
from autotune.reference._validate import ValidationRow, median
from autotune.values import Evaluation, Uncertainty

UNCERTAINTY_FILE = Path(str(resources.files("autotune.hardware").joinpath("uncertainty.yaml")))
LATENCY = ("p50_ms", "p95_ms", "mean_ms")


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
        "# autotune.hardware.uncertainty_of(); null where a regime has no figure of that kind.\n"
    )
    path.write_text(header + yaml.safe_dump(regime_table(rows), sort_keys=False))


def uncertainty(evaluation: Evaluation) -> Uncertainty:
    """The cross-validated relative error of ``evaluation``'s regime."""
    return evaluation.uncertainty or uncertainty_of(
        evaluation.regime_generation,
        evaluation.workload.batch_size,
        evaluation.result.concurrency,
        max(1, len(evaluation.settings.get("copies", ()))),
    )


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

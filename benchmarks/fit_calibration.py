"""Fit the emulator's unknown constants to the published table, once.

    python benchmarks/fit_calibration.py            # prints the fitted constants and errors
    python benchmarks/fit_calibration.py --write    # and rewrites calibration.yaml

Least squares on log(simulated / published) for throughput and p95 latency of every row. The
NeuronCore constants are fitted to the eight inf1 rows, the GPU constants to the two g4dn rows.
Each evaluation recompiles the plans (the partition depends on the constants) from graphs
captured once, then simulates every row with the clients the measurement used.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from pathlib import Path

import numpy as np
from autotune.emulator._calibration import Calibration
from autotune.validation import PUBLISHED_MODEL, PUBLISHED_SEQ_LEN, published_rows
from scipy.optimize import least_squares

from autotune.catalog import get_instance
from autotune.emulator import capture, compile_plan, deploy, load_calibration, simulate
from autotune.models import build_model, example_inputs, resolve_model

NEURON = [
    "sram_bytes_per_core",
    "te_max_efficiency",
    "te_fill_rows",
    "dram_efficiency",
    "stage_overhead_s",
    "host_overhead_s",
    "jitter_sigma",
]
NEURON_BOUNDS = [
    (2e6, 24e6),
    (0.1, 1.0),
    (1.0, 1024.0),
    (0.3, 1.0),
    (1e-6, 1e-3),
    (1e-5, 3e-3),
    (0.005, 0.3),
]
GPU = ["tensor_efficiency", "kernel_launch_s", "jitter_sigma"]
GPU_BOUNDS = [(0.02, 1.0), (1e-6, 1e-4), (0.005, 0.5)]
REQUESTS = 1000


def _programs() -> dict[int, object]:
    source = resolve_model(PUBLISHED_MODEL)
    module = build_model(source, meta=True)
    batches = sorted({row.batch_size for row in published_rows()})
    return {
        b: capture(module, example_inputs(source, b, PUBLISHED_SEQ_LEN, meta=True)) for b in batches
    }


def _with(cal: Calibration, part: str, names: list[str], x: np.ndarray) -> Calibration:
    values = dict(zip(names, (float(math.exp(v)) for v in x), strict=True))
    return dataclasses.replace(cal, **{part: dataclasses.replace(getattr(cal, part), **values)})


def _residuals(cal: Calibration, programs: dict[int, object], gpu: bool) -> list[float]:
    source = resolve_model(PUBLISHED_MODEL)
    out = []
    for row in published_rows():
        instance = get_instance(row.instance_type)
        if instance.is_gpu != gpu:
            continue
        plan = compile_plan(
            programs[row.batch_size],
            model=source.name,
            identity=source.identity,
            task=source.task,
            batch=row.batch_size,
            seq_len=PUBLISHED_SEQ_LEN,
            pipeline_cores=row.pipeline_cores,
            accelerator=instance.accelerator,
            calibration=cal,
            emulator_version="fit",
        )
        result = simulate(
            deploy(plan, instance, row.group_sizes), cal, concurrency=row.clients, requests=REQUESTS
        )
        out.append(math.log(result.throughput / row.throughput))
        out.append(math.log(result.latency_s.p95 / row.latency_p95_s))
    return out


def fit(
    part: str, names: list[str], bounds: list[tuple[float, float]], programs: dict[int, object]
) -> Calibration:
    cal = load_calibration()
    start = np.log([getattr(getattr(cal, part), n) for n in names])
    lo, hi = np.log([b[0] for b in bounds]), np.log([b[1] for b in bounds])
    gpu = part == "gpu"
    # Residuals raised to the power 2.5 (so the sum is of |error|^5) make the fit near-minimax:
    # it spreads the error over rows instead of letting one row carry most of it.
    result = least_squares(
        lambda x: [
            r * abs(r) ** 1.5 for r in _residuals(_with(cal, part, names, x), programs, gpu)
        ],
        np.clip(start, lo + 1e-9, hi - 1e-9),
        bounds=(lo, hi),
        diff_step=0.02,
        max_nfev=600,
    )
    fitted = _with(cal, part, names, result.x)
    errors = _residuals(fitted, programs, gpu)
    print(
        f"{part}: rms log error {math.sqrt(np.mean(np.square(errors))):.4f}, "
        f"worst {max(abs(e) for e in errors):.4f}",
        file=sys.stderr,
    )
    return fitted


def _write(cal: Calibration, path: Path) -> None:
    lines = path.read_text().splitlines()
    values = {
        **{f"neuron.{k}": v for k, v in dataclasses.asdict(cal.neuron).items()},
        **{f"gpu.{k}": v for k, v in dataclasses.asdict(cal.gpu).items()},
    }
    section, out = "", []
    for line in lines:
        if line and not line.startswith(" ") and line.endswith(":"):
            section = line[:-1]
        key = line.strip().split(":")[0]
        if line.startswith("  ") and f"{section}.{key}" in values:
            comment = line[line.index("#") :] if "#" in line else ""
            line = f"  {key}: {values[f'{section}.{key}']:.6g}".ljust(39) + comment
        out.append(line)
    path.write_text("\n".join(out) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite calibration.yaml")
    args = parser.parse_args()
    programs = _programs()
    cal = fit("neuron", NEURON, NEURON_BOUNDS, programs)
    cal = dataclasses.replace(cal, gpu=fit("gpu", GPU, GPU_BOUNDS, programs).gpu)
    print(dataclasses.asdict(cal))
    if args.write:
        _write(cal, Path(__file__).resolve().parents[1] / "autotune/emulator/calibration.yaml")


if __name__ == "__main__":
    main()

"""Fit the NeuronCore-v2 constants to the released inf2 and trn1 rows, once.

    PYTHONPATH=$PWD python benchmarks/fit_neuroncore_v2.py          # fitted constants, errors
    PYTHONPATH=$PWD python benchmarks/fit_neuroncore_v2.py --write  # and rewrite calibration.yaml

Least squares on the log distance from each emulated figure to the middle of its published span
(the NeuronCore-v2 rows of ``public_measurements.csv``, the ones ``autotune validate`` prints:
bert-base, sequence length 128, batch 1/8/16 on inf2.xlarge and trn1.2xlarge). Graphs come from
the compile cache (captured once); every evaluation recompiles the plan from them with the trial
constants and simulates each row with the clients the measurement used, through the same
function validation uses (``autotune.reference._predict``).

Not fitted, because these rows cannot fix them:
- ``te_fill_rows``: on one model, loading weight tiles costs the same per execution at every
  batch, just like ``exec_overhead_s``; the rows fit equally well from 0 to about 72 rows (where
  ``exec_overhead_s`` reaches zero; ``--ridge 0 36 72`` shows it). It is set to the middle, 36,
  which halves the spread of predictions for smaller and larger models (distilbert, bert-large
  at batch 1: about +-12% across the range).
- ``hbm_efficiency``: every released row is compute-bound.
- ``jitter_sigma``: no row publishes a tail latency.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from autotune.catalog import get_instance
from autotune.emulator import CompileCache
from autotune.hardware import generation_of, load_calibration
from autotune.hardware.neuroncore_v2 import NEURONCORE_V2, Constants
from autotune.reference import Measurement, measurements
from autotune.reference._fit import calibration_yaml
from autotune.reference._predict import simulate_experiment, value_of

NAME = NEURONCORE_V2.name
FITTED = {
    "te_efficiency": (0.1, 1.0),
    "exec_overhead_s": (1e-6, 1e-3),
    "host_cpu_s": (1e-6, 1e-3),
}
REQUESTS = 1000
CACHE = CompileCache.in_memory()


def v2_rows() -> list[Measurement]:
    """The public figures measured on a NeuronCore-v2 instance."""
    return [
        m
        for m in measurements()[0]
        if generation_of(get_instance(m.experiment.deployment.instance_type)).name == NAME
    ]


def emulate(m: Measurement, c: Constants, requests: int) -> float:
    """The row's figure on the emulator with constants ``c`` (no files written)."""
    calibration = {**load_calibration(), NAME: c}
    return value_of(simulate_experiment(m.experiment, calibration, CACHE, requests)[0], m.metric)


def log_miss(m: Measurement, value: float) -> float:
    """Signed log distance to the span's geometric middle: what this fit minimises."""
    return math.log(value / math.sqrt(m.lo * m.hi))


def _constants(base: Constants, x: np.ndarray) -> Constants:
    values = dict(zip(FITTED, (float(math.exp(v)) for v in x), strict=True))
    return dataclasses.replace(base, **values)


def fit(rows: list[Measurement], base: Constants) -> Constants:
    def residuals(x: np.ndarray) -> list[float]:
        c = _constants(base, x)
        return [log_miss(m, emulate(m, c, REQUESTS)) for m in rows]

    lo = np.log([b[0] for b in FITTED.values()])
    hi = np.log([b[1] for b in FITTED.values()])
    start = np.clip(np.log([getattr(base, n) for n in FITTED]), lo + 1e-6, hi - 1e-6)
    result = least_squares(residuals, start, bounds=(lo, hi), diff_step=0.02, max_nfev=300)
    return _constants(base, result.x)


def report(rows: list[Measurement], c: Constants) -> float:
    """Print each row's figure and error; return the worst error."""
    worst = 0.0
    for r in rows:
        value = emulate(r, c, 2000)
        worst = max(worst, r.error(value))
        print(
            f"{r.id:12} {r.metric:10} emulated {value:9.3f}  published [{r.lo:g}, {r.hi:g}]  "
            f"error {r.error(value):6.1%}",
            file=sys.stderr,
        )
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite calibration.yaml")
    parser.add_argument(
        "--ridge", type=float, nargs="+", metavar="ROWS", help="refit at each te_fill_rows"
    )
    args = parser.parse_args()
    rows = v2_rows()
    base: Constants = load_calibration()[NAME]
    for fill in args.ridge or [base.te_fill_rows]:
        fitted = fit(rows, dataclasses.replace(base, te_fill_rows=fill))
        print(dataclasses.asdict(fitted))
        for name, (low, high) in FITTED.items():
            value = getattr(fitted, name)
            if min(value / low, high / value) < 1.05:
                print(f"{name} is at a bound of the fit ({low:g}, {high:g})", file=sys.stderr)
        print(f"worst error {report(rows, fitted):.1%}", file=sys.stderr)
    if args.write and not args.ridge:
        path = Path(__file__).resolve().parents[1] / "autotune/hardware/calibration.yaml"
        path.write_text(calibration_yaml({**load_calibration(), NAME: fitted}, path.read_text()))


if __name__ == "__main__":
    main()

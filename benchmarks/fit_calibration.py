"""Fit the emulator's unknown constants to every public measurement, once.

    python benchmarks/fit_calibration.py            # prints the fitted constants and errors
    python benchmarks/fit_calibration.py --write    # and rewrites calibration.yaml
    python benchmarks/fit_calibration.py --cv --write-uncertainty   # leave-one-source-out

Fits on the AWS blog's rows and the released rows of public_measurements.csv that the catalog
can run (rows of instances it does not know yet are listed and skipped). See
``autotune.reference._fit`` for the objective. Graph summaries are captured once per shape and
kept in the compile cache, so a refit takes minutes, not hours.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from autotune.emulator import CompileCache
from autotune.reference import cross_validation, measurements, validation_table
from autotune.reference._fit import calibration_yaml, fit
from autotune.reference._uncertainty import summarize, write_uncertainty

ROOT = Path(__file__).resolve().parents[1]
CALIBRATION = ROOT / "autotune/hardware/calibration.yaml"


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite calibration.yaml")
    parser.add_argument("--cv", action="store_true", help="leave-one-source-out as well")
    parser.add_argument(
        "--write-uncertainty", action="store_true", help="write uncertainty.yaml from the CV"
    )
    parser.add_argument("--requests", type=int, default=300, help="simulated requests per row")
    parser.add_argument("--max-nfev", type=int, default=60, help="fit iterations per group")
    args = parser.parse_args()
    rows, notes = measurements()
    for note in notes:
        _say(f"skipped {note}")
    cache = CompileCache()
    started = time.perf_counter()
    cal = fit(rows, cache, requests=args.requests, max_nfev=args.max_nfev, progress=_say)
    _say(f"fit in {time.perf_counter() - started:.0f} s")
    for name, value in dataclasses.asdict(cal["neuroncore-v1"]).items():
        print(f"neuroncore-v1.{name} = {value:.6g}")
    for stack, constants in cal["gpu"].items():
        for name, value in dataclasses.asdict(constants).items():
            print(f"gpu.{stack}.{name} = {value:.6g}")
    table = validation_table(calibration=cal, cache=cache)
    for row in table:
        print(row.line())
    print(summarize(table))
    if args.write:
        CALIBRATION.write_text(calibration_yaml(cal, CALIBRATION.read_text()))
    if args.cv:
        started = time.perf_counter()
        folds = cross_validation(
            cache=cache, requests=args.requests, max_nfev=args.max_nfev, progress=_say
        )
        _say(f"cross-validation in {time.perf_counter() - started:.0f} s")
        for row in folds:
            print(row.line())
        print(summarize(folds))
        if args.write_uncertainty:
            write_uncertainty(folds)


if __name__ == "__main__":
    main()

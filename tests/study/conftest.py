"""Fixtures of the study tests (helpers live in ``helpers.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.study.helpers import CliRunner, Run, run_cli


@pytest.fixture
def autotune_cli(tmp_path: Path) -> CliRunner:
    """``autotune_cli(*args)``: ``autotune`` run in-process in this test's ``tmp_path``."""

    def invoke(*args: str) -> Run:
        return run_cli(tmp_path, *args)

    return invoke

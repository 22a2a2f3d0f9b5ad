"""The study database the dashboard tests read, made once by the real ``autotune study``."""

from __future__ import annotations

import pytest

from tests.study.helpers import SMALL, run_cli, sqlite_url


@pytest.fixture(scope="session")
def study_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Study ``ui`` (pareto, 8 trials) and ``ui-cost`` (min-cost, p95 <= 0.8 ms, 4 trials)."""
    tmp = tmp_path_factory.mktemp("ui-study")
    url = sqlite_url(tmp)
    study = ["study", *SMALL, "--storage", url, "--json", "--study-name"]
    pareto = run_cli(tmp, *study, "ui", "--objective", "pareto", "--trials", "8")
    assert pareto.code == 0, pareto.err
    # A constrained study, so that some points are infeasible (exit 1 if none is feasible).
    limits = ["--objective", "min-cost", "--trials", "4", "--max-p95-ms", "0.8"]
    cost = run_cli(tmp, *study, "ui-cost", *limits)
    assert cost.code in (0, 1), cost.err
    return url

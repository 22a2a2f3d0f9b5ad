"""How results read: one rounding, compact lists, plurals, the progress line on a terminal and
into a file."""

from __future__ import annotations

import io

import pytest

from autotune.cli._results import settings_line
from autotune.study import Goals
from autotune.study._progress import Progress, best_text
from autotune.study.read import compact, metric_text, num, plural
from tests.factories import record


@pytest.mark.parametrize(
    "value,shown",
    [
        (17.565, "17.6"),  # the stored p95: one rounding, wherever it is shown
        (17.5649, "17.6"),
        (4.5551, "4.56"),
        (7.4447, "7.44"),
        (1938.2797, "1938"),
        (0.0091, "0.00910"),
        (0.286, "0.286"),
        (0.0, "0"),
    ],
)
def test_one_display_rounding(value: float, shown: str) -> None:
    assert num(value) == shown


def test_units_and_plurals() -> None:
    goals = Goals("min-latency")
    assert metric_text("p95_ms", 4.5551, goals) == "p95 4.56 ms"
    assert metric_text("throughput", 1938.2797, goals) == "1938 seq/s"
    assert metric_text("cost", 0.286, goals) == "$0.286 per 1M"
    assert metric_text("cost", 1.18, Goals("min-cost", target_qps=10.0)) == "$1.18/h for the fleet"
    assert (plural(1, "client"), plural(2, "client"), plural(0, "trial")) == (
        "1 client",
        "2 clients",
        "0 trials",
    )


def test_long_group_lists_print_compactly() -> None:
    assert compact([1] * 52) == "52 x 1" and compact([2, 2, 2]) == "2,2,2"
    line = settings_line(record(7, instance_type="inf1.24xlarge", group_sizes=(1,) * 52))
    assert "NEURONCORE_GROUP_SIZES=52 x 1" in line and "1,1,1,1" not in line
    assert line.endswith("batch 1, 4 clients")
    assert settings_line(record(8, group_sizes=(1,), concurrency=1)).endswith("1 client")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class _Study:
    """What the progress callback reads of a study: its name and finished trials."""

    study_name = "s"

    def __init__(self, n: int) -> None:
        import optuna

        self.trials = [
            optuna.trial.create_trial(value=1.0, state=optuna.trial.TrialState.COMPLETE)
            for _ in range(n)
        ]

    def get_trials(self, deepcopy: bool = False, states: object = None) -> list[object]:
        return list(self.trials)


class _Store:
    def records(self, study_name: str) -> list[object]:
        return []


@pytest.mark.parametrize("terminal", [True, False])
def test_progress_rewrites_a_line_only_on_a_terminal(terminal: bool) -> None:
    out = _Terminal() if terminal else io.StringIO()
    progress = Progress(Goals("min-latency"), _Store(), 20, out)  # type: ignore[arg-type]
    for n in range(1, 21):
        progress(_Study(n), None)  # type: ignore[arg-type]
    text = out.getvalue()
    if terminal:
        assert text.count("\r") == 20 and text.endswith("trial 20/20, no feasible trial yet\n")
    else:
        # Into a file: a plain line every tenth of the study, never a carriage return.
        assert "\r" not in text and "\033" not in text
        assert text.splitlines() == [
            f"trial {n}/20, no feasible trial yet" for n in range(2, 21, 2)
        ]


def test_progress_best_has_its_unit() -> None:
    # Two deployments tie at p95 4.555 ms: the cheaper (4) is the best, as everywhere.
    records = [
        record(3, p95_ms=4.5551, per_1m_usd=0.5),
        record(4, p95_ms=4.5552, per_1m_usd=0.1, group_sizes=(1, 1)),
    ]
    assert best_text(Goals("min-latency"), records) == "best p95 4.56 ms (trial 4)"
    assert best_text(Goals("pareto"), records[:1]) == "Pareto set of 1 config"

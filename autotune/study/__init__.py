"""Optuna studies over inf1 deployments: search spaces, objectives, the runner, export."""

from autotune.study._database import load_goals, rdb_storage
from autotune.study._objectives import OBJECTIVES, PICKS, Goals, best, feasible, pareto_front
from autotune.study._runner import StudyOutcome, StudySettings, outcome, run_study
from autotune.study._search import SAMPLERS
from autotune.study._space import (
    Candidate,
    SearchSpace,
    candidates,
    load_space,
    parse_space,
    with_overrides,
)

__all__ = [
    "OBJECTIVES",
    "PICKS",
    "SAMPLERS",
    "Candidate",
    "Goals",
    "SearchSpace",
    "StudyOutcome",
    "StudySettings",
    "best",
    "candidates",
    "feasible",
    "load_goals",
    "load_space",
    "outcome",
    "pareto_front",
    "parse_space",
    "rdb_storage",
    "run_study",
    "with_overrides",
]

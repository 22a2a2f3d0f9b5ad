"""Optuna studies over deployments.

This package's top level is what every side shares: search spaces, goals, settings and the
pure objective functions. ``autotune.study.read`` is the read side (list, open, recommend,
export; no emulator), ``autotune.study.write`` the write side (candidates, samplers, the runner).
"""

from autotune.study._objectives import best, feasible, metric, pareto_front, unique, values
from autotune.study._settings import OBJECTIVES, PICKS, Goals, StudySettings
from autotune.study._space import SearchSpace, load_space, parse_space, with_overrides

__all__ = [
    "OBJECTIVES",
    "PICKS",
    "Goals",
    "SearchSpace",
    "StudySettings",
    "best",
    "feasible",
    "load_space",
    "metric",
    "pareto_front",
    "parse_space",
    "unique",
    "values",
    "with_overrides",
]

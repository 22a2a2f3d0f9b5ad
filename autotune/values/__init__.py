"""Frozen values that cross every layer: what runs, where, under which load, and what it measured.

Pure data with one codec each (``to_dict`` / ``from_dict``, plain JSON types); nothing here
imports the emulator, Optuna or a database.
"""

from autotune.values._curve import LoadPoint, knee
from autotune.values._experiment import (
    ARRIVALS,
    DEFAULT_MODEL,
    DEFAULT_TASK,
    MAX_BATCH,
    MAX_REQUESTS,
    Deployment,
    Experiment,
    Knob,
    Load,
    Workload,
)
from autotune.values._pareto import dominates, epsilon_dominates, epsilon_front, pareto_indices
from autotune.values._result import (
    Cost,
    Evaluation,
    Latency,
    Provenance,
    Result,
    StageResult,
    TrialRecord,
    Uncertainty,
)

__all__ = [
    "ARRIVALS",
    "DEFAULT_MODEL",
    "DEFAULT_TASK",
    "MAX_BATCH",
    "MAX_REQUESTS",
    "Cost",
    "Deployment",
    "Evaluation",
    "Experiment",
    "Knob",
    "Latency",
    "Load",
    "LoadPoint",
    "Provenance",
    "Result",
    "StageResult",
    "TrialRecord",
    "Uncertainty",
    "Workload",
    "dominates",
    "epsilon_dominates",
    "epsilon_front",
    "knee",
    "pareto_indices",
]

"""What a study is asked for: its objective and constraints (``Goals``) and its run settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from autotune.study._space import SearchSpace

Direction = Literal["minimize", "maximize"]
# Each objective: the metrics Optuna optimises, with their direction and unit.
OBJECTIVES: dict[str, tuple[tuple[str, Direction], ...]] = {
    "min-latency": (("p95_ms", "minimize"),),
    "max-throughput": (("throughput", "maximize"),),
    "min-cost": (("cost", "minimize"),),
    "pareto": (("p95_ms", "minimize"), ("cost", "minimize")),
}
PICKS = ("min-latency", "max-throughput", "min-cost")


@dataclass(frozen=True)
class Goals:
    """What a study optimises and which results it accepts."""

    objective: str
    max_p95_ms: float | None = None
    min_throughput: float | None = None
    target_qps: float | None = None

    @property
    def directions(self) -> list[Direction]:
        return [d for _, d in OBJECTIVES[self.objective]]

    @property
    def cost_name(self) -> str:
        return "fleet $/h" if self.target_qps else "$ per 1M"

    def metric_labels(self) -> list[str]:
        """Each objective's name with its unit, as Optuna and optuna-dashboard show it."""
        labels = {"p95_ms": "p95 latency (ms)", "throughput": "throughput (seq/s)"}
        labels["cost"] = f"cost ({self.cost_name})"
        return [labels[name] for name, _ in OBJECTIVES[self.objective]]


@dataclass(frozen=True)
class StudySettings:
    """Everything ``autotune study`` was asked for, validated."""

    space: SearchSpace
    goals: Goals
    study_name: str
    storage: str
    trials: int = 100
    timeout: float | None = None
    sampler: str = "tpe"
    seed: int | None = 0
    n_jobs: int = 1
    resume: bool = False
    progress: bool = True
    worker: bool = False  # joins a study: draws its own sampler seed, keeps the simulator's

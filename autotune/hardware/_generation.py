"""The seam between autotune and a hardware generation, and the registry of generations.

A generation (NeuronCore-v1, GPU, ...) says which knobs a deployment on its instances has and
which values each instance accepts, compiles a graph into a plan, places the plan on an
instance (memory check included), gives the service time of each stage, and says what the
deployment needs on the real machine. Everything else in autotune is the same for every
generation and never asks which one it is talking to. Each catalog accelerator names its
generation (``hardware.yaml``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from autotune.catalog import Accelerator, Instance
from autotune.errors import choice_error
from autotune.hardware._graph import GraphSummary
from autotune.hardware._knobs import Dimension
from autotune.hardware._plan import Stage
from autotune.hardware._service import Placement, ServiceModel
from autotune.values import Deployment, Knob


class Generation(Protocol):
    """What a hardware generation implements; one module each, chosen through the catalog."""

    name: str
    dimensions: tuple[Dimension, ...]  # what a study searches on its instances, in order

    # --- knobs and their valid values -----------------------------------------------------
    def choices(
        self, instance: Instance, dimension: str, chosen: Mapping[str, Knob], wanted: Any
    ) -> list[Knob]:
        """Values of ``dimension`` the instance accepts, given the ones ``chosen`` before it,
        among those a search space ``wanted`` ("all", "max" or a list)."""
        ...

    def deployment(self, instance: Instance, chosen: Mapping[str, Knob]) -> Deployment:
        """The deployment a study's choices (one value per dimension) stand for."""
        ...

    def chosen(self, deployment: Deployment) -> dict[str, Knob]:
        """The study's choices that ``deployment`` stands for (inverse of ``deployment``)."""
        ...

    def resolve(self, instance: Instance, deployment: Deployment) -> Deployment:
        """``deployment`` validated, with defaults filled in; ``InputError`` naming what the
        instance accepts otherwise."""
        ...

    def baselines(self, instance: Instance, weights: int) -> list[dict[str, Knob]]:
        """Choices worth trying first on ``instance`` for a model of ``weights`` parameters
        (a value for some of the dimensions; the study fills in the rest)."""
        ...

    # --- graph -> plan ----------------------------------------------------------------------
    def compile_knobs(self, deployment: Deployment) -> tuple[tuple[str, Knob], ...]:
        """The knobs that change the compiled artifact."""
        ...

    def precision(self, deployment: Deployment) -> str: ...

    def compile(
        self,
        graph: GraphSummary,
        accelerator: Accelerator,
        compile_knobs: Mapping[str, Knob],
        constants: Any,
    ) -> tuple[Stage, ...]:
        """Partition ``graph`` into stages and estimate each (memory traffic included)."""
        ...

    # --- placement, service time, export ----------------------------------------------------
    def place(self, plan: Any, instance: Instance, deployment: Deployment) -> Placement:
        """Load copies of ``plan``; ``DeploymentError`` if they cannot load."""
        ...

    def service(self, placement: Placement, constants: Any) -> ServiceModel: ...

    def settings(self, placement: Placement) -> dict[str, Any]:
        """What the deployment needs on the real machine (compiler arguments, environment)."""
        ...

    def parse_constants(self, raw: Mapping[str, Any]) -> Any:
        """This generation's fitted constants from its section of ``calibration.yaml``."""
        ...


def _registry() -> dict[str, Generation]:
    from autotune.hardware.gpu import GPU
    from autotune.hardware.neuroncore_v1 import NEURONCORE_V1

    return {g.name: g for g in (NEURONCORE_V1, GPU)}


GENERATIONS: dict[str, Generation] = _registry()


def generation_of(instance: Instance) -> Generation:
    """The generation of the instance's accelerator (``generation:`` in ``hardware.yaml``)."""
    name = instance.accelerator.generation
    if name not in GENERATIONS:
        raise choice_error(f"generation of {instance.name}", name, list(GENERATIONS))
    return GENERATIONS[name]

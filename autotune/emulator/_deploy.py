"""Load a compiled plan on an instance and time it under closed-loop load."""

from __future__ import annotations

from autotune.catalog import Instance
from autotune.emulator._simulator import SimResult, simulate
from autotune.errors import DeploymentError
from autotune.hardware import Calibration, Placement, Plan, generation_of, load_calibration
from autotune.values import Deployment


def place(plan: Plan, instance: Instance, deployment: Deployment) -> Placement:
    """Copies of ``plan`` on ``instance`` as ``deployment`` says; ``DeploymentError`` if they
    cannot load (wrong accelerator, groups, device memory)."""
    if plan.accelerator != instance.accelerator.name:
        raise DeploymentError(
            f"plan compiled for {plan.accelerator} cannot run on {instance.name} "
            f"({instance.accelerator.name})"
        )
    return generation_of(instance).place(plan, instance, deployment)


def default_concurrency(placement: Placement) -> int:
    """One client per stage of every copy: enough requests to keep each stage busy."""
    return sum(len(copy) for copy in placement.copies)


def run_load(
    placement: Placement,
    *,
    concurrency: int,
    requests: int = 2000,
    seed: int = 0,
    calibration: Calibration | None = None,
) -> SimResult:
    """Closed-loop simulation of ``placement`` with its generation's service model."""
    generation = generation_of(placement.instance)
    constants = (calibration or load_calibration())[generation.name]
    model = generation.service(placement, constants)
    return simulate(
        model, placement.plan.batch_size, concurrency=concurrency, requests=requests, seed=seed
    )

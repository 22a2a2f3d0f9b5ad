"""Load a compiled plan on an instance and time it under closed-loop or open-loop load."""

from __future__ import annotations

from autotune.catalog import Instance
from autotune.emulator._open_loop import saturation, simulate_open
from autotune.emulator._simulator import SimResult, simulate
from autotune.errors import DeploymentError
from autotune.hardware import (
    Calibration,
    Placement,
    Plan,
    ServiceModel,
    generation_of,
    load_calibration,
)
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
    model = service_model(placement, calibration)
    return simulate(
        model, placement.plan.batch_size, concurrency=concurrency, requests=requests, seed=seed
    )


def service_model(placement: Placement, calibration: Calibration | None = None) -> ServiceModel:
    """What the simulator runs for ``placement``: its generation's service model."""
    generation = generation_of(placement.instance)
    constants = (calibration or load_calibration())[generation.name]
    return generation.service(placement, constants)


def run_open(
    placement: Placement,
    *,
    qps: float,
    max_batch_delay_ms: float = 0.0,
    sequences_per_request: int = 1,
    requests: int = 2000,
    seed: int = 0,
    calibration: Calibration | None = None,
) -> SimResult:
    """Open-loop simulation of ``placement``: Poisson arrivals at ``qps`` requests per second,
    batched by the server up to the compiled batch within ``max_batch_delay_ms``."""
    return simulate_open(
        service_model(placement, calibration),
        placement.plan.batch_size,
        qps=qps,
        max_batch_delay_s=max_batch_delay_ms / 1e3,
        sequences_per_request=sequences_per_request,
        requests=requests,
        seed=seed,
    )


def open_saturation(
    placement: Placement,
    *,
    max_batch_delay_ms: float = 0.0,
    sequences_per_request: int = 1,
    seed: int = 0,
    calibration: Calibration | None = None,
) -> float:
    """Sequences per second ``placement`` delivers under open-loop overload (full batches)."""
    return saturation(
        service_model(placement, calibration),
        placement.plan.batch_size,
        max_batch_delay_s=max_batch_delay_ms / 1e3,
        sequences_per_request=sequences_per_request,
        seed=seed,
    )

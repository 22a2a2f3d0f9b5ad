"""Deployment knobs on the command line: each generation's flags, gathered into a Deployment.

Only the flags a user gives become knobs; the instance's generation then says whether it takes
them (``--pipeline-cores`` on a GPU is a one-line error naming what the GPU accepts).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from autotune.errors import InputError
from autotune.values import Deployment, Load

PipelineCores = Annotated[
    int | None,
    typer.Option(help="--neuroncore-pipeline-cores of the compiled model, inf1 (default: 1)"),
]
GroupSizes = Annotated[
    str | None,
    typer.Option(
        help="NEURONCORE_GROUP_SIZES as a comma list, e.g. 1,1,1,1, inf1 (default: as many "
        "groups of the pipeline size as fit)"
    ),
]
Copies = Annotated[
    int | None,
    typer.Option(help="Model copies, one per NeuronCore, inf2/trn1 (default: one per core)"),
]
WorkersPerCopy = Annotated[
    int | None,
    typer.Option(help="Worker threads feeding each copy, inf2/trn1 (default: 2)"),
]
AutoCast = Annotated[
    str | None,
    typer.Option(
        help="--auto-cast of torch-neuronx: none, matmult or all, inf2/trn1 (default: matmult)"
    ),
]
AutoCastType = Annotated[
    str | None,
    typer.Option(help="--auto-cast-type: bf16, fp16, tf32 or fp8_e4m3, inf2/trn1 (default: bf16)"),
]
Stack = Annotated[
    str | None,
    typer.Option(
        help="GPU serving stack: torchscript-amp, torchscript-fp16, eager-fp32, tensorrt-fp16 "
        "or tensorrt-int8 (default: torchscript-amp, the AWS blog's)"
    ),
]
Concurrency = Annotated[
    int | None,
    typer.Option(help="Closed-loop clients (default: one per stage of every model copy)"),
]
Traffic = Annotated[
    str | None,
    typer.Option(
        help="open-loop (requests arrive at --qps whatever the server does) or closed-loop "
        "(--concurrency clients, the AWS blog's method) (default: open-loop with --qps)"
    ),
]
Qps = Annotated[
    float | None,
    typer.Option(help="Open-loop traffic: Poisson arrivals, requests per second"),
]
MaxBatchDelayMs = Annotated[
    float | None,
    typer.Option(
        help="Open loop: how long a copy holds a partial batch open for more requests, ms "
        "(TorchServe's max_batch_delay) (default: 0)"
    ),
]
SequencesPerRequest = Annotated[
    int | None, typer.Option(help="Open loop: sequences in each request (default: 1)")
]
TRAFFIC_KINDS = ("open-loop", "closed-loop")


def load_of(
    traffic: str | None,
    *,
    qps: float | None,
    concurrency: int | None,
    max_batch_delay_ms: float | None,
    sequences_per_request: int | None,
    requests: int,
    seed: int,
    max_utilization: float | None = None,
) -> Load:
    """The load the traffic flags describe; a one-line ``InputError`` if they contradict."""
    kind = traffic or ("open-loop" if qps is not None else "closed-loop")
    if kind not in TRAFFIC_KINDS:
        raise InputError(f"unknown traffic {kind!r}; accepted: {', '.join(TRAFFIC_KINDS)}")
    open_only = {
        "--qps": qps,
        "--max-batch-delay-ms": max_batch_delay_ms,
        "--sequences-per-request": sequences_per_request,
        "--max-utilization": max_utilization,
    }
    if kind == "closed-loop":
        given = [flag for flag, value in open_only.items() if value is not None]
        if given:
            raise InputError(f"{given[0]} applies to open-loop traffic; drop --traffic closed-loop")
        return Load(concurrency=concurrency, requests=requests, seed=seed)
    if qps is None:
        raise InputError("--traffic open-loop needs --qps (requests per second)")
    if concurrency is not None:
        raise InputError("--concurrency applies to closed-loop traffic; open loop takes --qps")
    return Load(
        requests=requests,
        seed=seed,
        qps=qps,
        sequences_per_request=sequences_per_request or 1,
        max_batch_delay_ms=max_batch_delay_ms or 0.0,
        max_utilization=max_utilization,
    )


def counts(text: str | None, what: str) -> tuple[int, ...] | None:
    """``"4,4"`` -> (4, 4); a one-line ``InputError`` naming the bad list otherwise."""
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or not all(p.isascii() and p.isdigit() and int(p) >= 1 for p in parts):
        raise InputError(
            f"{what} {text!r} are not a comma list of positive integers (e.g. 1,1,1,1 or 16)"
        )
    return tuple(int(p) for p in parts)


def deployment_of(instance: str, **given: Any) -> Deployment:
    """The deployment the flags describe (flags not given are left to the generation)."""
    if "group_sizes" in given and isinstance(given["group_sizes"], str):
        given["group_sizes"] = counts(given["group_sizes"], "group sizes")
    return Deployment.of(instance, **given)

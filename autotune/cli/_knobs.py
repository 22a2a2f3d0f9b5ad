"""Deployment knobs on the command line: each generation's flags, gathered into a Deployment.

Only the flags a user gives become knobs; the instance's generation then says whether it takes
them (``--pipeline-cores`` on a GPU is a one-line error naming what the GPU accepts).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from autotune.errors import InputError
from autotune.values import Deployment

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

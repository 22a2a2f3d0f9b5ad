"""The Typer application and the options commands share."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

# Typer vendors its own click; its usage errors share this base class.
UsageError: type[Exception] = typer.BadParameter.__mro__[1]

app = typer.Typer(
    help="Find the AWS Inferentia deployment of a transformer model, on an emulated inf1.",
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
)

Model = Annotated[str, typer.Option(help="Built-in preset or local Hugging Face checkpoint dir.")]
Task = Annotated[str, typer.Option(help="question-answering or sequence-classification.")]
SeqLen = Annotated[int, typer.Option(help="Compiled sequence length.")]
Batch = Annotated[int, typer.Option(help="Compiled batch size.")]
Instance = Annotated[str, typer.Option(help="Instance type (see `autotune catalog`).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def emit(obj: dict[str, Any]) -> None:
    """Print one JSON object on one line."""
    typer.echo(json.dumps(obj, indent=None))


def emit_list(items: list[dict[str, Any]]) -> None:
    """Print one JSON list on one line."""
    typer.echo(json.dumps(items, indent=None))

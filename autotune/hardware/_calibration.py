"""The fitted constants of every generation (``calibration.yaml``) and the emulator version."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Mapping
from importlib import resources
from typing import Any, TypeVar

# Bumped whenever the timing model's code changes: with the calibration's digest it names the
# emulator, and it is part of every plan's hash.
CODE_VERSION = "0.4.2"

C = TypeVar("C")


def calibration_text() -> str:
    return resources.files("autotune.hardware").joinpath("calibration.yaml").read_text()


def parse_constants(cls: type[C], raw: Mapping[str, Any]) -> C:
    """A generation's constants dataclass from its section of ``calibration.yaml``."""
    return cls(**{f.name: float(raw[f.name]) for f in dataclasses.fields(cls)})  # type: ignore[arg-type]


@functools.cache
def emulator_version() -> str:
    """Code version plus a digest of the calibration: a refit changes every plan's hash."""
    digest = hashlib.sha256(calibration_text().encode()).hexdigest()[:10]
    return f"{CODE_VERSION}+{digest}"

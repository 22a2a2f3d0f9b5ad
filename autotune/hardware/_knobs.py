"""Helpers the generations share for their knobs: search dimensions and knob errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from autotune.catalog import Instance
from autotune.errors import InputError


@dataclass(frozen=True)
class Dimension:
    """A knob a study searches beside the batch size: its name, its tag in a candidate's key,
    and whether its values are spread geometrically (1, 2, 4, ... cores)."""

    name: str
    tag: str
    log: bool = False


def refuse_unknown(
    instance: Instance, given: Mapping[str, Any], accepted: Mapping[str, str]
) -> None:
    """``InputError`` for knobs the instance does not take, naming the ones it does."""
    unknown = sorted(set(given) - set(accepted))
    if not unknown:
        return
    takes = "; ".join(f"--{k.replace('_', '-')} {v}" for k, v in accepted.items())
    raise InputError(
        f"{', '.join('--' + k.replace('_', '-') for k in unknown)} do not apply to "
        f"{instance.name} ({instance.accelerator.generation}); "
        f"it accepts {takes or 'no deployment knobs'}"
    )


def wanted_counts(wanted: Any, fit: int, *, allow_max: bool = False) -> list[int]:
    """Counts from 1 to ``fit`` a search space asks for: "all", "max" or a list of counts."""
    if wanted == "all":
        return list(range(1, fit + 1))
    if allow_max and wanted == "max":
        return [fit]
    counts: Sequence[int] = wanted
    return [c for c in counts if c <= fit]

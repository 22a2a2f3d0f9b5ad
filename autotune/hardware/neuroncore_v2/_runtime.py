"""torch-neuronx and the Neuron runtime 2.x, emulated: knobs, auto-cast, cores and environment.

``torch_neuronx.trace`` compiles for one NeuronCore with ``--auto-cast {none,matmult,all}`` and
``--auto-cast-type {bf16,fp16,tf32,fp8_e4m3}``. Copies are processes pinned to a core
(``NEURON_RT_VISIBLE_CORES``; processes never share a core) or one process with
``torch_neuronx.DataParallel``, which loads a copy per visible core and runs worker threads per
core (2 by default).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from autotune.catalog import Instance
from autotune.errors import InputError
from autotune.hardware._knobs import refuse_unknown
from autotune.hardware.neuroncore_v2._core import Precision
from autotune.values import Knob

AUTO_CAST = ("none", "matmult", "all")
AUTO_CAST_TYPES = ("bf16", "fp16", "tf32", "fp8_e4m3")
MAX_WORKERS = 4
# What the published rows use: an FP32 model traced with --auto-cast matmult (BF16); the Neuron
# default became "none" in 2.27, but a study should start where the measurements are.
DEFAULT_AUTO_CAST = "matmult"
DEFAULT_AUTO_CAST_TYPE = "bf16"
DEFAULT_WORKERS = 2  # torch_neuronx.DataParallel's worker threads per core


def accepted(instance: Instance) -> dict[str, str]:
    """The knobs a NeuronCore-v2 instance takes, and their values, for error messages."""
    return {
        "copies": f"1 to {instance.cores} (one per NeuronCore)",
        "workers_per_copy": f"1 to {MAX_WORKERS}",
        "auto_cast": "/".join(AUTO_CAST),
        "auto_cast_type": "/".join(AUTO_CAST_TYPES),
    }


_TYPE_BYTES = {"bf16": 2, "fp16": 2, "tf32": 4, "fp8_e4m3": 1}


def _count(name: str, value: Any, high: int, instance: Instance) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise InputError(
            f"--{name.replace('_', '-')} {value!r} is out of range for {instance.name}; "
            f"accepted: 1 to {high}"
        )
    return value


def _name(name: str, value: Any, accepted: tuple[str, ...]) -> str:
    if value not in accepted:
        raise InputError(
            f"--{name.replace('_', '-')} {value!r} is not accepted; accepted: {', '.join(accepted)}"
        )
    return str(value)


def resolve_knobs(instance: Instance, knobs: Mapping[str, Knob]) -> dict[str, Knob]:
    """The knobs validated, defaults filled in; ``InputError`` naming what is accepted."""
    refuse_unknown(instance, knobs, accepted(instance))
    copies = _count("copies", knobs.get("copies", instance.cores), instance.cores, instance)
    workers = _count(
        "workers_per_copy", knobs.get("workers_per_copy", DEFAULT_WORKERS), MAX_WORKERS, instance
    )
    cast = _name("auto_cast", knobs.get("auto_cast", DEFAULT_AUTO_CAST), AUTO_CAST)
    out: dict[str, Knob] = {"copies": copies, "workers_per_copy": workers, "auto_cast": cast}
    if cast == "none":
        if "auto_cast_type" in knobs:
            raise InputError(
                "--auto-cast-type applies only with --auto-cast matmult or all; "
                "--auto-cast none keeps the model in FP32"
            )
        return out
    kind = knobs.get("auto_cast_type", DEFAULT_AUTO_CAST_TYPE)
    out["auto_cast_type"] = _name("auto_cast_type", kind, AUTO_CAST_TYPES)
    return out


def precision_of(auto_cast: str, auto_cast_type: str | None) -> Precision:
    """``fp32`` with no auto-cast; else the type, ``+all`` when non-matmul ops are cast too.

    Under ``matmult`` the compiler stores the weights and feeds the matmuls in the cast type;
    the other operators and the values between them stay FP32 (4 bytes).
    """
    if auto_cast == "none" or auto_cast_type is None:
        return Precision("fp32", fp32_matmuls=True, weight_bytes=4, activation_bytes=4)
    size = _TYPE_BYTES[auto_cast_type]
    if auto_cast == "all":
        return Precision(f"{auto_cast_type}+all", False, size, size)
    return Precision(auto_cast_type, fp32_matmuls=False, weight_bytes=size, activation_bytes=4)


def compiler_args(auto_cast: str, auto_cast_type: str | None) -> list[str]:
    args = ["--auto-cast", auto_cast]
    return [*args, "--auto-cast-type", auto_cast_type] if auto_cast_type else args


def environment(copies: int) -> tuple[str, dict[str, str], list[dict[str, str]]]:
    """Mode, the environment of one DataParallel process, and that of each pinned process.

    Both spellings run the same copies: DataParallel over cores 0 to copies - 1, or one process
    per copy with its own core.
    """
    visible = "0" if copies == 1 else f"0-{copies - 1}"
    shared = {"NEURON_RT_VISIBLE_CORES": visible, "NEURON_RT_NUM_CORES": str(copies)}
    per_copy = [
        {"NEURON_RT_VISIBLE_CORES": str(core), "NEURON_RT_NUM_CORES": "1"} for core in range(copies)
    ]
    return ("single-copy" if copies == 1 else "data-parallel"), shared, per_copy

"""A ``torch.neuron``-shaped API over the emulator: the seed's one-line change.

    model_neuron = autotune.neuron.trace(model, example_inputs,
                                         compiler_args=["--neuroncore-pipeline-cores", "4"])
    outputs = model_neuron(*example_inputs)     # runs the compiled stages on CPU
    model_neuron.plan                            # the compiled plan

The emulated runtime reads the same environment as the Neuron runtime when the model loads:
``NEURONCORE_GROUP_SIZES`` or ``NEURON_RT_VISIBLE_CORES`` / ``NEURON_RT_NUM_CORES``, on the
instance named by ``AUTOTUNE_INSTANCE_TYPE`` (default inf1.xlarge), and refuses to load a model
into a group smaller than its pipeline.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from autotune.catalog import get_instance
from autotune.emulator import (
    SimResult,
    capture,
    compile_graph,
    execute,
    place,
    run_load,
    summarize,
)
from autotune.errors import InputError
from autotune.hardware import Placement, Plan, emulator_version, load_calibration
from autotune.hardware.neuroncore_v1 import groups_from_env
from autotune.values import Deployment, Workload

DEFAULT_INSTANCE = "inf1.xlarge"
_PIPELINE_FLAG = "--neuroncore-pipeline-cores"


def _pipeline_cores(compiler_args: Sequence[str]) -> int:
    args = list(compiler_args)
    cores = 1
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith(_PIPELINE_FLAG + "="):
            value = arg.split("=", 1)[1]
        elif arg == _PIPELINE_FLAG and i + 1 < len(args):
            i += 1
            value = args[i]
        else:
            raise InputError(
                f"compiler argument {arg!r} is not supported; accepted: {_PIPELINE_FLAG} N"
            )
        if not (value.isascii() and value.isdigit()) or int(value) < 1:
            raise InputError(f"{_PIPELINE_FLAG} {value!r} is not a positive integer")
        cores = int(value)
        i += 1
    return cores


def _identity(model: torch.nn.Module) -> str:
    h = hashlib.sha256(type(model).__qualname__.encode())
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().contiguous().cpu().numpy().tobytes())
    return h.hexdigest()


class TracedModel:
    """A compiled model: call it like the original, inspect ``plan``, load it on the runtime."""

    def __init__(self, program: Any, plan: Plan, arg_names: Sequence[str]):
        self._program = program
        self._module = program.module()
        self._arg_names = list(arg_names)
        self.plan = plan

    def __call__(self, *args: torch.Tensor, **kwargs: torch.Tensor) -> Any:
        inputs = dict(zip(self._arg_names, args, strict=False)) | kwargs
        flat = execute(self._program, self.plan, inputs)
        out_spec = self._module._out_spec
        return torch.utils._pytree.tree_unflatten(list(flat), out_spec)

    def load(
        self, env: Mapping[str, str] | None = None, instance_type: str | None = None
    ) -> Placement:
        """Place the model on NeuronCore groups the way the runtime reads ``env``."""
        env = os.environ if env is None else env
        instance = get_instance(
            instance_type or env.get("AUTOTUNE_INSTANCE_TYPE", DEFAULT_INSTANCE)
        )
        cores = self.plan.knob("pipeline_cores")
        groups = groups_from_env(env, instance, cores)
        sizes, first = groups if groups is not None else (None, 0)
        deployment = Deployment.of(
            instance.name, pipeline_cores=cores, group_sizes=sizes, first_core=first or None
        )
        return place(self.plan, instance, deployment)

    def benchmark(
        self,
        concurrency: int,
        requests: int = 2000,
        seed: int = 0,
        env: Mapping[str, str] | None = None,
        instance_type: str | None = None,
    ) -> SimResult:
        """Closed-loop load test of the loaded model on the emulated instance."""
        placement = self.load(env, instance_type)
        return run_load(placement, concurrency=concurrency, requests=requests, seed=seed)


def trace(
    model: torch.nn.Module, example_inputs: Any, compiler_args: Sequence[str] = ()
) -> TracedModel:
    """Compile ``model`` at the static shapes of ``example_inputs`` (a tensor, tuple or dict)."""
    cores = _pipeline_cores(compiler_args)
    if isinstance(example_inputs, torch.Tensor):
        example_inputs = (example_inputs,)
    import inspect

    names = list(inspect.signature(model.forward).parameters)
    inputs = (
        dict(example_inputs)
        if isinstance(example_inputs, Mapping)
        else dict(zip(names, example_inputs, strict=False))
    )
    model = model.eval()
    program = capture(model, inputs)
    first = next(iter(inputs.values()))
    batch = int(first.shape[0]) if first.dim() > 0 else 1
    seq = int(first.shape[1]) if first.dim() > 1 else 1
    plan = compile_graph(
        summarize(program),
        model=type(model).__name__,
        identity=_identity(model),
        workload=Workload(type(model).__name__, "traced", seq, batch),
        instance=get_instance(DEFAULT_INSTANCE),
        deployment=Deployment.of(DEFAULT_INSTANCE, pipeline_cores=cores),
        calibration=load_calibration(),
        version=emulator_version(),
    )
    return TracedModel(program, plan, list(inputs))

"""NeuronCore-v2 (inf2, trn1): a model traced for one core, copies on cores, worker threads.

Knobs: ``copies`` (one per core: processes pinned with ``NEURON_RT_VISIBLE_CORES`` or
``torch_neuronx.DataParallel``), ``workers_per_copy`` (threads feeding each copy), ``auto_cast``
and ``auto_cast_type`` (the compiler's ``--auto-cast`` / ``--auto-cast-type``, the compiled
artifact). No pipeline: ``--pipeline-cores`` and ``--group-sizes`` are refused. Every request
has the traced batch (dynamic batching splits larger ones into such requests).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from autotune.catalog import Accelerator, Instance
from autotune.errors import DeploymentError
from autotune.hardware._calibration import parse_constants
from autotune.hardware._graph import GraphSummary
from autotune.hardware._knobs import Dimension, wanted_counts
from autotune.hardware._plan import Plan, Stage
from autotune.hardware._service import Placement, Server, ServiceModel, check_device_memory
from autotune.hardware.neuroncore_v2._core import Constants, compile_core
from autotune.hardware.neuroncore_v2._runtime import (
    AUTO_CAST,
    AUTO_CAST_TYPES,
    DEFAULT_AUTO_CAST,
    DEFAULT_AUTO_CAST_TYPE,
    DEFAULT_WORKERS,
    MAX_WORKERS,
    compiler_args,
    environment,
    precision_of,
    resolve_knobs,
)
from autotune.values import Deployment, Knob

# Host threads each copy keeps busy besides its workers: the runtime's submission and
# completion thread for its core ([unk] assumption, one per core).
RUNTIME_THREADS_PER_COPY = 1


def _names(wanted: Any, accepted: tuple[str, ...]) -> list[Knob]:
    return list(accepted) if wanted == "all" else [w for w in wanted if w in accepted]


def _int(value: Knob | None, default: int) -> int:
    return value if isinstance(value, int) else default


def _cast(knobs: Mapping[str, Any]) -> tuple[str, str | None]:
    cast = str(knobs.get("auto_cast", DEFAULT_AUTO_CAST))
    kind = None if cast == "none" else str(knobs.get("auto_cast_type", DEFAULT_AUTO_CAST_TYPE))
    return cast, kind


class NeuronCoreV2:
    name = "neuroncore-v2"
    dimensions: tuple[Dimension, ...] = (
        Dimension("copies", "x"),
        Dimension("workers_per_copy", "w"),
        Dimension("auto_cast", "a"),
        Dimension("auto_cast_type", "t"),
    )

    def choices(
        self, instance: Instance, dimension: str, chosen: Mapping[str, Knob], wanted: Any
    ) -> list[Knob]:
        if dimension == "copies":
            return list(wanted_counts(wanted, instance.cores, allow_max=True))
        if dimension == "workers_per_copy":
            return list(wanted_counts(wanted, MAX_WORKERS))
        if dimension == "auto_cast":
            return _names(wanted, AUTO_CAST)
        # Without auto-cast the type means nothing: one value, dropped from the deployment.
        if chosen.get("auto_cast") == "none":
            return [DEFAULT_AUTO_CAST_TYPE]
        return _names(wanted, AUTO_CAST_TYPES)

    def deployment(self, instance: Instance, chosen: Mapping[str, Knob]) -> Deployment:
        cast, kind = _cast(chosen)
        return Deployment.of(
            instance.name,
            copies=_int(chosen.get("copies"), instance.cores),
            workers_per_copy=_int(chosen.get("workers_per_copy"), DEFAULT_WORKERS),
            auto_cast=cast,
            auto_cast_type=kind,
        )

    def chosen(self, deployment: Deployment) -> dict[str, Knob]:
        cast, kind = _cast(dict(deployment.knobs))
        return {
            "copies": deployment.knob("copies"),
            "workers_per_copy": deployment.knob("workers_per_copy", DEFAULT_WORKERS),
            "auto_cast": cast,
            "auto_cast_type": kind or DEFAULT_AUTO_CAST_TYPE,
        }

    def resolve(self, instance: Instance, deployment: Deployment) -> Deployment:
        return Deployment.of(instance.name, **resolve_knobs(instance, dict(deployment.knobs)))

    def baselines(self, instance: Instance, weights: int) -> list[dict[str, Knob]]:
        # What the published measurements ran: a copy on every core, BF16 matmuls.
        return [{"copies": instance.cores, "auto_cast": DEFAULT_AUTO_CAST}]

    def compile_knobs(self, deployment: Deployment) -> tuple[tuple[str, Knob], ...]:
        cast, kind = _cast(dict(deployment.knobs))
        return (("auto_cast", cast), ("auto_cast_type", kind or ""))

    def precision(self, deployment: Deployment) -> str:
        return precision_of(*_cast(dict(deployment.knobs))).name

    def compile(
        self,
        graph: GraphSummary,
        accelerator: Accelerator,
        compile_knobs: Mapping[str, Knob],
        constants: Constants,
    ) -> tuple[Stage, ...]:
        return (compile_core(graph, accelerator, precision_of(*_cast(compile_knobs)), constants),)

    def place(self, plan: Plan, instance: Instance, deployment: Deployment) -> Placement:
        copies = int(deployment.knob("copies", instance.cores))
        if not 1 <= copies <= instance.cores:
            raise DeploymentError(
                f"{copies} copies do not fit the {instance.cores} NeuronCores of {instance.name} "
                f"(one copy per core); accepted: 1 to {instance.cores}"
            )
        mode = environment(copies)[0]
        placement = Placement(instance, plan, deployment, tuple((c,) for c in range(copies)), mode)
        check_device_memory(placement)
        return placement

    def service(self, placement: Placement, constants: Constants) -> ServiceModel:
        instance, plan, stage = placement.instance, placement.plan, placement.plan.stages[0]
        acc = instance.accelerator
        copies = len(placement.copies)
        workers = int(placement.deployment.knob("workers_per_copy", DEFAULT_WORKERS))
        return ServiceModel(
            copies=tuple(
                (
                    Server(
                        core, placement.chip_of(core), ((stage.compute_s, stage.dram_bytes),), 0.0
                    ),
                )
                for (core,) in placement.copies
            ),
            stage_names=("the NeuronCore",),
            cores=instance.cores,
            host_slots=max(1, instance.vcpus),
            host_s=constants.host_cpu_s,
            transfer_s=(plan.input_bytes + plan.output_bytes) / acc.host_link_bandwidth,
            stage_overhead_s=constants.exec_overhead_s,
            domain_bandwidth=acc.dram_bandwidth_per_chip * constants.hbm_efficiency,
            # No published per-core DMA limit: one core may use its chip's whole bandwidth.
            core_bandwidth=acc.dram_bandwidth_per_chip * constants.hbm_efficiency,
            jitter_sigma=constants.jitter_sigma,
            workers=copies * workers,
            # Busy workers and the runtime's threads time-share the host's physical cores (the
            # data that sets inf2 and trn1 apart: trn1.2xlarge has twice the cores).
            host_cores=instance.host_cores,
            runtime_threads=copies * RUNTIME_THREADS_PER_COPY,
        )

    def settings(self, placement: Placement) -> dict[str, Any]:
        d = placement.deployment
        cast, kind = _cast(dict(d.knobs))
        mode, shared, per_copy = environment(len(placement.copies))
        return {
            "generation": self.name,
            "mode": mode,
            "compiler_args": compiler_args(cast, kind),
            # One process with torch_neuronx.DataParallel over these cores ...
            "environment": shared,
            # ... or one process per copy, each pinned to its core.
            "copies": per_copy,
            "workers_per_copy": int(d.knob("workers_per_copy", DEFAULT_WORKERS)),
        }

    def parse_constants(self, raw: Mapping[str, Any]) -> Constants:
        return parse_constants(Constants, raw)


NEURONCORE_V2 = NeuronCoreV2()

__all__ = ["NEURONCORE_V2", "Constants", "NeuronCoreV2"]

"""NeuronCore-v1 (inf1): pipelined models across cores, model copies in NeuronCore groups.

Knobs: ``pipeline_cores`` (``--neuroncore-pipeline-cores``, the compiled artifact) and
``group_sizes`` (``NEURONCORE_GROUP_SIZES``: one copy per group), plus ``first_core`` when a
process sees only part of the instance (``NEURON_RT_VISIBLE_CORES``). A study searches pipeline
cores (log-spaced) and the number of equal groups ("copies").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from autotune.catalog import Accelerator, Instance
from autotune.errors import DeploymentError
from autotune.hardware._calibration import parse_constants
from autotune.hardware._graph import GraphSummary
from autotune.hardware._knobs import Dimension, refuse_unknown, wanted_counts
from autotune.hardware._plan import Plan, Stage
from autotune.hardware._service import Placement, Server, ServiceModel, check_device_memory
from autotune.hardware.neuroncore_v1._compiler import Constants, compile_stages
from autotune.hardware.neuroncore_v1._runtime import (
    check_pipeline_cores,
    copy_cores,
    groups_from_env,
    parse_group_sizes,
    visible_cores,
)
from autotune.values import Deployment, Knob

_ACCEPTED = {
    "pipeline_cores": "1 to the instance's NeuronCores",
    "group_sizes": "a comma list of group sizes (NEURONCORE_GROUP_SIZES)",
    "first_core": "the first visible NeuronCore (NEURON_RT_VISIBLE_CORES)",
}


def default_group_sizes(instance: Instance, pipeline_cores: int) -> tuple[int, ...]:
    """As many groups of the pipeline size as the instance's cores hold."""
    return (pipeline_cores,) * max(1, instance.cores // pipeline_cores)


def _count(knob: Knob) -> int:
    """A count knob (pipeline cores, copies); other knob values never reach here."""
    assert isinstance(knob, int), knob
    return knob


class NeuronCoreV1:
    name = "neuroncore-v1"
    dimensions: tuple[Dimension, ...] = (
        Dimension("pipeline_cores", "p", log=True),
        Dimension("copies", "x"),
    )

    def choices(
        self, instance: Instance, dimension: str, chosen: Mapping[str, Knob], wanted: Any
    ) -> list[Knob]:
        if dimension == "pipeline_cores":
            return list(wanted_counts(wanted, instance.cores))
        fit = instance.cores // _count(chosen["pipeline_cores"])
        return list(wanted_counts(wanted, fit, allow_max=True))

    def deployment(self, instance: Instance, chosen: Mapping[str, Knob]) -> Deployment:
        p, copies = _count(chosen["pipeline_cores"]), _count(chosen["copies"])
        return Deployment.of(instance.name, pipeline_cores=p, group_sizes=(p,) * copies)

    def chosen(self, deployment: Deployment) -> dict[str, Knob]:
        groups = deployment.knob("group_sizes", ())
        return {"pipeline_cores": deployment.knob("pipeline_cores", 1), "copies": len(groups)}

    def resolve(self, instance: Instance, deployment: Deployment) -> Deployment:
        refuse_unknown(instance, dict(deployment.knobs), _ACCEPTED)
        p = int(deployment.knob("pipeline_cores", 1))
        check_pipeline_cores(p, instance)
        sizes = deployment.knob("group_sizes") or default_group_sizes(instance, p)
        return Deployment.of(
            instance.name,
            pipeline_cores=p,
            group_sizes=sizes,
            first_core=deployment.knob("first_core") or None,
        )

    def baselines(self, instance: Instance, weights: int) -> list[dict[str, Knob]]:
        # Data parallel, and AWS's pipeline heuristic 4 * round(weights / 2e7) (Neuron docs,
        # neuroncore-pipeline.rst), each with as many copies as fit, as the AWS blog ran them.
        heuristic = 4 * round(weights / 2e7)
        return [{"pipeline_cores": p} for p in dict.fromkeys([1, heuristic])]

    def compile_knobs(self, deployment: Deployment) -> tuple[tuple[str, Knob], ...]:
        return (("pipeline_cores", int(deployment.knob("pipeline_cores", 1))),)

    def precision(self, deployment: Deployment) -> str:
        return "bf16"  # neuron-cc casts FP32 to BF16 by default (--fp32-cast all)

    def compile(
        self,
        graph: GraphSummary,
        accelerator: Accelerator,
        compile_knobs: Mapping[str, Knob],
        constants: Constants,
    ) -> tuple[Stage, ...]:
        cores = _count(compile_knobs["pipeline_cores"])
        return compile_stages(graph, accelerator, cores, constants)

    def place(self, plan: Plan, instance: Instance, deployment: Deployment) -> Placement:
        p = plan.knob("pipeline_cores")
        if p > instance.cores:
            raise DeploymentError(
                f"pipeline cores {p} exceed the {instance.cores} NeuronCores of {instance.name}; "
                f"accepted: 1 to {instance.cores}"
            )
        sizes = deployment.knob("group_sizes") or default_group_sizes(instance, p)
        copies = copy_cores(instance, p, sizes, deployment.knob("first_core", 0))
        mode = "data-parallel" if p == 1 else "pipeline" if len(copies) == 1 else "mixed"
        placement = Placement(instance, plan, deployment, copies, mode)
        check_device_memory(placement)
        return placement

    def service(self, placement: Placement, constants: Constants) -> ServiceModel:
        instance, plan, c = placement.instance, placement.plan, constants
        acc = instance.accelerator
        return ServiceModel(
            copies=tuple(_servers(placement, cores) for cores in placement.copies),
            stage_names=tuple(f"stage {s.index}" for s in plan.stages),
            cores=instance.cores,
            host_slots=max(1, instance.vcpus),
            # The framework turns each sequence's tokens into tensors and its outputs back.
            host_s=c.host_overhead_s + c.host_per_sequence_s * plan.batch_size,
            transfer_s=(plan.input_bytes + plan.output_bytes) / acc.host_link_bandwidth,
            stage_overhead_s=c.stage_overhead_s,
            domain_bandwidth=acc.dram_bandwidth_per_chip * c.dram_efficiency,
            core_bandwidth=acc.dram_bandwidth_per_chip * c.core_dma_fraction,
            jitter_sigma=c.jitter_sigma,
        )

    def settings(self, placement: Placement) -> dict[str, Any]:
        d = placement.deployment
        p = placement.plan.knob("pipeline_cores")
        sizes = d.knob("group_sizes") or default_group_sizes(placement.instance, p)
        groups = ",".join(map(str, sizes))
        return {
            "generation": self.name,
            "compiler_args": ["--neuroncore-pipeline-cores", str(p)],
            # Neuron SDK before 1.20 reads the group sizes; 1.16 and later read visible cores,
            # one process per copy: the ranges below, in order.
            "environment": {"NEURONCORE_GROUP_SIZES": groups},
            "copies": [
                {"NEURON_RT_VISIBLE_CORES": r}
                for r in visible_cores(sizes, d.knob("first_core", 0))
            ],
        }

    def parse_constants(self, raw: Mapping[str, Any]) -> Constants:
        return parse_constants(Constants, raw)


def _servers(placement: Placement, cores: tuple[int, ...]) -> tuple[Server, ...]:
    """Each stage of one copy on its core, with its DRAM traffic and NeuronLink time."""
    acc, chip_of = placement.instance.accelerator, placement.chip_of
    out = []
    for k, (stage, core) in enumerate(zip(placement.plan.stages, cores, strict=True)):
        phases = [(c, float(b)) for c, b in stage.phases or ((stage.compute_s, stage.dram_bytes),)]
        nxt = cores[k + 1] if k + 1 < len(cores) else None
        prev = cores[k - 1] if k > 0 else None
        # On one chip, stages hand activations over through device DRAM (write, then read).
        if prev is not None and chip_of(prev) == chip_of(core):
            phases.insert(0, (0.0, float(stage.act_in_bytes)))
        hop = 0.0
        if nxt is not None:
            if chip_of(nxt) == chip_of(core):
                phases.append((0.0, float(stage.act_out_bytes)))
            else:  # NeuronLink chain: one hop per chip between them
                hops = abs(chip_of(nxt) - chip_of(core))
                hop = hops * stage.act_out_bytes / acc.chip_link_bandwidth
        out.append(Server(core, chip_of(core), tuple(phases), hop))
    return tuple(out)


NEURONCORE_V1 = NeuronCoreV1()

__all__ = [
    "NEURONCORE_V1",
    "Constants",
    "NeuronCoreV1",
    "default_group_sizes",
    "groups_from_env",
    "parse_group_sizes",
]

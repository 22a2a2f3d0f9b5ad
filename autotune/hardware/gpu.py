"""GPU instances: the model runs as one stage on the whole device, one copy per GPU.

Per kernel the slower of tensor-core arithmetic and device-memory traffic, plus a launch cost;
the serving stack (TorchScript under AMP, as the AWS blog ran it) sets the constants. No
deployment knobs beyond the batch size.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from autotune.catalog import Accelerator, Instance
from autotune.hardware._calibration import parse_constants
from autotune.hardware._graph import GraphSummary, OpCost
from autotune.hardware._knobs import Dimension, refuse_unknown
from autotune.hardware._plan import Plan, Stage
from autotune.hardware._service import Placement, Server, ServiceModel, check_device_memory
from autotune.values import Deployment, Knob


@dataclass(frozen=True)
class Constants:
    tensor_efficiency: float  # achievable fraction of FP16 tensor peak under AMP autocast
    kernel_launch_s: float  # per kernel: launch and framework dispatch
    host_overhead_s: float  # per request on the host
    jitter_sigma: float  # log-normal spread of every service time


def op_seconds(op: OpCost, acc: Accelerator, c: Constants) -> float:
    """A kernel streams its operands from device memory: the slower of that and arithmetic."""
    tensor = sum(mm.flops / (acc.tensor_flops_per_core * c.tensor_efficiency) for mm in op.matmuls)
    engines = tensor + op.vector_flops / acc.vector_flops_per_core
    engines += op.scalar_flops / acc.scalar_flops_per_core
    moved = (
        op.weight_elements + op.act_in_elements + op.act_out_elements
    ) * acc.compute_dtype_bytes
    return max(engines, moved / acc.dram_bandwidth_per_chip) + c.kernel_launch_s


class Gpu:
    name = "gpu"
    dimensions: tuple[Dimension, ...] = ()

    def choices(
        self, instance: Instance, dimension: str, chosen: Mapping[str, Knob], wanted: Any
    ) -> list[Knob]:
        return []

    def deployment(self, instance: Instance, chosen: Mapping[str, Knob]) -> Deployment:
        return Deployment(instance.name)

    def chosen(self, deployment: Deployment) -> dict[str, Knob]:
        return {}

    def resolve(self, instance: Instance, deployment: Deployment) -> Deployment:
        refuse_unknown(instance, dict(deployment.knobs), {})
        return Deployment(instance.name)

    def baselines(self, instance: Instance, weights: int) -> list[dict[str, Knob]]:
        return []

    def compile_knobs(self, deployment: Deployment) -> tuple[tuple[str, Knob], ...]:
        return ()

    def precision(self, deployment: Deployment) -> str:
        return "fp16-amp"

    def compile(
        self,
        graph: GraphSummary,
        accelerator: Accelerator,
        compile_knobs: Mapping[str, Knob],
        constants: Constants,
    ) -> tuple[Stage, ...]:
        ops, dtype = graph.ops, accelerator.compute_dtype_bytes
        compute = sum(op_seconds(op, accelerator, constants) for op in ops)
        weights = sum(op.weight_elements for op in ops) * dtype
        peak = max((op.act_in_elements + op.act_out_elements) * dtype for op in ops)
        stage = Stage(
            index=0,
            first_op=ops[0].name,
            last_op=ops[-1].name,
            n_ops=len(ops),
            tensor_flops=sum(op.tensor_flops for op in ops),
            vector_flops=sum(op.vector_flops for op in ops),
            scalar_flops=sum(op.scalar_flops for op in ops),
            compute_s=compute,
            weight_bytes=weights,
            resident_bytes=0,
            streamed_bytes=weights,
            gather_bytes=sum(op.gather_elements for op in ops) * dtype,
            spill_bytes=0,
            table_bytes=sum(op.table_elements for op in ops) * dtype,
            working_set_bytes=0,
            activation_bytes=peak,
            act_in_bytes=graph.input_bytes,
            act_out_bytes=graph.output_bytes,
            cached_weights=(),
            streamed_weights=tuple(name for op in ops for name, _ in op.weights),
            estimated_s=compute,
        )
        return (stage,)

    def place(self, plan: Plan, instance: Instance, deployment: Deployment) -> Placement:
        placement = Placement(instance, plan, deployment, ((0,),), "gpu")
        check_device_memory(placement)
        return placement

    def service(self, placement: Placement, constants: Constants) -> ServiceModel:
        instance, plan = placement.instance, placement.plan
        acc = instance.accelerator
        stage = plan.stages[0]
        return ServiceModel(
            copies=((Server(0, 0, stage.compute_s, 0.0, 0.0),),),
            stage_names=("the GPU",),
            cores=instance.cores,
            host_slots=max(1, instance.vcpus),
            host_s=constants.host_overhead_s,
            transfer_s=(plan.input_bytes + plan.output_bytes) / acc.host_link_bandwidth,
            stage_overhead_s=0.0,
            domain_bandwidth=acc.dram_bandwidth_per_chip,
            jitter_sigma=constants.jitter_sigma,
        )

    def settings(self, placement: Placement) -> dict[str, Any]:
        return {"generation": self.name, "compiler_args": [], "environment": {}, "copies": [{}]}

    def parse_constants(self, raw: Mapping[str, Any]) -> Constants:
        return parse_constants(Constants, raw)


GPU = Gpu()

"""One JSON column holds a trial's whole evaluation, whatever its hardware generation.

Revisions 0001-0002 stored a NeuronCore-v1-shaped record column by column (pipeline cores,
group sizes, ...), which a generation with other knobs cannot fill. From 0003 a row keeps its
keys (study, trial id and number, bookkeeping) in columns and the evaluation (workload,
deployment and its knobs, load, result, cost, provenance, the generation's export settings) in
``evaluation``, written by ``autotune.values.Evaluation.to_dict``.

Existing rows are converted here, by a snapshot of the rules of their time: at revision 0002
the catalog held four inf1 sizes (NeuronCore-v1) and g4dn.xlarge (GPU), and the simulated
request count lived only in the study's search space (Optuna attribute ``autotune_space``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

_TABLE = "autotune_trial_results"
_GPU_AT_0002 = {"g4dn.xlarge"}  # every other instance of revision 0002 was NeuronCore-v1
_STACK_AT_0002 = "torchscript-amp"  # the one GPU serving stack of 0.1.0 (the AWS blog's)
_FLAT: list[
    tuple[str, Any]
] = [  # the 0002 columns folded into ``evaluation``, with their types (for the downgrade)
    ("model", sa.String(255)),
    ("task", sa.String(255)),
    ("seq_len", sa.Integer()),
    ("instance_type", sa.String(255)),
    ("batch_size", sa.Integer()),
    ("pipeline_cores", sa.Integer()),
    ("group_sizes", sa.JSON()),
    ("concurrency", sa.Integer()),
    ("price_set", sa.String(255)),
    ("throughput", sa.Double()),
    ("latency_p50_ms", sa.Double()),
    ("latency_p95_ms", sa.Double()),
    ("latency_p99_ms", sa.Double()),
    ("latency_mean_ms", sa.Double()),
    ("cost_per_hour_usd", sa.Double()),
    ("cost_per_1m_usd", sa.Double()),
    ("fleet_size", sa.Integer()),
    ("bottleneck", sa.String(255)),
    ("bottleneck_detail", sa.Text()),
    ("core_utilization", sa.JSON()),
    ("host_utilization", sa.Double()),
    ("stages", sa.JSON()),
    ("plan_key", sa.String(255)),
    ("compile_seconds", sa.Double()),
    ("numeric_error", sa.Double()),
    ("emulator_version", sa.String(255)),
    ("seed", sa.BigInteger()),
]
_NULLABLE = {"fleet_size", "numeric_error"}


def _requests_by_study(connection: sa.Connection) -> dict[str, int]:
    """Each study's simulated requests per trial, from its stored search space."""
    if not sa.inspect(connection).has_table("study_user_attributes"):
        return {}
    rows = connection.execute(
        sa.text(
            "SELECT s.study_name, a.value_json FROM studies s JOIN study_user_attributes a "
            "ON a.study_id = s.study_id WHERE a.key = 'autotune_space'"
        )
    )
    out = {}
    for name, value in rows:
        space = json.loads(json.loads(value))
        out[name] = int(space.get("requests", 2000))
    return out


def _settings(gpu: bool, pipeline_cores: int, groups: list[int]) -> dict[str, Any]:
    if gpu:
        return {
            "generation": "gpu",
            "stack": _STACK_AT_0002,
            "compiler_args": [],
            "environment": {},
            "copies": [{}],
        }
    starts = [sum(groups[:i]) for i in range(len(groups))]
    return {
        "generation": "neuroncore-v1",
        "compiler_args": ["--neuroncore-pipeline-cores", str(pipeline_cores)],
        "environment": {"NEURONCORE_GROUP_SIZES": ",".join(map(str, groups))},
        "copies": [
            {"NEURON_RT_VISIBLE_CORES": f"{a}-{a + g - 1}" if g > 1 else str(a)}
            for a, g in zip(starts, groups, strict=True)
        ],
    }


def _mode(gpu: bool, pipeline_cores: int, groups: list[int]) -> str:
    if gpu:
        return "gpu"
    if pipeline_cores == 1:
        return "data-parallel"
    return "pipeline" if len(groups) == 1 else "mixed"


def _copy_cores(gpu: bool, pipeline_cores: int, groups: list[int]) -> list[list[int]]:
    if gpu:
        return [[0]]
    starts = [sum(groups[:i]) for i in range(len(groups))]
    return [list(range(a, a + pipeline_cores)) for a in starts]


def _stage(old: dict[str, Any]) -> dict[str, Any]:
    keep = (
        *("index", "n_ops", "tensor_flops", "vector_flops", "scalar_flops", "weight_bytes"),
        *("resident_bytes", "streamed_bytes", "estimated_s", "service_s", "dram_s", "link_s"),
        "busy_fraction",
    )
    stage = {k: old[k] for k in keep if k in old}
    stage["compute_s"] = old.get("compute_s_sim", old.get("compute_s", 0.0))
    return stage


def evaluation_of(row: Any, requests: int) -> dict[str, Any]:
    """The evaluation a revision-0002 row describes (``Evaluation.to_dict`` form)."""
    gpu = row.instance_type in _GPU_AT_0002
    groups = list(row.group_sizes)
    knobs: dict[str, Any] = {"stack": _STACK_AT_0002}
    if not gpu:
        knobs = {"group_sizes": groups, "pipeline_cores": row.pipeline_cores}
    return {
        "workload": {
            "model": row.model,
            "task": row.task,
            "seq_len": row.seq_len,
            "batch_size": row.batch_size,
        },
        "deployment": {"instance_type": row.instance_type, **knobs},
        "load": {"concurrency": row.concurrency, "requests": requests, "seed": row.seed},
        "result": {
            "throughput": row.throughput,
            "latency_ms": {
                "p50": row.latency_p50_ms,
                "p95": row.latency_p95_ms,
                "p99": row.latency_p99_ms,
                "mean": row.latency_mean_ms,
            },
            "concurrency": row.concurrency,
            "requests": requests,
            "mode": _mode(gpu, row.pipeline_cores, groups),
            "bottleneck": row.bottleneck,
            "bottleneck_detail": row.bottleneck_detail,
            "core_utilization": list(row.core_utilization),
            "host_utilization": row.host_utilization,
            "stages": [_stage(s) for s in row.stages],
            "copy_cores": _copy_cores(gpu, row.pipeline_cores, groups),
        },
        "cost": {
            "price_set": row.price_set,
            "per_hour_usd": row.cost_per_hour_usd,
            "per_1m_usd": row.cost_per_1m_usd,
            "fleet_size": row.fleet_size,
        },
        "provenance": {
            "plan_key": row.plan_key,
            "emulator_version": row.emulator_version,
            "compile_seconds": row.compile_seconds,
            "compile_cached": False,
            "numeric_error": row.numeric_error,
        },
        "settings": _settings(gpu, row.pipeline_cores, groups),
    }


def upgrade() -> None:
    connection = op.get_bind()
    with op.batch_alter_table(_TABLE) as batch:
        batch.add_column(sa.Column("evaluation", sa.JSON(), nullable=True))
    old = sa.table(
        _TABLE, sa.column("id"), sa.column("study_name"), *(sa.column(n, t) for n, t in _FLAT)
    )
    new = sa.table(_TABLE, sa.column("id"), sa.column("evaluation", sa.JSON()))
    requests = _requests_by_study(connection)
    for row in connection.execute(sa.select(old)).all():
        value = evaluation_of(row, requests.get(row.study_name, 2000))
        connection.execute(new.update().where(new.c.id == row.id).values(evaluation=value))
    with op.batch_alter_table(_TABLE) as batch:
        batch.alter_column("evaluation", existing_type=sa.JSON(), nullable=False)
        for name, _ in _FLAT:
            batch.drop_column(name)


def _flat_of(ev: dict[str, Any]) -> dict[str, Any]:
    w, d, r, c, p = (ev[k] for k in ("workload", "deployment", "result", "cost", "provenance"))
    stages = [{**s, "compute_s_sim": s.get("compute_s", 0.0)} for s in r["stages"]]
    return {
        **w,
        "instance_type": d["instance_type"],
        "pipeline_cores": d.get("pipeline_cores", 1),
        "group_sizes": d.get("group_sizes", [1]),
        "concurrency": r["concurrency"],
        "price_set": c["price_set"],
        "throughput": r["throughput"],
        **{f"latency_{k}_ms": v for k, v in r["latency_ms"].items()},
        "cost_per_hour_usd": c["per_hour_usd"],
        "cost_per_1m_usd": c["per_1m_usd"],
        "fleet_size": c["fleet_size"],
        "bottleneck": r["bottleneck"],
        "bottleneck_detail": r["bottleneck_detail"],
        "core_utilization": r["core_utilization"],
        "host_utilization": r["host_utilization"],
        "stages": stages,
        "plan_key": p["plan_key"],
        "compile_seconds": p["compile_seconds"],
        "numeric_error": p["numeric_error"],
        "emulator_version": p["emulator_version"],
        "seed": ev["load"]["seed"],
    }


def downgrade() -> None:
    connection = op.get_bind()
    with op.batch_alter_table(_TABLE) as batch:
        for name, kind in _FLAT:
            batch.add_column(sa.Column(name, kind, nullable=True))
    table = sa.table(
        _TABLE,
        sa.column("id"),
        sa.column("evaluation", sa.JSON()),
        *(sa.column(n, t) for n, t in _FLAT),
    )
    for row in connection.execute(sa.select(table.c.id, table.c.evaluation)).all():
        connection.execute(
            table.update().where(table.c.id == row.id).values(**_flat_of(row.evaluation))
        )
    with op.batch_alter_table(_TABLE) as batch:
        for name, kind in _FLAT:
            if name not in _NULLABLE:
                batch.alter_column(name, existing_type=kind, nullable=False)
        batch.drop_column("evaluation")

"""The emulated Inferentia backend: compile (graph -> plan), deploy, simulate, execute."""

from autotune.emulator._cache import (
    MAX_BATCH,
    CompileCache,
    CompileResult,
    check_shape,
    compile_model,
)
from autotune.emulator._calibration import Calibration, emulator_version, load_calibration
from autotune.emulator._compiler import compile_plan, plan_key
from autotune.emulator._graph import OpCost, capture, op_costs
from autotune.emulator._plan import Plan, Stage
from autotune.emulator._runtime import (
    Deployment,
    default_group_sizes,
    deploy,
    groups_from_env,
    parse_group_sizes,
)
from autotune.emulator._simulator import (
    MAX_REQUESTS,
    Latency,
    SimResult,
    StageTiming,
    simulate,
)

__all__ = [
    "MAX_BATCH",
    "MAX_REQUESTS",
    "Calibration",
    "CompileCache",
    "CompileResult",
    "Deployment",
    "Latency",
    "OpCost",
    "Plan",
    "SimResult",
    "Stage",
    "StageTiming",
    "capture",
    "check_shape",
    "compile_model",
    "compile_plan",
    "default_group_sizes",
    "deploy",
    "emulator_version",
    "groups_from_env",
    "load_calibration",
    "op_costs",
    "parse_group_sizes",
    "plan_key",
    "simulate",
]

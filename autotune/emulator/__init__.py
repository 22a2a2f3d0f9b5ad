"""The emulated backend: capture a graph, compile it by the instance's generation (through a
content-addressed cache), simulate the deployment under load, and really execute the compiled
stages (the functional path)."""

from autotune.emulator._cache import CompileCache, default_cache_dir
from autotune.emulator._capacity import bisect_capacity
from autotune.emulator._compile import (
    CompileResult,
    capture_summary,
    check_shape,
    compile_graph,
    compile_model,
    plan_key,
)
from autotune.emulator._deploy import (
    default_concurrency,
    open_saturation,
    place,
    run_load,
    run_open,
    service_model,
)
from autotune.emulator._functional import execute, max_abs_error
from autotune.emulator._graph import capture, op_costs, summarize
from autotune.emulator._open_loop import Served, poisson_arrivals, serve, simulate_open
from autotune.emulator._simulator import Latency, SimResult, StageTiming, simulate
from autotune.emulator._verify import Verifier

__all__ = [
    "CompileCache",
    "CompileResult",
    "Latency",
    "Served",
    "SimResult",
    "StageTiming",
    "Verifier",
    "bisect_capacity",
    "capture",
    "capture_summary",
    "check_shape",
    "compile_graph",
    "compile_model",
    "default_cache_dir",
    "default_concurrency",
    "execute",
    "max_abs_error",
    "op_costs",
    "open_saturation",
    "place",
    "plan_key",
    "poisson_arrivals",
    "run_load",
    "run_open",
    "serve",
    "service_model",
    "simulate",
    "simulate_open",
    "summarize",
]

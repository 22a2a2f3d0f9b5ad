"""The on-disk compile cache and the compile entry point that uses it.

Plans are stored as JSON named by their content hash; loading never unpickles anything, and a
file whose content does not parse into a plan with that very key is ignored and recompiled.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from autotune.catalog import Accelerator
from autotune.emulator._calibration import emulator_version, load_calibration
from autotune.emulator._compiler import compile_plan, plan_key
from autotune.emulator._plan import Plan
from autotune.errors import InputError
from autotune.models import ModelSource, build_model, example_inputs

MAX_BATCH = 1024


def default_cache_dir() -> Path:
    env = os.environ.get("AUTOTUNE_CACHE_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "autotune" / "plans"


class CompileCache:
    """Plans by key in a directory; writes are atomic (temp file, then rename)."""

    def __init__(self, directory: Path | None = None):
        self.directory = directory or default_cache_dir()

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def get(self, key: str) -> Plan | None:
        try:
            plan = Plan.from_json(self._path(key).read_text())
        except (OSError, ValueError, TypeError, KeyError):
            return None
        return plan if plan.key == key else None

    def put(self, plan: Plan) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(plan.to_json())
        os.replace(tmp, self._path(plan.key))


@dataclass(frozen=True)
class CompileResult:
    plan: Plan
    seconds: float
    cached: bool


def check_shape(source: ModelSource, batch: int, seq_len: int) -> None:
    """Batch and sequence length within what the compiler and the model accept."""
    if not 1 <= batch <= MAX_BATCH:
        raise InputError(f"batch size {batch} is out of range; accepted: 1 to {MAX_BATCH}")
    if not 1 <= seq_len <= source.max_seq_len:
        raise InputError(
            f"sequence length {seq_len} is out of range for {source.name}; "
            f"accepted: 1 to {source.max_seq_len}"
        )


def compile_model(
    source: ModelSource,
    *,
    batch: int,
    seq_len: int,
    pipeline_cores: int,
    accelerator: Accelerator,
    cache: CompileCache | None = None,
) -> CompileResult:
    """The plan for ``source`` at this shape, from the cache when it has it."""
    from autotune.emulator._graph import capture

    check_shape(source, batch, seq_len)
    if pipeline_cores < 1:
        raise InputError(f"pipeline cores {pipeline_cores} must be at least 1")
    started = time.perf_counter()
    version = emulator_version()
    key = plan_key(
        source.identity, source.task, batch, seq_len, pipeline_cores, accelerator, version
    )
    if cache is not None and (plan := cache.get(key)) is not None:
        return CompileResult(plan, time.perf_counter() - started, cached=True)
    module = build_model(source, meta=True)
    program = capture(module, example_inputs(source, batch, seq_len, meta=True))
    plan = compile_plan(
        program,
        model=source.name,
        identity=source.identity,
        task=source.task,
        batch=batch,
        seq_len=seq_len,
        pipeline_cores=pipeline_cores,
        accelerator=accelerator,
        calibration=load_calibration(),
        emulator_version=version,
    )
    if cache is not None:
        cache.put(plan)
    return CompileResult(plan, time.perf_counter() - started, cached=False)

"""The on-disk compile cache and the compile entry point that uses it.

Plans are stored as JSON named by their content hash; loading never unpickles anything, and a
file whose content does not parse into a plan with that very key is ignored and recompiled.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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

    def __init__(self, directory: Path | None = None, *, on_disk: bool = True):
        self.directory: Path | None = (directory or default_cache_dir()) if on_disk else None
        # Exported graphs by (model identity, task, batch, seq): one capture serves every
        # pipeline-core count of that shape within this process.
        self._programs: dict[tuple[str, str, int, int], Any] = {}
        self._lock = threading.Lock()

    @classmethod
    def in_memory(cls) -> CompileCache:
        """A cache that keeps captured graphs for this process and writes nothing."""
        return cls(on_disk=False)

    def _read(self, name: str) -> str:
        if self.directory is None:
            raise OSError("in-memory cache")
        return (self.directory / name).read_text()

    def get(self, key: str) -> Plan | None:
        try:
            plan = Plan.from_json(self._read(f"{key}.json"))
        except (OSError, ValueError, TypeError, KeyError, RecursionError):
            return None  # missing, unreadable or tampered with: compile again
        return plan if plan.key == key else None

    def put(self, plan: Plan) -> None:
        self._write(f"{plan.key}.json", plan.to_json())

    def _write(self, name: str, text: str) -> None:
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(text)
            os.replace(tmp, self.directory / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get_error(self, key: str) -> float | None:
        """The numeric error the functional check measured for plan ``key``, if it ran."""
        try:
            raw = json.loads(self._read(f"{key}.check.json"))
        except (OSError, ValueError, RecursionError):
            return None
        value = raw.get("max_abs_error") if isinstance(raw, dict) else None
        return float(value) if isinstance(value, int | float) else None

    def put_error(self, key: str, error: float) -> None:
        self._write(f"{key}.check.json", json.dumps({"max_abs_error": error}))

    def program(self, source: ModelSource, batch: int, seq_len: int) -> Any:
        """The model's exported graph at this shape (shapes only), memoised in memory."""
        from autotune.emulator._graph import capture

        key = (source.identity, source.task, batch, seq_len)
        with self._lock:
            if key not in self._programs:
                module = build_model(source, meta=True)
                self._programs[key] = capture(
                    module, example_inputs(source, batch, seq_len, meta=True)
                )
            return self._programs[key]


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
    check_shape(source, batch, seq_len)
    if pipeline_cores < 1:
        raise InputError(f"pipeline cores {pipeline_cores} must be at least 1")
    started = time.perf_counter()
    version = emulator_version()
    key = plan_key(
        source.identity, source.task, batch, seq_len, pipeline_cores, accelerator, version
    )
    cache = cache or CompileCache.in_memory()
    if (plan := cache.get(key)) is not None:
        return CompileResult(plan, time.perf_counter() - started, cached=True)
    program = cache.program(source, batch, seq_len)
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
    cache.put(plan)
    return CompileResult(plan, time.perf_counter() - started, cached=False)

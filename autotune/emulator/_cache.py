"""The on-disk compile cache: plans and functional-check results, named by content hash.

Plans are stored as JSON named by their key; loading never unpickles anything, and a file whose
content does not parse into a plan with that very key is ignored and recompiled. Graph summaries
are kept the same way (and in memory for the process): one capture of a model at a shape serves
every plan of that shape, in this process and the next, which then never imports torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from autotune.emulator._graph import SUMMARY_VERSION
from autotune.hardware import GraphSummary, Plan


def default_cache_dir() -> Path:
    env = os.environ.get("AUTOTUNE_CACHE_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "autotune" / "plans"


class CompileCache:
    """Plans by key in a directory; writes are atomic (temp file, then rename)."""

    def __init__(self, directory: Path | None = None, *, on_disk: bool = True):
        self.directory: Path | None = (directory or default_cache_dir()) if on_disk else None
        self._graphs: dict[tuple[str, str, int, int], GraphSummary] = {}
        self._programs: dict[tuple[str, str, int], Any] = {}  # batch-symbolic captures
        self._first: dict[tuple[str, str, int], int] = {}  # first batch captured per shape
        self._lock = threading.RLock()

    @classmethod
    def in_memory(cls) -> CompileCache:
        """A cache that keeps graph summaries for this process and writes nothing."""
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

    def graph(
        self, shape: tuple[str, str, int, int], capture: Callable[[], GraphSummary]
    ) -> GraphSummary:
        """The graph summary of ``shape`` (identity, task, batch, seq), captured once."""
        with self._lock:
            if shape not in self._graphs:
                self._graphs[shape] = self._stored_graph(shape) or self._capture(shape, capture)
            return self._graphs[shape]

    def first_batch(self, key: tuple[str, str, int], batch: int) -> bool:
        """Whether ``batch`` is the first batch size captured for ``key`` in this process."""
        with self._lock:
            return self._first.setdefault(key, batch) == batch

    def program(self, key: tuple[str, str, int], capture: Callable[[], Any]) -> Any:
        """A captured program for ``key`` (identity, task, seq), captured once per process."""
        with self._lock:
            if key not in self._programs:
                self._programs[key] = capture()
            return self._programs[key]

    def _stored_graph(self, shape: tuple[str, str, int, int]) -> GraphSummary | None:
        try:
            return GraphSummary.from_json(self._read(_graph_file(shape)))
        except (OSError, ValueError, TypeError, KeyError, RecursionError, AttributeError):
            return None  # missing, unreadable or tampered with: capture again

    def _capture(
        self, shape: tuple[str, str, int, int], capture: Callable[[], GraphSummary]
    ) -> GraphSummary:
        graph = capture()
        self._write(_graph_file(shape), graph.to_json())
        return graph


def _graph_file(shape: tuple[str, str, int, int]) -> str:
    """The file of a captured graph's summary: the shape, the reader and torch's release (its
    exporter decides which operators the graph holds)."""
    fields = [*shape, SUMMARY_VERSION, metadata.version("torch")]
    return f"graph-{hashlib.sha256(json.dumps(fields).encode()).hexdigest()}.json"

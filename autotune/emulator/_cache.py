"""The on-disk compile cache: plans and functional-check results, named by content hash.

Plans are stored as JSON named by their key; loading never unpickles anything, and a file whose
content does not parse into a plan with that very key is ignored and recompiled. Graph summaries
are kept in memory for the process and on disk beside the plans (a capture takes ~10 s; the
calibration fit and the cross-validation need dozens of shapes): one capture serves every plan
of that shape.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

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
        self._lock = threading.Lock()

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

    @staticmethod
    def _graph_name(shape: tuple[str, str, int, int]) -> str:
        # The summary depends on the graph code, which its version names.
        key = json.dumps([*shape, SUMMARY_VERSION]).encode()
        return f"graph-{hashlib.sha256(key).hexdigest()}.json"

    def _stored_graph(self, shape: tuple[str, str, int, int]) -> GraphSummary | None:
        try:
            return GraphSummary.from_json(self._read(self._graph_name(shape)))
        except (OSError, ValueError, TypeError, KeyError, RecursionError, AttributeError):
            return None  # missing, unreadable or tampered with: capture again

    def _capture(
        self, shape: tuple[str, str, int, int], capture: Callable[[], GraphSummary]
    ) -> GraphSummary:
        graph = capture()
        self._write(self._graph_name(shape), graph.to_json())
        return graph

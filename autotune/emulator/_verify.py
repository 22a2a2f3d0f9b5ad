"""Functional checks of compiled plans against the eager model, sharing the costly parts.

Building a model with weights, capturing it at a shape and running the eager reference are paid
once per model and shape; each plan then only runs its own stages.
"""

from __future__ import annotations

import threading
from typing import Any

from autotune.hardware import Plan
from autotune.models import ModelSource


class Verifier:
    """Max absolute error of a plan's stage-by-stage execution against the eager model."""

    def __init__(self, source: ModelSource, seed: int = 0):
        self.source, self.seed = source, seed
        self._module: Any = None
        self._shapes: dict[tuple[int, int], tuple[Any, Any, Any]] = {}
        self._lock = threading.Lock()

    def _shape(self, batch: int, seq_len: int) -> tuple[Any, Any, Any]:
        import torch

        from autotune.emulator._graph import capture
        from autotune.models.build import build_model, example_inputs

        if self._module is None:
            self._module = build_model(self.source)
        if (batch, seq_len) not in self._shapes:
            inputs = example_inputs(self.source, batch, seq_len, seed=self.seed)
            with torch.no_grad():
                reference = self._module(**inputs).to_tuple()
            self._shapes[batch, seq_len] = (capture(self._module, inputs), inputs, reference)
        return self._shapes[batch, seq_len]

    def error(self, plan: Plan) -> float:
        from autotune.emulator._functional import execute, max_abs_error

        with self._lock:
            program, inputs, reference = self._shape(plan.batch_size, plan.seq_len)
            return max_abs_error(reference, execute(program, plan, inputs))

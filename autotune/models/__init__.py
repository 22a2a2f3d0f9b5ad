"""Model sources: built-in presets and local Hugging Face checkpoints, for a task head."""

from autotune.models._source import (
    DEFAULT_MODEL,
    DEFAULT_TASK,
    TASKS,
    ModelSource,
    build_model,
    example_inputs,
    preset_names,
    resolve_model,
)

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_TASK",
    "TASKS",
    "ModelSource",
    "build_model",
    "example_inputs",
    "preset_names",
    "resolve_model",
]

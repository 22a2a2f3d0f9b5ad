"""Model sources: built-in presets and local Hugging Face checkpoints, for a task head.

``autotune.models.build`` builds the PyTorch module (torch and transformers load there only).
"""

from autotune.models._source import (
    DEFAULT_MODEL,
    DEFAULT_TASK,
    TASKS,
    ModelSource,
    preset_names,
    resolve_model,
)

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_TASK",
    "TASKS",
    "ModelSource",
    "preset_names",
    "resolve_model",
]

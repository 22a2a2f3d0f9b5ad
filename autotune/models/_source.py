"""Where a model comes from, what identifies it, and how it is built.

Resolving a model (``resolve_model``) is cheap and imports neither torch nor transformers: the
compile cache is keyed by the model's identity, so a cache hit never has to build the model.
Building it is ``autotune.models.build``.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import yaml

from autotune.errors import InputError, choice_error

DEFAULT_MODEL = "bert-base-uncased"
DEFAULT_TASK = "question-answering"
TASKS = ("question-answering", "sequence-classification")
_SUPPORTED_TYPES = ("bert", "distilbert", "roberta")
_WEIGHT_FILE = "model.safetensors"
INIT_SEED = 0  # seeds the random weights of presets (and heads a checkpoint lacks)


@dataclass(frozen=True)
class ModelSource:
    """A model to compile: a preset name or a checkpoint directory, with its task head."""

    name: str
    task: str
    model_type: str
    config: dict[str, Any]
    checkpoint: Path | None
    identity: str  # content hash of architecture and weights

    @property
    def max_seq_len(self) -> int:
        positions = int(self.config.get("max_position_embeddings", 512))
        # RoBERTa numbers positions from padding_idx + 1, so two slots are never usable.
        return positions - 2 if self.model_type == "roberta" else positions

    @property
    def uses_token_type_ids(self) -> bool:
        return self.model_type != "distilbert"


@functools.cache
def _presets() -> dict[str, Any]:
    text = resources.files("autotune.models").joinpath("presets.yaml").read_text()
    return dict(yaml.safe_load(text))


def preset_names() -> list[str]:
    return list(_presets())


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


@functools.cache
def _file_digest(path: Path, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _checkpoint_source(path: Path, task: str) -> ModelSource:
    if not path.is_dir():
        raise InputError(
            f"model {str(path)!r} is neither a preset nor an existing checkpoint directory; "
            f"presets: {', '.join(preset_names())}"
        )
    config_file, weights = path / "config.json", path / _WEIGHT_FILE
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError) as e:
        raise InputError(
            f"checkpoint {str(path)!r} has no readable config.json; "
            "expected a Hugging Face checkpoint directory (config.json + model.safetensors)"
        ) from e
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if model_type not in _SUPPORTED_TYPES:
        raise InputError(
            f"checkpoint {str(path)!r} has model_type {model_type!r}; "
            f"accepted: {', '.join(_SUPPORTED_TYPES)}"
        )
    _check_checkpoint(path, config, weights)
    stat = weights.stat()
    identity = _digest(
        b"checkpoint",
        task.encode(),
        config_file.read_bytes(),
        _file_digest(weights.resolve(), stat.st_size, stat.st_mtime_ns).encode(),
        metadata.version("transformers").encode(),
    )
    return ModelSource(str(path), task, model_type, config, path, identity)


@functools.cache
def _tensor_count(path: Path, size: int, mtime_ns: int) -> int:
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:  # reads the header only
        return len(f.keys())


def _check_checkpoint(path: Path, config: dict[str, Any], weights: Path) -> None:
    """Refuse, before any study starts on it, a checkpoint whose model cannot be built."""
    from safetensors import SafetensorError

    positions = config.get("max_position_embeddings", 512)
    if isinstance(positions, bool) or not isinstance(positions, int) or positions < 1:
        raise InputError(
            f"checkpoint {str(path)!r}: max_position_embeddings in config.json is "
            f"{positions!r}; expected a positive integer"
        )
    if not weights.is_file():
        raise InputError(
            f"checkpoint {str(path)!r} has no {_WEIGHT_FILE}; only safetensors weights are "
            "loaded (pickled .bin files are refused)"
        )
    stat = weights.stat()
    try:
        tensors = _tensor_count(weights.resolve(), stat.st_size, stat.st_mtime_ns)
    except (SafetensorError, OSError) as e:
        raise InputError(
            f"checkpoint {str(path)!r}: {_WEIGHT_FILE} is not a safetensors file "
            f"({str(e).splitlines()[0]})"
        ) from e
    if not tensors:
        raise InputError(f"checkpoint {str(path)!r}: {_WEIGHT_FILE} holds no tensors")


def resolve_model(model: str, task: str = DEFAULT_TASK) -> ModelSource:
    """The model named ``model`` (preset or checkpoint path) with the ``task`` head."""
    if task not in TASKS:
        raise choice_error("task", task, TASKS)
    presets = _presets()
    if model not in presets:
        return _checkpoint_source(Path(model), task)
    spec = presets[model]
    config = dict(spec["config"])
    identity = _digest(
        b"preset",
        model.encode(),
        task.encode(),
        json.dumps([spec["model_type"], config, INIT_SEED], sort_keys=True).encode(),
        metadata.version("transformers").encode(),
    )
    return ModelSource(model, task, spec["model_type"], config, None, identity)

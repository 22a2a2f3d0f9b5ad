"""Where a model comes from, what identifies it, and how it is built.

Resolving a model (``resolve_model``) is cheap and imports neither torch nor transformers: the
compile cache is keyed by the model's identity, so a cache hit never has to build the model.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from autotune.errors import InputError, choice_error

if TYPE_CHECKING:
    import torch

DEFAULT_MODEL = "bert-base-uncased"
DEFAULT_TASK = "question-answering"
TASKS = ("question-answering", "sequence-classification")
_SUPPORTED_TYPES = ("bert", "distilbert", "roberta")
_WEIGHT_FILE = "model.safetensors"
_INIT_SEED = 0


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
        json.dumps([spec["model_type"], config, _INIT_SEED], sort_keys=True).encode(),
        metadata.version("transformers").encode(),
    )
    return ModelSource(model, task, spec["model_type"], config, None, identity)


def _auto_class(task: str) -> Any:
    import transformers

    if task == "question-answering":
        return transformers.AutoModelForQuestionAnswering
    return transformers.AutoModelForSequenceClassification


def build_model(source: ModelSource, *, meta: bool = False) -> torch.nn.Module:
    """The eval-mode PyTorch module; ``meta=True`` builds shapes only (no weights, no init)."""
    import transformers

    # Missing task heads are expected (and seeded): transformers' warning about them, and its
    # progress bars, are silenced while the model is built, and only then.
    verbosity = transformers.logging.get_verbosity()
    bars = transformers.utils.logging.is_progress_bar_enabled()
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    try:
        return _build(source, meta)
    finally:
        transformers.logging.set_verbosity(verbosity)
        if bars:
            transformers.logging.enable_progress_bar()


def _build(source: ModelSource, meta: bool) -> torch.nn.Module:
    import torch
    import transformers
    from safetensors import SafetensorError

    auto = _auto_class(source.task)
    if source.checkpoint is None:
        config = transformers.AutoConfig.for_model(source.model_type, **source.config)
    else:
        config = transformers.AutoConfig.from_pretrained(source.checkpoint, local_files_only=True)
    if meta:
        with torch.device("meta"):
            module = auto.from_config(config, attn_implementation="sdpa")
        return module.eval()
    torch.manual_seed(_INIT_SEED)  # presets and any head a checkpoint lacks are seeded
    if source.checkpoint is None:
        module = auto.from_config(config, attn_implementation="sdpa")
    else:
        try:
            module = auto.from_pretrained(
                source.checkpoint,
                local_files_only=True,
                use_safetensors=True,
                attn_implementation="sdpa",
            )
        except (OSError, ValueError, SafetensorError) as e:
            raise InputError(
                f"checkpoint {source.name!r} could not be loaded: {str(e).splitlines()[0]}"
            ) from e
    return module.eval()


def example_inputs(
    source: ModelSource, batch: int, seq_len: int, *, meta: bool = False, seed: int = 0
) -> dict[str, torch.Tensor]:
    """Token inputs of the compiled shape: random ids (seeded), full attention mask."""
    import torch

    shape = (batch, seq_len)
    if meta:
        ids = torch.zeros(shape, dtype=torch.long, device="meta")
        inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    else:
        vocab = int(source.config.get("vocab_size", 30522))
        generator = torch.Generator().manual_seed(seed)
        ids = torch.randint(5, vocab, shape, generator=generator)
        inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    if source.uses_token_type_ids:
        inputs["token_type_ids"] = torch.zeros_like(ids)
    return inputs

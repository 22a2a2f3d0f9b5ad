"""Build a model's PyTorch module and its example inputs (imports torch and transformers)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from autotune.errors import InputError
from autotune.models._source import INIT_SEED, ModelSource

if TYPE_CHECKING:
    import torch


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
    torch.manual_seed(INIT_SEED)  # presets and any head a checkpoint lacks are seeded
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

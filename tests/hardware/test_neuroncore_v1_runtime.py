"""NeuronCore groups: parsing, placement on cores and chips, environment variables, memory."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autotune.catalog import get_instance
from autotune.errors import DeploymentError, InputError
from autotune.hardware import Placement, generation_of
from autotune.hardware._service import GIB
from autotune.hardware.neuroncore_v1 import default_group_sizes, groups_from_env, parse_group_sizes
from tests.toy import deploy

XL, X6 = "inf1.xlarge", "inf1.6xlarge"
SMALL = ("distilbert-base-uncased", 1, 16)  # cheap to compile, 6 layers: plenty of operators


def group_sizes(d: Placement) -> str:
    return generation_of(d.instance).settings(d)["environment"]["NEURONCORE_GROUP_SIZES"]


def visible_cores(d: Placement) -> list[str]:
    return [c["NEURON_RT_VISIBLE_CORES"] for c in generation_of(d.instance).settings(d)["copies"]]


@pytest.fixture(scope="module")
def plans(plan_of):
    return {p: plan_of(*SMALL, p) for p in (1, 2, 4, 6, 16)}


@pytest.mark.parametrize(
    ("text", "sizes"),
    [
        ("1,1,1,1", (1, 1, 1, 1)),
        ("16", (16,)),
        ("2,4,3,4", (2, 4, 3, 4)),
        (" 4, 4 ", (4, 4)),
    ],
)
def test_parse_group_sizes(text, sizes):
    assert parse_group_sizes(text) == sizes


@pytest.mark.parametrize(
    "text", ["", " ", "0", "1,,1", "1,", "a", "-1", "1.5", "1;1", "4,-4", "1,0", "0x4"]
)
def test_parse_group_sizes_rejects(text):
    with pytest.raises(InputError, match=r"group sizes .* not a comma list of positive"):
        parse_group_sizes(text)


@given(st.lists(st.integers(1, 64), min_size=1, max_size=8))
def test_parse_group_sizes_round_trips(sizes):
    assert parse_group_sizes(",".join(map(str, sizes))) == tuple(sizes)


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=12))
def test_parse_group_sizes_accepts_or_raises_input_error(text):
    try:
        sizes = parse_group_sizes(text)
    except InputError:
        return
    assert sizes and all(isinstance(s, int) and s >= 1 for s in sizes)


@pytest.mark.parametrize("text", ["²", "1,²"])
def test_parse_group_sizes_rejects_unicode_digits_cleanly(text):
    with pytest.raises(InputError):
        parse_group_sizes(text)


def test_num_cores_rejects_unicode_digits_cleanly():
    with pytest.raises(InputError):
        groups_from_env({"NEURON_RT_NUM_CORES": "²"}, get_instance(XL), 1)


@pytest.mark.parametrize(
    ("instance", "pipeline", "sizes"),
    [
        (XL, 1, (1, 1, 1, 1)),
        (XL, 2, (2, 2)),
        (XL, 3, (3,)),
        (XL, 4, (4,)),
        (X6, 4, (4, 4, 4, 4)),
        (X6, 5, (5, 5, 5)),
        (X6, 16, (16,)),
        ("g4dn.xlarge", 1, (1,)),
    ],
)
def test_default_group_sizes(instance, pipeline, sizes):
    assert default_group_sizes(get_instance(instance), pipeline) == sizes


def test_data_parallel_one_copy_per_core(plans):
    d = deploy(plans[1], get_instance(XL))
    assert group_sizes(d) == "1,1,1,1"
    assert d.copies == ((0,), (1,), (2,), (3,))
    assert d.mode == "data-parallel"
    assert visible_cores(d) == ["0", "1", "2", "3"]


def test_pipeline_copy_takes_contiguous_cores(plans):
    d = deploy(plans[4], get_instance(XL))
    assert (group_sizes(d), d.copies, d.mode) == ("4", ((0, 1, 2, 3),), "pipeline")
    assert visible_cores(d) == ["0-3"]


def test_group_larger_than_the_pipeline_leaves_cores_idle(plans):
    d = deploy(plans[2], get_instance(XL), (4,))
    assert d.copies == ((0, 1),)  # cores 2 and 3 idle
    d = deploy(plans[1], get_instance(XL), (3, 1))
    assert d.copies == ((0,), (3,))  # cores 1 and 2 idle
    assert visible_cores(d) == ["0-2", "3"]


def test_groups_span_chips_on_inf1_6xlarge(plans):
    inst = get_instance(X6)
    d = deploy(plans[6], inst, (6, 6))
    assert d.copies == (tuple(range(0, 6)), tuple(range(6, 12)))
    assert {d.chip_of(c) for c in d.copies[0]} == {0, 1}
    assert {d.chip_of(c) for c in d.copies[1]} == {1, 2}  # copy 2 spans chips 1 and 2
    assert d.mode == "mixed"
    assert visible_cores(d) == ["0-5", "6-11"]


def test_mixed_sizes_place_in_load_order(plans):
    d = deploy(plans[2], get_instance(X6), (2, 4, 3, 4))
    assert d.copies == ((0, 1), (2, 3), (6, 7), (9, 10))
    assert visible_cores(d) == ["0-1", "2-5", "6-8", "9-12"]


def test_group_smaller_than_the_pipeline_is_rejected(plans):
    with pytest.raises(
        DeploymentError,
        match=r"group of size 2 cannot load a model compiled "
        r"for 4 pipeline cores",
    ):
        deploy(plans[4], get_instance(X6), (4, 2))


def test_groups_beyond_the_instance_are_rejected(plans):
    with pytest.raises(
        DeploymentError,
        match=r"group sizes 1,1,1,1,1 need 5 NeuronCores but "
        r"inf1.xlarge has 4",
    ):
        deploy(plans[1], get_instance(XL), (1, 1, 1, 1, 1))
    with pytest.raises(DeploymentError, match="need 17 NeuronCores"):
        deploy(plans[4], get_instance(X6), (4, 4, 4, 5))


def test_pipeline_beyond_the_instance_is_rejected(plans):
    with pytest.raises(
        DeploymentError,
        match=r"pipeline cores 16 exceed the 4 NeuronCores of "
        r"inf1.xlarge; accepted: 1 to 4",
    ):
        deploy(plans[16], get_instance(XL))


def test_plan_for_another_accelerator_is_rejected(plans, plan_of):
    with pytest.raises(DeploymentError, match="compiled for neuroncore-v1 cannot run on g4dn"):
        deploy(plans[1], get_instance("g4dn.xlarge"))
    gpu_plan = plan_of(*SMALL, 1, "g4dn.xlarge")
    assert deploy(gpu_plan, get_instance("g4dn.xlarge")).mode == "gpu"
    with pytest.raises(DeploymentError, match="compiled for t4"):
        deploy(gpu_plan, get_instance(XL))


# --- NEURON_RT_VISIBLE_CORES, NEURON_RT_NUM_CORES, NEURONCORE_GROUP_SIZES ------------------


@pytest.mark.parametrize(
    ("env", "instance", "pipeline", "expected"),
    [
        ({}, XL, 1, None),
        ({"NEURONCORE_GROUP_SIZES": "2,2"}, XL, 2, ((2, 2), 0)),
        ({"NEURON_RT_VISIBLE_CORES": "0-7"}, X6, 1, ((1,) * 8, 0)),
        ({"NEURON_RT_VISIBLE_CORES": "0-7"}, X6, 4, ((4, 4), 0)),
        ({"NEURON_RT_VISIBLE_CORES": "0-7"}, X6, 3, ((3, 3), 0)),  # two cores left idle
        ({"NEURON_RT_VISIBLE_CORES": "0-15"}, X6, 16, ((16,), 0)),
        ({"NEURON_RT_VISIBLE_CORES": "3"}, XL, 1, ((1,), 3)),
        ({"NEURON_RT_VISIBLE_CORES": "4-7"}, X6, 4, ((4,), 4)),
        ({"NEURON_RT_VISIBLE_CORES": "0-1"}, XL, 4, ((2,), 0)),  # too few: deploy will refuse
        ({"NEURON_RT_NUM_CORES": "4"}, XL, 1, ((1, 1, 1, 1), 0)),
        ({"NEURON_RT_NUM_CORES": "4"}, XL, 4, ((4,), 0)),
        ({"NEURON_RT_NUM_CORES": " 2 "}, XL, 1, ((1, 1), 0)),
        # The 1.16+ variables win over NEURONCORE_GROUP_SIZES (ignored from Neuron 1.20).
        ({"NEURON_RT_VISIBLE_CORES": "0", "NEURONCORE_GROUP_SIZES": "4"}, XL, 1, ((1,), 0)),
        ({"NEURON_RT_NUM_CORES": "2", "NEURONCORE_GROUP_SIZES": "4"}, XL, 1, ((1, 1), 0)),
    ],
)
def test_groups_from_env(env, instance, pipeline, expected):
    assert groups_from_env(env, get_instance(instance), pipeline) == expected


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"NEURON_RT_VISIBLE_CORES": "0-7"}, r"NEURON_RT_VISIBLE_CORES='0-7' .* within 0-3"),
        ({"NEURON_RT_VISIBLE_CORES": "5-2"}, "NEURON_RT_VISIBLE_CORES='5-2'"),
        ({"NEURON_RT_VISIBLE_CORES": "-1"}, "NEURON_RT_VISIBLE_CORES='-1'"),
        ({"NEURON_RT_VISIBLE_CORES": "x"}, "NEURON_RT_VISIBLE_CORES='x'"),
        ({"NEURON_RT_VISIBLE_CORES": "4"}, "NEURON_RT_VISIBLE_CORES='4'"),
        ({"NEURON_RT_NUM_CORES": "0"}, r"NEURON_RT_NUM_CORES='0' .* from 1 to 4"),
        ({"NEURON_RT_NUM_CORES": "5"}, "NEURON_RT_NUM_CORES='5'"),
        ({"NEURON_RT_NUM_CORES": "two"}, "NEURON_RT_NUM_CORES='two'"),
        ({"NEURONCORE_GROUP_SIZES": "1,x"}, "group sizes '1,x'"),
    ],
)
def test_groups_from_env_rejects(env, message):
    with pytest.raises(InputError, match=message):
        groups_from_env(env, get_instance(XL), 1)


def test_env_groups_deploy_from_their_first_core(plans):
    inst = get_instance(X6)
    sizes, first = groups_from_env({"NEURON_RT_VISIBLE_CORES": "4-11"}, inst, 4)
    d = deploy(plans[4], inst, sizes, first)
    assert d.copies == ((4, 5, 6, 7), (8, 9, 10, 11))
    assert visible_cores(d) == ["4-7", "8-11"]
    sizes, first = groups_from_env({"NEURON_RT_VISIBLE_CORES": "3"}, get_instance(XL), 1)
    assert deploy(plans[1], get_instance(XL), sizes, first).copies == ((3,),)
    sizes, first = groups_from_env({"NEURON_RT_VISIBLE_CORES": "0-1"}, get_instance(XL), 4)
    with pytest.raises(DeploymentError, match="group of size 2"):
        deploy(plans[4], get_instance(XL), sizes, first)
    with pytest.raises(DeploymentError, match="need 5 NeuronCores"):
        deploy(plans[1], get_instance(XL), (1, 1), 3)


# --- device memory ----------------------------------------------------------------------


def _heavy(plan, gib_per_stage: float):
    """The same plan with each stage's weights inflated to ``gib_per_stage`` GiB."""
    stages = tuple(
        dataclasses.replace(s, weight_bytes=int(gib_per_stage * GIB)) for s in plan.stages
    )
    return dataclasses.replace(plan, stages=stages)


def test_device_memory_is_checked_per_chip(plans):
    heavy = _heavy(plans[1], 3.0)  # 3 GiB per copy; a chip has 8 GiB
    assert deploy(heavy, get_instance(XL), (1, 1)).copies == ((0,), (1,))
    with pytest.raises(
        DeploymentError,
        match=r"needs 9.\d GiB of device memory on chip 0 of "
        r"inf1.xlarge, which has 8 GiB",
    ):
        deploy(heavy, get_instance(XL), (1, 1, 1))
    # Groups of 4 put one copy on each chip of inf1.6xlarge: every chip holds 3 GiB.
    assert len(deploy(heavy, get_instance(X6), (4, 4, 4, 4)).copies) == 4
    with pytest.raises(DeploymentError, match="on chip 1 "):
        deploy(heavy, get_instance(X6), (4, 1, 1, 1))


def test_pipeline_stages_use_the_memory_of_their_own_chip(plans):
    heavy = _heavy(plans[2], 3.0)  # 6 GiB per copy, 3 GiB on each of its two cores
    with pytest.raises(DeploymentError, match=r"needs 12.\d GiB .* on chip 0"):
        deploy(heavy, get_instance(XL), (2, 2))
    d = deploy(heavy, get_instance(X6), (4, 4))  # one copy per chip
    assert [sorted({d.chip_of(c) for c in cp}) for cp in d.copies] == [[0], [1]]
    with pytest.raises(DeploymentError, match=r"needs 9.\d GiB .* on chip 0"):
        deploy(heavy, get_instance(X6), (3, 3))  # copy 2 starts on chip 0: 3 x 3 GiB there
    # 16 GiB of weights fit inf1.6xlarge when the pipeline spreads them over its 4 chips...
    assert len(deploy(_heavy(plans[16], 1.0), get_instance(X6)).copies) == 1
    # ...but not when 4 pipeline cores put all of them on one chip.
    with pytest.raises(DeploymentError, match="on chip 0"):
        deploy(_heavy(plans[4], 4.0), get_instance(X6), (4,))


def test_activations_held_in_dram_count_towards_device_memory(plan_of):
    """bert-large at batch 256, seq 512: its activations, not its weights, fill the chip."""
    plan = plan_of("bert-large-uncased", 256, 512, 1)
    inst = get_instance(XL)
    weights = sum(s.weight_bytes + s.table_bytes for s in plan.stages)
    assert 4 * weights < inst.accelerator.dram_bytes_per_chip  # weights alone would fit
    assert plan.device_bytes > 2 * GIB
    assert deploy(plan, inst, (1,)).copies == ((0,),)
    with pytest.raises(DeploymentError, match=r"device memory on chip 0 of inf1.xlarge"):
        deploy(plan, inst, (1, 1, 1, 1))

"""NeuronCore-v2 (inf2, trn1): timing on tiny graphs by hand, knobs, placement, the released
rows, and the functional path with auto-cast emulated."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from autotune.catalog import get_instance
from autotune.emulator import CompileCache, capture, compile_graph, place, simulate, summarize
from autotune.emulator._functional import execute, max_abs_error
from autotune.errors import DeploymentError, InputError
from autotune.evaluation import evaluate
from autotune.hardware import GraphSummary, Matmul, OpCost, Plan, generation_of
from autotune.hardware.neuroncore_v2 import NEURONCORE_V2, Constants
from autotune.reference import measurements, validation_table
from autotune.study.read import render, spec_from_record
from autotune.values import Deployment, Experiment, Knob, Load, TrialRecord, Workload

INF2 = get_instance("inf2.xlarge")
TRN1 = get_instance("trn1.2xlarge")
ACC = INF2.accelerator
V2 = NEURONCORE_V2.name
EXACT = Constants(
    te_efficiency=0.5,
    te_fill_rows=256.0,
    hbm_efficiency=0.5,
    exec_overhead_s=1e-4,
    host_cpu_s=1e-5,
    jitter_sigma=0.0,
)


def _op(name: str, mm: Matmul, weights: int, vector: float = 0.0, scalar: float = 0.0) -> OpCost:
    return OpCost(name, "linear", (mm,), vector, scalar, ((f"{name}.w", weights),), 0, 0, 0)


def _graph(*ops: OpCost) -> GraphSummary:
    return GraphSummary(tuple(ops), (), input_bytes=1024, output_bytes=64)


def _plan(graph: GraphSummary, deployment: Deployment, c: Constants = EXACT) -> Plan:
    instance = get_instance(deployment.instance_type)
    return compile_graph(
        graph,
        model="tiny",
        identity="tiny",
        workload=Workload("tiny", batch_size=1),
        instance=instance,
        deployment=NEURONCORE_V2.resolve(instance, deployment),
        calibration={V2: c},
        version="test",
    )


# One Linear(256 -> 128) over 256 rows, 2.3 MFLOP vector and 2.9 MFLOP scalar work, by hand:
# the TensorEngine runs at 0.5 (efficiency) x 256 / (256 + 256) (tile loading) of its peak.
MM = Matmul(1, 256, 256, 128)
TINY = _graph(_op("fc", MM, 256 * 128, vector=2.3e6, scalar=2.9e6))
ENGINES = 1e-6 + 1e-6  # 2.3e6 / 2.3e12 + 2.9e6 / 2.9e12


def test_engine_time_by_hand_under_each_auto_cast():
    bf16 = _plan(TINY, Deployment.of("inf2.xlarge"))
    assert bf16.precision == "bf16"
    assert bf16.stages[0].compute_s == pytest.approx(2 * 256 * 256 * 128 / (92e12 * 0.25) + ENGINES)
    fp32 = _plan(TINY, Deployment.of("inf2.xlarge", auto_cast="none"))
    assert fp32.precision == "fp32"
    # FP32 matmuls run at a quarter of the BF16 rate (23 of 92 TFLOPS).
    assert fp32.stages[0].compute_s == pytest.approx(2 * 256 * 256 * 128 / (23e12 * 0.25) + ENGINES)
    # Weight bytes follow the cast type: 2 (bf16), 4 (fp32, tf32), 1 (fp8).
    assert bf16.stages[0].weight_bytes == 256 * 128 * 2
    assert fp32.stages[0].weight_bytes == 256 * 128 * 4
    fp8 = _plan(TINY, Deployment.of("inf2.xlarge", auto_cast="all", auto_cast_type="fp8_e4m3"))
    assert (fp8.precision, fp8.stages[0].weight_bytes) == ("fp8_e4m3+all", 256 * 128)


def test_partial_tiles_waste_the_array():
    # Attention's 64-wide heads fill half of the 128 x 128 array: twice the time of a full tile.
    full = _plan(_graph(_op("a", Matmul(12, 256, 128, 128), 0)), Deployment.of("inf2.xlarge"))
    half = _plan(_graph(_op("a", Matmul(12, 256, 64, 128), 0)), Deployment.of("inf2.xlarge"))
    assert half.stages[0].compute_s == pytest.approx(full.stages[0].compute_s)  # half the flops


def test_weights_beyond_sbuf_stream_from_hbm_and_the_chip_shares_it():
    # 20M BF16 weights (40 MB) do not fit the 24 MiB SBUF: all of them stream on every request.
    big = _graph(_op("fc", Matmul(1, 128, 128, 128), 20_000_000))
    plan = _plan(big, Deployment.of("inf2.xlarge", copies=1))
    stage = plan.stages[0]
    assert (stage.resident_bytes, stage.streamed_bytes) == (0, 40_000_000)
    alone = NEURONCORE_V2.service(place(plan, INF2, Deployment.of("inf2.xlarge", copies=1)), EXACT)
    one = simulate(alone, 1, concurrency=1, requests=50)
    hbm = 40e6 / (880.46e9 * 0.5)
    host = 1e-5  # 1 busy worker + 1 runtime thread on the 2 host cores: no contention
    io = (1024 + 64) / 31.5e9
    assert one.latency_s.p50 == pytest.approx(host + io + hbm + 1e-4, rel=1e-9)
    # Two copies on the chip's two cores serve at the same time; each streams for the fraction
    # f = d / (d + overhead) of its service (spread over it), so each core's DMA shares the
    # chip with the other's streaming fraction: slowdown s = 1 + f, d = hbm * s. Solved:
    # hbm s^2 + (overhead - 2 hbm) s - overhead = 0.
    both = NEURONCORE_V2.service(place(plan, INF2, Deployment.of("inf2.xlarge", copies=2)), EXACT)
    two = simulate(both, 1, concurrency=2, requests=400)
    o = 1e-4
    slowdown = ((2 * hbm - o) + math.sqrt((o - 2 * hbm) ** 2 + 4 * hbm * o)) / (2 * hbm)
    assert two.stages[0].dram_s == pytest.approx(hbm * slowdown, rel=0.02)


def test_small_weights_stay_in_sbuf():
    stage = _plan(TINY, Deployment.of("inf2.xlarge")).stages[0]
    assert (stage.resident_bytes, stage.streamed_bytes) == (256 * 128 * 2, 0)


def test_host_contention_comes_from_the_instance_data():
    # Same deployment and load; inf2.xlarge has 2 physical host cores, trn1.2xlarge 4. Busy
    # threads: 4 clients on 2 copies x 2 workers, plus a runtime thread per copy = 6.
    slow_host = dataclasses.replace(EXACT, host_cpu_s=1e-3)
    deployment = NEURONCORE_V2.resolve(INF2, Deployment.of("inf2.xlarge", workers_per_copy=1))
    plan = _plan(TINY, deployment, slow_host)
    device = plan.stages[0].compute_s + 1e-4
    io = (1024 + 64) / 31.5e9
    for instance, stretch in ((INF2, 2.0), (TRN1, 1.0)):  # (2 + 2) threads on 2 or 4 cores
        model = NEURONCORE_V2.service(place(plan, instance, deployment), slow_host)
        assert (model.workers, model.host_cores, model.runtime_threads) == (
            2,
            instance.host_cores,
            2,
        )
        run = simulate(model, 1, concurrency=2, requests=200)
        assert run.latency_s.p50 == pytest.approx(1e-3 * stretch + io + device, rel=1e-9)


def test_a_second_worker_hides_the_host_work():
    slow_host = dataclasses.replace(EXACT, host_cpu_s=2e-4)
    d1 = Deployment.of("inf2.xlarge", copies=1, workers_per_copy=1)
    d2 = Deployment.of("inf2.xlarge", copies=1, workers_per_copy=2)
    plan = _plan(TINY, d1, slow_host)
    device = plan.stages[0].compute_s + 1e-4
    io = (1024 + 64) / 31.5e9
    one = simulate(NEURONCORE_V2.service(place(plan, INF2, d1), slow_host), 1, concurrency=4)
    # One worker: host and device in series, the other clients wait for the worker.
    assert 1 / one.throughput == pytest.approx(2e-4 + io + device, rel=1e-6)
    two = simulate(NEURONCORE_V2.service(place(plan, INF2, d2), slow_host), 1, concurrency=4)
    # Two workers (3 threads on 2 host cores: host 3e-4 s): the device never waits.
    assert 1 / two.throughput == pytest.approx(max(device, (3e-4 + io + device) / 2), rel=1e-6)


# --- knobs --------------------------------------------------------------------------------


def test_defaults_are_what_the_published_rows_ran():
    resolved = NEURONCORE_V2.resolve(INF2, Deployment("inf2.xlarge"))
    assert dict(resolved.knobs) == {
        "copies": 2,
        "workers_per_copy": 2,
        "auto_cast": "matmult",
        "auto_cast_type": "bf16",
    }


@pytest.mark.parametrize(
    ("knobs", "message"),
    [
        ({"pipeline_cores": 2}, "--pipeline-cores do not apply to inf2.xlarge"),
        ({"group_sizes": (1, 1)}, "--copies 1 to 2 (one per NeuronCore)"),
        ({"copies": 3}, "--copies 3 is out of range for inf2.xlarge; accepted: 1 to 2"),
        ({"copies": 0}, "accepted: 1 to 2"),
        ({"workers_per_copy": 5}, "--workers-per-copy 5 is out of range"),
        ({"auto_cast": "bf16"}, "--auto-cast 'bf16' is not accepted; accepted: none, matmult"),
        ({"auto_cast_type": "int8"}, "accepted: bf16, fp16, tf32, fp8_e4m3"),
        ({"auto_cast": "none", "auto_cast_type": "fp16"}, "applies only with --auto-cast"),
    ],
)
def test_bad_knobs_are_one_line_errors_naming_what_is_accepted(knobs, message):
    with pytest.raises(InputError) as error:
        NEURONCORE_V2.resolve(INF2, Deployment.of("inf2.xlarge", **knobs))
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_study_dimensions_round_trip():
    chosen: dict[str, Knob] = {
        "copies": 1,
        "workers_per_copy": 3,
        "auto_cast": "none",
        "auto_cast_type": "bf16",
    }
    deployment = NEURONCORE_V2.deployment(INF2, chosen)
    assert "auto_cast_type" not in dict(deployment.knobs)  # meaningless without auto-cast
    assert NEURONCORE_V2.chosen(deployment) == chosen
    assert NEURONCORE_V2.choices(INF2, "copies", {}, "all") == [1, 2]
    assert NEURONCORE_V2.choices(TRN1, "copies", {}, "max") == [2]
    assert NEURONCORE_V2.choices(INF2, "auto_cast_type", {"auto_cast": "none"}, "all") == ["bf16"]
    assert len(NEURONCORE_V2.choices(INF2, "auto_cast_type", {"auto_cast": "all"}, "all")) == 4
    assert generation_of(TRN1) is NEURONCORE_V2


def test_settings_say_what_torch_neuronx_needs():
    deployment = Deployment.of("inf2.xlarge", auto_cast_type="fp16", workers_per_copy=1)
    placement = place(_plan(TINY, deployment), INF2, NEURONCORE_V2.resolve(INF2, deployment))
    settings = NEURONCORE_V2.settings(placement)
    assert settings["compiler_args"] == ["--auto-cast", "matmult", "--auto-cast-type", "fp16"]
    assert settings["mode"] == "data-parallel"
    assert settings["environment"]["NEURON_RT_VISIBLE_CORES"] == "0-1"
    assert [c["NEURON_RT_VISIBLE_CORES"] for c in settings["copies"]] == ["0", "1"]
    assert settings["workers_per_copy"] == 1


# --- placement ----------------------------------------------------------------------------


def test_copies_take_one_core_each_and_chips_in_order():
    trn = get_instance("trn1.32xlarge")
    deployment = NEURONCORE_V2.resolve(trn, Deployment.of("trn1.32xlarge", copies=5))
    placement = place(_plan(TINY, deployment), trn, deployment)
    assert placement.copies == ((0,), (1,), (2,), (3,), (4,))
    assert [placement.chip_of(c) for (c,) in placement.copies] == [0, 0, 1, 1, 2]
    assert placement.mode == "data-parallel"
    single = NEURONCORE_V2.resolve(INF2, Deployment.of("inf2.xlarge", copies=1))
    assert place(_plan(TINY, single), INF2, single).mode == "single-copy"


def test_copies_beyond_the_cores_or_the_chip_memory_do_not_load():
    with pytest.raises(DeploymentError, match="accepted: 1 to 2"):
        place(_plan(TINY, Deployment("inf2.xlarge")), INF2, Deployment.of("inf2.xlarge", copies=3))
    # 10G BF16 weights: 20 GB per copy; one fits the chip's 32 GiB, two do not.
    huge = _graph(_op("fc", Matmul(1, 128, 128, 128), 10_000_000_000))
    one = Deployment.of("inf2.xlarge", copies=1)
    place(_plan(huge, one), INF2, one)
    with pytest.raises(DeploymentError, match=r"of device memory on chip 0 of inf2\.xlarge"):
        place(_plan(huge, one), INF2, Deployment.of("inf2.xlarge", copies=2))


# --- the released rows and the whole path -------------------------------------------------


def test_bench_on_inf2_keeps_the_json_keys():
    experiment = Experiment(
        Workload(batch_size=2, seq_len=32), Deployment.of("inf2.xlarge"), Load(requests=200)
    )
    flat = evaluate(experiment, CompileCache.in_memory()).flat()
    assert (flat["copies"], flat["mode"], flat["auto_cast"]) == (2, "data-parallel", "matmult")
    assert flat["throughput"] > 0 and flat["cost_per_hour_usd"] == 0.758


def test_export_script_carries_the_settings_and_compiles():
    experiment = Experiment(
        Workload(batch_size=2, seq_len=32),
        Deployment.of("trn1.2xlarge", auto_cast="all", auto_cast_type="fp8_e4m3"),
        Load(requests=100),
    )
    evaluation = evaluate(experiment, CompileCache.in_memory())
    record = TrialRecord("s", 1, 0, evaluation)
    text = render(spec_from_record(record, "s"), "script")
    compile(text, "deploy.py", "exec")
    namespace: dict[str, object] = {"__name__": "deploy"}
    exec(text, namespace)  # defines, runs nothing
    config = namespace["CONFIG"]
    assert isinstance(config, dict)
    assert config["compiler_args"] == ["--auto-cast", "all", "--auto-cast-type", "fp8_e4m3"]
    assert (len(config["copies"]), config["knobs"]["workers_per_copy"]) == (2, 2)


@pytest.mark.slow
def test_released_inf2_and_trn1_rows_within_10_percent():
    rows = [
        m
        for m in measurements()[0]
        if generation_of(get_instance(m.experiment.deployment.instance_type)).name
        == "neuroncore-v2"
    ]
    checks = validation_table(rows=rows, requests=1000)  # what `autotune validate` prints
    assert len(checks) == 7
    worst = max(checks, key=lambda c: c.error)
    assert worst.error <= 0.10, (worst.id, worst.metric, worst.predicted)


# --- functional path ----------------------------------------------------------------------


class _Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.up, self.down = torch.nn.Linear(64, 128), torch.nn.Linear(128, 32)
        self.norm = torch.nn.LayerNorm(128)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(torch.nn.functional.gelu(self.norm(self.up(x))))


@pytest.fixture(scope="module")
def tiny_program():
    torch.manual_seed(0)
    model = _Tiny().eval()
    inputs = {"x": torch.randn(16, 64)}
    with torch.no_grad():
        reference = (model(**inputs),)
    return capture(model, inputs), inputs, reference


@pytest.mark.parametrize(
    ("knobs", "low", "high"),
    [
        ({"auto_cast": "none"}, 0.0, 1e-6),
        ({"auto_cast_type": "tf32"}, 1e-6, 5e-3),
        ({"auto_cast_type": "bf16"}, 1e-3, 5e-2),
        ({"auto_cast_type": "fp8_e4m3"}, 1e-2, 5e-1),
        ({"auto_cast": "all", "auto_cast_type": "bf16"}, 1e-3, 1e-1),
    ],
)
def test_functional_path_emulates_auto_cast(tiny_program, knobs, low, high):
    program, inputs, reference = tiny_program
    deployment = Deployment.of("inf2.xlarge", **knobs)
    plan = _plan(summarize(program), deployment)
    error = max_abs_error(reference, execute(program, plan, inputs))
    assert low <= error <= high, (plan.precision, error)


def test_coarser_casts_err_more(tiny_program):
    program, inputs, reference = tiny_program
    errors = []
    for kind in ("tf32", "fp16", "bf16", "fp8_e4m3"):
        plan = _plan(summarize(program), Deployment.of("inf2.xlarge", auto_cast_type=kind))
        errors.append(max_abs_error(reference, execute(program, plan, inputs)))
    assert errors == sorted(errors)

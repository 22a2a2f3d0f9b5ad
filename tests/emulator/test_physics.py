"""Physics as properties: no prediction beats the hardware, and idle cores never make more
clients slower. Real compiled plans, random deployments, loads and seeds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from autotune.catalog import get_instance
from autotune.hardware import Server, generation_of, load_calibration
from autotune.hardware.gpu import STACKS, engine_peak
from tests.toy import deploy, simulate

XL, X6 = "inf1.xlarge", "inf1.6xlarge"
CAL = load_calibration()
# (model, batch, seq_len, pipeline cores), compiled elsewhere in the suite too.
SHAPES = [
    ("bert-base-uncased", 1, 128, 1),
    ("bert-base-uncased", 1, 128, 4),
    ("bert-base-uncased", 6, 128, 1),
    ("bert-base-uncased", 6, 128, 4),
    ("distilbert-base-uncased", 1, 16, 1),
    ("distilbert-base-uncased", 1, 16, 2),
    ("distilbert-base-uncased", 1, 16, 4),
]


@st.composite
def neuron_cases(draw):
    model, batch, seq, p = draw(st.sampled_from(SHAPES))
    instance = get_instance(draw(st.sampled_from([XL, X6])))
    copies = draw(st.integers(1, instance.cores // p))
    clients = draw(st.integers(1, 3 * copies * p))
    return (model, batch, seq, p), instance, copies, clients, draw(st.integers(0, 2**32 - 1))


def _traffic_per_request(placement) -> tuple[dict[int, float], dict[int, float]]:
    """Bytes each chip reads or writes in DRAM, and sends over NeuronLink, per request."""
    dram: dict[int, float] = {}
    link: dict[int, float] = {}
    model = generation_of(placement.instance).service(placement, CAL["neuroncore-v1"])
    copy = model.copies[0]
    for server, stage in zip(copy, placement.plan.stages, strict=True):
        dram[server.domain] = dram.get(server.domain, 0.0) + server.memory_bytes
        if server.link_s:
            link[server.domain] = link.get(server.domain, 0.0) + stage.act_out_bytes
    return dram, link


@given(neuron_cases())
def test_no_prediction_beats_the_neuroncores(plan_of, case):
    (model, batch, seq, p), instance, copies, clients, seed = case
    plan = plan_of(model, batch, seq, p, instance.name)
    placement = deploy(plan, instance, (p,) * copies)
    r = simulate(placement, CAL, concurrency=clients, requests=400, seed=seed)
    acc, requests_per_s = instance.accelerator, r.throughput / batch
    cores = copies * p
    stages = plan.stages
    assert requests_per_s * sum(s.tensor_flops for s in stages) <= cores * acc.tensor_flops_per_core
    assert requests_per_s * sum(s.vector_flops for s in stages) <= cores * acc.vector_flops_per_core
    assert requests_per_s * sum(s.scalar_flops for s in stages) <= cores * acc.scalar_flops_per_core
    dram, link = _traffic_per_request(placement)
    copies_on: dict[int, int] = {}
    for cores_of in placement.copies:
        for chip in {placement.chip_of(c) for c in cores_of}:
            copies_on[chip] = copies_on.get(chip, 0) + 1
    # All chips' DRAM and links together carry every request's traffic.
    chips = len(copies_on)
    assert requests_per_s * sum(dram.values()) <= chips * acc.dram_bandwidth_per_chip * (1 + 1e-9)
    assert requests_per_s * sum(link.values()) <= chips * acc.chip_link_bandwidth * (1 + 1e-9)
    if len(set(copies_on.values())) == 1:
        # Chips alike (as many copies each): each carries its copies' share of the rate. (Copies
        # on a less crowded chip run faster, so with uneven chips only the total is bounded.)
        per_copy = requests_per_s / copies
        for chip, n in copies_on.items():
            assert per_copy * n * dram.get(chip, 0.0) <= acc.dram_bandwidth_per_chip * (1 + 1e-9)
            assert per_copy * n * link.get(chip, 0.0) <= acc.chip_link_bandwidth * (1 + 1e-9)
    host_bytes = plan.input_bytes + plan.output_bytes
    assert requests_per_s * host_bytes <= acc.host_link_bandwidth


@given(
    stack=st.sampled_from(list(STACKS)),
    instance=st.sampled_from(["g4dn.xlarge", "g5.xlarge", "g6.xlarge"]),
    batch=st.sampled_from([1, 6]),
    clients=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_no_prediction_beats_the_gpu(plan_of, stack, instance, batch, clients, seed):
    inst = get_instance(instance)
    plan = plan_of("bert-base-uncased", batch, 128, None, instance, stack=stack)
    assert plan.knob("stack") == stack  # the stack is a compile knob: the plan names it
    r = simulate(deploy(plan, inst), CAL, concurrency=clients, requests=300, seed=seed)
    requests_per_s = r.throughput / batch
    flops = sum(s.tensor_flops for s in plan.stages)
    assert requests_per_s * flops <= engine_peak(inst.accelerator, STACKS[stack])
    # Every weight is read from device memory at least once per request.
    weights = sum(s.weight_bytes for s in plan.stages)
    assert requests_per_s * weights <= inst.accelerator.dram_bandwidth_per_chip
    host_bytes = plan.input_bytes + plan.output_bytes
    assert requests_per_s * host_bytes <= inst.accelerator.host_link_bandwidth


@given(neuron_cases())
def test_more_clients_never_lower_throughput_while_cores_idle(plan_of, case):
    (model, batch, seq, p), instance, copies, clients, seed = case
    plan = plan_of(model, batch, seq, p, instance.name)
    placement = deploy(plan, instance, (p,) * copies)
    fewer = simulate(placement, CAL, concurrency=clients, requests=600, seed=seed)
    used = [u for u in fewer.core_utilization if u > 0]
    if min(used) > 0.97 or fewer.host_utilization > 0.97:
        return  # saturated: a further client only queues
    more = simulate(placement, CAL, concurrency=clients + 1, requests=600, seed=seed)
    # Up to the noise of a finite seeded run (the jitter draws differ with the client count).
    assert more.throughput >= fewer.throughput * 0.98


def test_a_phase_overlaps_its_own_dma_only():
    """Two phases: one DMA-bound, one engine-bound; neither hides the other's time."""
    server = Server(core=0, domain=0, phases=((1e-3, 4e6), (3e-3, 1e6)), link_s=0.0)
    assert server.busy_s(1e9) == 4e-3 + 3e-3  # 4 MB at 1 GB/s, then 3 ms of arithmetic
    assert server.busy_s(1e10) == 1e-3 + 3e-3
    assert (server.compute_s, server.memory_bytes) == (4e-3, 5e6)

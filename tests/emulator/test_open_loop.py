"""The open-loop batching loop against queueing theory (M/D/1, M/M/c), and dynamic batching at
light load and at saturation, on the real loop and on a real (toy) service model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from autotune.emulator import capture, place, poisson_arrivals, serve, simulate_open
from autotune.hardware import generation_of
from autotune.values import Deployment
from tests.toy import compile_toy, toy_acc, toy_calibration, toy_instance
from tests.toy_models import ROWS, WIDTHS, Chain

N = 200_000  # requests per queueing check: p95 and the mean settle to well under 1%


def _erlang_c(c: int, a: float) -> float:
    """Probability an arrival waits in M/M/c with offered load ``a`` = lambda / mu."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def _mmc_response_p95(c: int, lam: float, mu: float) -> float:
    """p95 of the time in system (wait + exponential service) in M/M/c, by bisection on
    P(T > t) = (1 - C) e^(-mu t) + C P(Exp(theta) + Exp(mu) > t), theta = c mu - lambda."""
    wait = _erlang_c(c, lam / mu)
    theta = c * mu - lam

    def tail(t: float) -> float:
        both = (theta * math.exp(-mu * t) - mu * math.exp(-theta * t)) / (theta - mu)
        return (1 - wait) * math.exp(-mu * t) + wait * both

    lo, hi = 0.0, 100 / mu
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if tail(mid) > 0.05 else (lo, mid)
    return lo


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_md1_mean_wait_is_pollaczek_khinchine(rho: float) -> None:
    service = 1e-3
    arrive = poisson_arrivals(rho / service, N, seed=0).tolist()
    served = serve(arrive, [[service]], [[1.0, 1.0]] * N, slots=1, delay_s=0.0)
    wait = float(served.latencies[N // 10 :].mean()) - service
    assert wait == pytest.approx(rho * service / (2 * (1 - rho)), rel=0.03)


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_mmc_p95_is_erlang_c(rho: float) -> None:
    c, mean_service = 4, 1e-3
    lam = rho * c / mean_service
    arrive = poisson_arrivals(lam, N, seed=1).tolist()
    exp = np.random.default_rng(2).exponential(1.0, (N, 2)).tolist()
    served = serve(arrive, [[mean_service]] * c, exp, slots=1, delay_s=0.0)
    p95 = float(np.percentile(served.latencies[N // 10 :], 95))
    assert p95 == pytest.approx(_mmc_response_p95(c, lam, 1 / mean_service), rel=0.05)


def test_light_load_waits_at_most_the_delay_for_a_padded_batch() -> None:
    service, delay, n = 4e-3, 2e-3, 2000
    arrive = poisson_arrivals(1.0, n, seed=0).tolist()  # one request a second: alone
    served = serve(arrive, [[service]], [[1.0, 1.0]] * n, slots=8, delay_s=delay)
    assert np.mean(served.sizes == 1) > 0.99
    # Alone, a request waits the whole delay, then runs the full compiled (padded) shape.
    assert float(np.percentile(served.latencies, 50)) == pytest.approx(service + delay)


def test_saturation_runs_full_batches_at_batch_over_service() -> None:
    service, batch, n = 4e-3, 8, 20_000
    arrive = poisson_arrivals(10 * batch / service, n, seed=0).tolist()
    served = serve(arrive, [[service]], [[1.0, 1.0]] * n, slots=batch, delay_s=1e-3)
    assert served.sizes[1:].min() == batch
    done = np.sort(served.completed)
    assert (n - 1) / (done[-1] - done[0]) == pytest.approx(batch / service, rel=0.01)


# --- the same on a toy NeuronCore-v1 service model (host work, PCIe, stage overhead) ----------


@pytest.fixture(scope="module")
def service_model():
    inst = toy_instance(toy_acc(dram_bandwidth_per_chip=1e15, host_link_bandwidth=1e15))
    program = capture(Chain().eval(), {"x": torch.randn(ROWS, WIDTHS[0])})
    plan = compile_toy(program, inst, toy_calibration(), 1, batch=ROWS)
    placement = place(plan, inst, Deployment.of(inst.name, pipeline_cores=1, group_sizes=(1,)))
    generation = generation_of(inst)
    return generation.service(placement, toy_calibration()[generation.name]), ROWS


def test_simulated_light_load_p50_is_one_padded_batch_plus_the_delay(service_model) -> None:
    m, batch = service_model
    one = m.host_s + m.transfer_s + m.copies[0][0].busy_s(m.core_bandwidth) + m.stage_overhead_s
    r = simulate_open(m, batch, qps=1.0, max_batch_delay_s=2e-3, requests=500)
    assert r.mean_batch == pytest.approx(1.0, abs=0.01)
    assert one <= r.latency_s.p50 <= one + 2e-3 + 1e-12


def test_simulated_saturation_throughput_is_batch_over_service(service_model) -> None:
    m, batch = service_model
    cycle = m.copies[0][0].busy_s(m.core_bandwidth) + m.stage_overhead_s
    assert m.host_s + m.transfer_s < cycle  # host work overlaps the device: the stage sets it
    r = simulate_open(m, batch, qps=100 * batch / cycle, max_batch_delay_s=1e-3, requests=20_000)
    assert r.throughput == pytest.approx(batch / cycle, rel=0.01)
    assert r.mean_batch == pytest.approx(batch, rel=0.01)


def test_a_request_larger_than_the_batch_runs_in_chunks(service_model) -> None:
    m, batch = service_model
    one = m.host_s + m.transfer_s + m.copies[0][0].busy_s(m.core_bandwidth) + m.stage_overhead_s
    r = simulate_open(m, batch, qps=1.0, sequences_per_request=2 * batch - 1, requests=200)
    assert r.latency_s.p50 == pytest.approx(2 * one)  # two compiled batches, the last padded

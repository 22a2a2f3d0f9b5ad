#!/usr/bin/env python3
"""Serve a deployment exported by autotune on inf1 (NeuronCore-v1).

On an inf1 instance with torch-neuron installed, this compiles the model with the exported
compiler arguments, loads one copy per NeuronCore group and serves the exported traffic: open-loop
Poisson arrivals batched as exported (batch_size, max_batch_delay_ms), or closed-loop clients. Where
torch-neuron is absent it runs the same steps on autotune's emulated Inferentia (autotune must be
installed): the compiled stages really run, and the load test is simulated.

    python deploy.py [--requests N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import threading
import time
from collections.abc import Callable
from typing import Any

CONFIG: dict[str, Any] = {}  # autotune export writes the deployment here


def example_inputs(vocab: int = 1000) -> tuple[Any, ...]:
    import torch

    shape = (CONFIG["batch_size"], CONFIG["seq_len"])
    ids = torch.randint(5, vocab, shape, generator=torch.Generator().manual_seed(0))
    tensors = {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "token_type_ids": torch.zeros_like(ids),
    }
    return tuple(tensors[name] for name in CONFIG["input_names"])


def set_runtime_environment() -> None:
    # Before the runtime starts: groups for Neuron < 1.20 (later releases read each copy's
    # NEURON_RT_VISIBLE_CORES, one process per copy).
    for name, value in CONFIG["environment"].items():
        os.environ.setdefault(name, value)


def open_loop(run: Callable[[int], None], n_copies: int, requests: int) -> list[float]:
    """Latencies of ``requests`` requests arriving as a Poisson process at the exported rate
    (one instance's share of the traffic), batched as exported: one queue; each copy's worker
    takes up to ``batch_size`` requests, waits at most ``max_batch_delay_ms`` for the batch to
    fill, then runs its compiled (padded) batch with ``run(copy)``."""
    batching, traffic = CONFIG["batching"], CONFIG["traffic"]
    rate = traffic["qps"] / CONFIG["instance_count"]
    delay = batching["max_batch_delay_ms"] / 1e3
    waiting: queue.Queue[float | None] = queue.Queue()
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(copy: int) -> None:
        while (first := waiting.get()) is not None:
            batch, deadline = [first], time.perf_counter() + delay
            while len(batch) < batching["batch_size"]:
                try:
                    item = waiting.get(timeout=max(0.0, deadline - time.perf_counter()))
                except queue.Empty:
                    break
                if item is None:
                    waiting.put(None)  # the end: leave it for this worker's next get
                    break
                batch.append(item)
            run(copy)
            done = time.perf_counter()
            with lock:
                latencies.extend(done - arrived for arrived in batch)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_copies)]
    for t in threads:
        t.start()
    arrivals = random.Random(0)
    for _ in range(requests):
        time.sleep(arrivals.expovariate(rate))
        waiting.put(time.perf_counter())
    for _ in threads:
        waiting.put(None)
    for t in threads:
        t.join()
    return latencies


def serve_on_inferentia(model: Any, inputs: tuple[Any, ...], requests: int) -> dict[str, Any]:
    import torch
    import torch_neuron  # noqa: F401  (registers torch.neuron)

    neuron = getattr(torch, "neuron")  # noqa: B009  (added at run time by torch_neuron)
    compiled = neuron.trace(model, inputs, compiler_args=list(CONFIG["compiler_args"]))
    path = "model_neuron.pt"
    compiled.save(path)
    copies = [compiled] + [torch.jit.load(path) for _ in range(len(CONFIG["copies"]) - 1)]
    if CONFIG.get("traffic", {}).get("kind") == "open-loop":
        started = time.perf_counter()
        done = sorted(open_loop(lambda i: copies[i](*inputs), len(copies), requests))
        return _report("inferentia", done, len(done), time.perf_counter() - started)
    latencies: list[float] = []
    lock = threading.Lock()
    clients = CONFIG["concurrency"]
    per_client = max(1, requests // clients)

    def client(index: int) -> None:
        model_copy = copies[index % len(copies)]
        for _ in range(per_client):
            started = time.perf_counter()
            model_copy(*inputs)
            with lock:
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return _report("inferentia", latencies, len(latencies) * CONFIG["batch_size"], elapsed)


def _report(backend: str, latencies: list[float], sequences: int, elapsed: float) -> dict[str, Any]:
    return {
        "backend": backend,
        "throughput": sequences / elapsed,
        "latency_ms": {
            "p50": latencies[len(latencies) // 2] * 1e3,
            "p95": latencies[int(len(latencies) * 0.95)] * 1e3,
        },
    }


def serve_on_emulator(model: Any, inputs: tuple[Any, ...], requests: int) -> dict[str, Any]:
    from autotune import neuron
    from autotune.evaluation import evaluate
    from autotune.values import Deployment, Experiment, Workload

    compiled = neuron.trace(model, inputs, compiler_args=list(CONFIG["compiler_args"]))
    outputs = compiled(*inputs)
    deployment = Deployment.from_dict({"instance_type": CONFIG["instance_type"], **CONFIG["knobs"]})
    workload = Workload(CONFIG["model"], CONFIG["task"], CONFIG["seq_len"], CONFIG["batch_size"])
    load = exported_load(requests)
    result = evaluate(Experiment(workload, deployment, load)).flat()
    return {
        "backend": "autotune-emulator",
        "output_shape": list(outputs.to_tuple()[0].shape),
        "stages": len(compiled.plan.stages),
        "throughput": result["throughput"],
        "latency_ms": result["latency_ms"],
    }


def exported_load(requests: int) -> Any:
    """The load the deployment was measured at: open-loop traffic at one instance's share,
    batched as exported (``batching``), or the closed-loop clients."""
    from autotune.values import Load

    traffic, batching = CONFIG.get("traffic", {}), CONFIG.get("batching", {})
    if traffic.get("kind") != "open-loop":
        return Load(concurrency=CONFIG["concurrency"], requests=requests)
    return Load(
        requests=requests,
        qps=traffic["qps"] / CONFIG["instance_count"],
        sequences_per_request=traffic.get("sequences_per_request", 1),
        max_batch_delay_ms=batching.get("max_batch_delay_ms", 0.0),
    )


def load_model() -> Any:
    try:
        import torch_neuron  # noqa: F401
    except ImportError:  # offline: a checkpoint directory, or the preset's architecture
        from autotune.models import resolve_model
        from autotune.models.build import build_model

        return build_model(resolve_model(CONFIG["model"], CONFIG["task"]))
    import transformers

    auto = (
        transformers.AutoModelForQuestionAnswering
        if CONFIG["task"] == "question-answering"
        else transformers.AutoModelForSequenceClassification
    )
    return auto.from_pretrained(CONFIG["model"], torchscript=True).eval()


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the exported deployment.")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    set_runtime_environment()
    model = load_model()
    inputs = example_inputs()
    try:
        import torch_neuron  # noqa: F401
    except ImportError:
        report = serve_on_emulator(model, inputs, args.requests)
    else:
        report = serve_on_inferentia(model, inputs, args.requests)
    report["expected"] = CONFIG["expected"]
    if args.json:
        print(json.dumps(report))
        return
    expected = CONFIG["expected"]
    print(
        f"{CONFIG['instance_type']} ({report['backend']}): {report['throughput']:.1f} seq/s, "
        f"p95 {report['latency_ms']['p95']:.2f} ms (expected "
        f"{expected['throughput_seq_per_s']:.1f} seq/s, p95 {expected['latency_ms']['p95']:.2f} ms)"
    )


if __name__ == "__main__":
    main()

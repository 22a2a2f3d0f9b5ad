#!/usr/bin/env python3
"""Serve a deployment exported by autotune on inf1 (NeuronCore-v1).

On an inf1 instance with torch-neuron installed, this compiles the model with the exported
compiler arguments, loads one copy per NeuronCore group and serves closed-loop clients. Where
torch-neuron is absent it runs the same steps on autotune's emulated Inferentia (autotune must be
installed): the compiled stages really run, and the load test is simulated.

    python deploy.py [--requests N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
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


def serve_on_inferentia(model: Any, inputs: tuple[Any, ...], requests: int) -> dict[str, Any]:
    import torch
    import torch_neuron  # noqa: F401  (registers torch.neuron)

    neuron = getattr(torch, "neuron")  # noqa: B009  (added at run time by torch_neuron)
    compiled = neuron.trace(model, inputs, compiler_args=list(CONFIG["compiler_args"]))
    path = "model_neuron.pt"
    compiled.save(path)
    copies = [compiled] + [torch.jit.load(path) for _ in range(len(CONFIG["copies"]) - 1)]
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
    return {
        "backend": "inferentia",
        "throughput": len(latencies) * CONFIG["batch_size"] / elapsed,
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

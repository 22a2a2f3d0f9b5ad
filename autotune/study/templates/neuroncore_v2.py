#!/usr/bin/env python3
"""Serve a NeuronCore-v2 (inf2, trn1) deployment exported by autotune.

On an inf2 or trn1 instance with torch-neuronx, this traces the model with the exported compiler
arguments and serves it with ``torch_neuronx.DataParallel`` (one copy per visible core, worker
threads each) or, with ``--processes``, one process pinned to each core through
``NEURON_RT_VISIBLE_CORES``. Elsewhere it runs the same deployment on autotune's emulator: the
compiled model really runs once with its auto-cast emulated, and the load is simulated.

    python deploy.py [--requests N] [--processes] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
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
    import transformers

    auto = (
        transformers.AutoModelForQuestionAnswering
        if CONFIG["task"] == "question-answering"
        else transformers.AutoModelForSequenceClassification
    )
    return auto.from_pretrained(CONFIG["model"], torchscript=True).eval()


def closed_loop(call: Callable[[], Any], clients: int, requests: int) -> dict[str, Any]:
    """Each client thread sends its next request when the previous one returns."""
    latencies: list[float] = []
    lock = threading.Lock()

    def client() -> None:
        for _ in range(max(1, requests // clients)):
            started = time.perf_counter()
            call()
            with lock:
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "throughput": len(latencies) * CONFIG["batch_size"] / elapsed,
        "latency_ms": {
            "p50": latencies[len(latencies) // 2] * 1e3,
            "p95": latencies[int(len(latencies) * 0.95)] * 1e3,
        },
    }


def serve_on_neuron(requests: int, pinned_core: int | None = None) -> dict[str, Any]:
    # The runtime reads its cores when torch_neuronx loads: set them first.
    copies = CONFIG["copies"]
    os.environ.update(copies[pinned_core] if pinned_core is not None else CONFIG["environment"])
    import torch
    import torch_neuronx

    model, inputs = load_model(), example_inputs()
    traced = torch_neuronx.trace(model, inputs, compiler_args=CONFIG["compiler_args"])
    if pinned_core is None and len(copies) > 1:  # one copy per visible core, worker threads each
        traced = torch_neuronx.DataParallel(traced)
    workers = CONFIG["knobs"].get("workers_per_copy", 2)
    clients = workers * (1 if pinned_core is not None else len(copies))
    with torch.no_grad():
        report = closed_loop(lambda: traced(*inputs), clients, requests)
    return report | {"backend": "neuron"}


def serve_processes(requests: int) -> dict[str, Any]:
    """One process per copy, each pinned to its own core; throughputs add up."""
    n = len(CONFIG["copies"])
    command = [sys.executable, __file__, "--json", "--requests", str(requests // n)]
    runs = [
        subprocess.Popen([*command, "--core", str(core)], stdout=subprocess.PIPE)
        for core in range(n)
    ]
    reports = [json.loads(run.communicate()[0]) for run in runs]
    return {
        "backend": "neuron",
        "throughput": sum(r["throughput"] for r in reports),
        "latency_ms": max((r["latency_ms"] for r in reports), key=lambda r: r["p95"]),
    }


def serve_on_emulator(requests: int) -> dict[str, Any]:
    from autotune.catalog import get_instance
    from autotune.emulator import Verifier, compile_model
    from autotune.evaluation import evaluate
    from autotune.hardware import generation_of
    from autotune.models import resolve_model
    from autotune.values import Deployment, Experiment, Workload

    workload = Workload(CONFIG["model"], CONFIG["task"], CONFIG["seq_len"], CONFIG["batch_size"])
    deployment = Deployment.from_dict({"instance_type": CONFIG["instance_type"], **CONFIG["knobs"]})
    source = resolve_model(workload.model, workload.task)
    instance = get_instance(deployment.instance_type)
    resolved = generation_of(instance).resolve(instance, deployment)
    plan = compile_model(source, workload, instance, resolved).plan
    load = exported_load(requests)
    result = evaluate(Experiment(workload, deployment, load)).result
    return {
        "backend": "autotune-emulator",
        "throughput": result.throughput,
        "latency_ms": result.latency.to_dict(),
        "precision": plan.precision,
        "max_abs_error": Verifier(source).error(plan),  # the compiled model really runs once
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the exported deployment.")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument(
        "--processes",
        action="store_true",
        help="one process pinned per core instead of torch_neuronx.DataParallel",
    )
    parser.add_argument("--core", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    try:
        import torch_neuronx  # noqa: F401
    except ImportError:
        report = serve_on_emulator(args.requests)
    else:
        if args.core is not None:
            report = serve_on_neuron(args.requests, pinned_core=args.core)
        elif args.processes:
            report = serve_processes(args.requests)
        else:
            report = serve_on_neuron(args.requests)
    report["expected"] = CONFIG["expected"]
    if args.json:
        print(json.dumps(report))
        return
    expected = CONFIG["expected"]
    print(
        f"{CONFIG['instance_type']} ({report['backend']}): {report['throughput']:.1f} seq/s, "
        f"p50 {report['latency_ms']['p50']:.2f} ms (expected "
        f"{expected['throughput_seq_per_s']:.1f} seq/s, p50 {expected['latency_ms']['p50']:.2f} ms)"
    )


if __name__ == "__main__":
    main()

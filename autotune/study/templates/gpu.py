#!/usr/bin/env python3
"""Serve a deployment exported by autotune on a GPU instance, with its serving stack.

With CUDA available, this builds the model for the exported stack (``torchscript-amp``: traced
with TorchScript, run under AMP autocast, as the AWS blog; ``torchscript-fp16``: an FP16 model
traced; ``eager-fp32``: plain PyTorch; ``tensorrt-fp16`` / ``tensorrt-int8``: compiled with
Torch-TensorRT) and serves closed-loop clients. Without a GPU it runs the load test on
autotune's emulator (autotune must be installed).

    python deploy.py [--requests N] [--json]
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from typing import Any

CONFIG: dict[str, Any] = {}  # autotune export writes the deployment here


def example_inputs(device: str, vocab: int = 1000) -> tuple[Any, ...]:
    import torch

    shape = (CONFIG["batch_size"], CONFIG["seq_len"])
    ids = torch.randint(5, vocab, shape, generator=torch.Generator().manual_seed(0)).to(device)
    tensors = {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "token_type_ids": torch.zeros_like(ids),
    }
    return tuple(tensors[name] for name in CONFIG["input_names"])


def build(stack: str, inputs: tuple[Any, ...]) -> Any:
    """The model as the stack serves it."""
    import torch
    import transformers

    auto = (
        transformers.AutoModelForQuestionAnswering
        if CONFIG["task"] == "question-answering"
        else transformers.AutoModelForSequenceClassification
    )
    model = auto.from_pretrained(CONFIG["model"], torchscript=True).eval().cuda()
    with torch.no_grad():
        if stack == "eager-fp32":
            return model
        if stack == "torchscript-fp16":
            return torch.jit.trace(model.half(), inputs)
        if stack.startswith("tensorrt"):
            import torch_tensorrt

            precision = {torch.int8 if stack == "tensorrt-int8" else torch.half}
            return torch_tensorrt.compile(model, inputs=list(inputs), enabled_precisions=precision)
        with torch.autocast("cuda", dtype=torch.float16):  # torchscript-amp, the blog's
            return torch.jit.trace(model, inputs)


def serve_on_gpu(requests: int) -> dict[str, Any]:
    import torch

    stack = CONFIG["knobs"].get("stack", "torchscript-amp")
    inputs = example_inputs("cuda")
    served = build(stack, inputs)
    latencies: list[float] = []
    lock = threading.Lock()
    clients = CONFIG["concurrency"]

    def client() -> None:
        for _ in range(max(1, requests // clients)):
            started = time.perf_counter()
            with torch.no_grad(), torch.autocast("cuda", enabled=stack == "torchscript-amp"):
                served(*inputs)
            torch.cuda.synchronize()
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
        "backend": f"cuda ({stack})",
        "throughput": len(latencies) * CONFIG["batch_size"] / elapsed,
        "latency_ms": {
            "p50": latencies[len(latencies) // 2] * 1e3,
            "p95": latencies[int(len(latencies) * 0.95)] * 1e3,
        },
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


def serve_on_emulator(requests: int) -> dict[str, Any]:
    from autotune.evaluation import evaluate
    from autotune.values import Deployment, Experiment, Workload

    deployment = Deployment.from_dict({"instance_type": CONFIG["instance_type"], **CONFIG["knobs"]})
    workload = Workload(CONFIG["model"], CONFIG["task"], CONFIG["seq_len"], CONFIG["batch_size"])
    load = exported_load(requests)
    result = evaluate(Experiment(workload, deployment, load)).flat()
    return {
        "backend": "autotune-emulator",
        "throughput": result["throughput"],
        "latency_ms": result["latency_ms"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the exported deployment.")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    try:
        import torch

        cuda = torch.cuda.is_available()
    except ImportError:
        cuda = False
    report = serve_on_gpu(args.requests) if cuda else serve_on_emulator(args.requests)
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

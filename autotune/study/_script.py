"""The template of ``autotune export --format script``: a program that serves the deployment."""

SCRIPT = '''#!/usr/bin/env python3
"""Serve a deployment exported by autotune.

On an inf1 instance with torch-neuron installed, this compiles the model with the exported
compiler arguments, loads one copy per NeuronCore group and serves closed-loop clients. Where
torch-neuron is absent it runs the same steps on autotune's emulated Inferentia (autotune must be
installed): the compiled stages really run, and the load test is simulated.

    python deploy.py [--requests N] [--json]
"""

import argparse
import json
import os
import threading
import time

CONFIG = __CONFIG__


def example_inputs(vocab=1000):
    import torch

    shape = (CONFIG["batch_size"], CONFIG["seq_len"])
    ids = torch.randint(5, vocab, shape, generator=torch.Generator().manual_seed(0))
    tensors = {"input_ids": ids, "attention_mask": torch.ones_like(ids),
               "token_type_ids": torch.zeros_like(ids)}
    return tuple(tensors[name] for name in CONFIG["input_names"])


def set_runtime_environment():
    # Before the runtime starts: groups for Neuron < 1.20, and the first copy's visible cores.
    if CONFIG["neuroncore_group_sizes"]:
        os.environ.setdefault("NEURONCORE_GROUP_SIZES", CONFIG["neuroncore_group_sizes"])


def serve_on_inferentia(model, inputs, requests):
    import torch
    import torch_neuron  # noqa: F401  (registers torch.neuron)

    compiled = torch.neuron.trace(model, inputs, compiler_args=list(CONFIG["compiler_args"]))
    copies = [compiled] + [torch.jit.load(_save(compiled)) for _ in
                           range(len(CONFIG["neuron_rt_visible_cores"]) - 1)]
    latencies, lock = [], threading.Lock()
    per_client = max(1, requests // CONFIG["concurrency"])

    def client(index):
        model_copy = copies[index % len(copies)]
        for _ in range(per_client):
            started = time.perf_counter()
            model_copy(*inputs)
            with lock:
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(CONFIG["concurrency"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"backend": "inferentia",
            "throughput": len(latencies) * CONFIG["batch_size"] / elapsed,
            "latency_ms": {"p50": latencies[len(latencies) // 2] * 1e3,
                           "p95": latencies[int(len(latencies) * 0.95)] * 1e3}}


def _save(compiled):
    path = "model_neuron.pt"
    compiled.save(path)
    return path


def serve_on_emulator(model, inputs, requests):
    import autotune.neuron
    from autotune.bench import BenchConfig, run_bench
    from autotune.emulator import CompileCache

    report = {"backend": "autotune-emulator"}
    if CONFIG["compiler_args"]:  # inf1: compile and really run the stages once
        compiled = autotune.neuron.trace(model, inputs,
                                         compiler_args=list(CONFIG["compiler_args"]))
        outputs = compiled(*inputs)
        report["output_shape"] = list(outputs.to_tuple()[0].shape)
        report["stages"] = len(compiled.plan.stages)
    groups = CONFIG["neuroncore_group_sizes"]
    result = run_bench(BenchConfig(
        instance_type=CONFIG["instance_type"], batch_size=CONFIG["batch_size"],
        pipeline_cores=CONFIG["pipeline_cores"], model=CONFIG["model"], task=CONFIG["task"],
        group_sizes=tuple(int(g) for g in groups.split(",")) if groups else None,
        seq_len=CONFIG["seq_len"], concurrency=CONFIG["concurrency"], requests=requests,
    ), CompileCache()).to_dict()
    report.update(throughput=result["throughput"], latency_ms=result["latency_ms"])
    return report


def load_model():
    if os.path.isdir(CONFIG["model"]):
        from autotune.models import build_model, resolve_model

        return build_model(resolve_model(CONFIG["model"], CONFIG["task"]))
    try:
        import torch_neuron  # noqa: F401
    except ImportError:
        from autotune.models import build_model, resolve_model  # offline: preset architecture

        return build_model(resolve_model(CONFIG["model"], CONFIG["task"]))
    import transformers

    auto = (transformers.AutoModelForQuestionAnswering if CONFIG["task"] == "question-answering"
            else transformers.AutoModelForSequenceClassification)
    return auto.from_pretrained(CONFIG["model"], torchscript=True).eval()


def main():
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
    else:  # a real inf1 (the GPU baseline is served by its own stack, not by this script)
        report = serve_on_inferentia(model, inputs, args.requests)
    report["expected"] = CONFIG["expected"]
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{CONFIG['instance_type']} ({report['backend']}): "
              f"{report['throughput']:.1f} seq/s, p95 {report['latency_ms']['p95']:.2f} ms "
              f"(expected {CONFIG['expected']['throughput_seq_per_s']:.1f} seq/s, "
              f"p95 {CONFIG['expected']['latency_ms']['p95']:.2f} ms)")


if __name__ == "__main__":
    main()
'''

"""The torch-neuronx program an inf2/trn1 deployment exports (``autotune export --format script``).

``script(evaluation)`` fills the template with an evaluation's ``to_dict()``: the workload, the
deployment, the load and the generation's settings (compiler arguments, environment). On an inf2
or trn1 with torch-neuronx the program traces the model with the exported compiler arguments and
serves it with ``torch_neuronx.DataParallel`` (or, with ``--processes``, one process pinned to each
core through ``NEURON_RT_VISIBLE_CORES``); elsewhere it runs the same deployment on autotune's
emulator: the compiled model really runs once with its auto-cast emulated, and the load is
simulated.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

TEMPLATE = '''#!/usr/bin/env python3
"""Serve a NeuronCore-v2 (inf2/trn1) deployment exported by autotune.

    python deploy.py [--requests N] [--processes] [--json]
"""

import argparse
import inspect
import json
import os
import subprocess
import sys
import threading
import time

EVALUATION = json.loads(__EVALUATION__)
WORKLOAD, SETTINGS = EVALUATION["workload"], EVALUATION["settings"]
COPIES, WORKERS = len(SETTINGS["copies"]), SETTINGS["workers_per_copy"]


def example_inputs(uses_token_type_ids=True, vocab=1000):
    import torch

    shape = (WORKLOAD["batch_size"], WORKLOAD["seq_len"])
    ids = torch.randint(5, vocab, shape, generator=torch.Generator().manual_seed(0))
    inputs = (ids, torch.ones_like(ids))
    return inputs + ((torch.zeros_like(ids),) if uses_token_type_ids else ())


def load_model():
    import transformers

    auto = (transformers.AutoModelForQuestionAnswering
            if WORKLOAD["task"] == "question-answering"
            else transformers.AutoModelForSequenceClassification)
    return auto.from_pretrained(WORKLOAD["model"], torchscript=True).eval()


def closed_loop(call, clients, requests):
    """Each client thread sends its next request when the previous one returns."""
    latencies, lock = [], threading.Lock()

    def client():
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
    return {"throughput": len(latencies) * WORKLOAD["batch_size"] / elapsed,
            "latency_ms": {"p50": latencies[len(latencies) // 2] * 1e3,
                           "p95": latencies[int(len(latencies) * 0.95)] * 1e3}}


def serve_on_neuron(requests, pinned_core=None):
    # The runtime reads its cores when torch_neuronx loads: set them first.
    env = SETTINGS["copies"][pinned_core] if pinned_core is not None else SETTINGS["environment"]
    os.environ.update(env)
    import torch
    import torch_neuronx

    model = load_model()
    inputs = example_inputs("token_type_ids" in inspect.signature(model.forward).parameters)
    traced = torch_neuronx.trace(model, inputs, compiler_args=SETTINGS["compiler_args"])
    if pinned_core is None and COPIES > 1:  # one copy per visible core, worker threads each
        traced = torch_neuronx.DataParallel(traced)
    clients = WORKERS * (1 if pinned_core is not None else COPIES)
    with torch.no_grad():
        report = closed_loop(lambda: traced(*inputs), clients, requests)
    return report | {"backend": "neuron"}


def serve_processes(requests):
    """One process per copy, each pinned to its own core; throughputs add up."""
    runs = [subprocess.Popen([sys.executable, __file__, "--core", str(core), "--json",
                              "--requests", str(requests // COPIES)], stdout=subprocess.PIPE)
            for core in range(COPIES)]
    reports = [json.loads(run.communicate()[0]) for run in runs]
    return {"backend": "neuron", "throughput": sum(r["throughput"] for r in reports),
            "latency_ms": max((r["latency_ms"] for r in reports), key=lambda r: r["p95"])}


def serve_on_emulator(requests):
    from autotune.emulator import Verifier, compile_model
    from autotune.evaluation import evaluate
    from autotune.catalog import get_instance
    from autotune.hardware import generation_of
    from autotune.models import resolve_model
    from autotune.values import Deployment, Experiment, Load, Workload

    workload = Workload.from_dict(WORKLOAD)
    deployment = Deployment.from_dict(EVALUATION["deployment"])
    load = Load.from_dict(EVALUATION["load"] | {"requests": requests})
    source = resolve_model(workload.model, workload.task)
    instance = get_instance(deployment.instance_type)
    resolved = generation_of(instance).resolve(instance, deployment)
    plan = compile_model(source, workload, instance, resolved).plan
    result = evaluate(Experiment(workload, deployment, load)).result
    return {"backend": "autotune-emulator", "throughput": result.throughput,
            "latency_ms": result.latency.to_dict(), "precision": plan.precision,
            # The traced model really runs once, its auto-cast emulated.
            "max_abs_error": Verifier(source).error(plan)}


def main():
    parser = argparse.ArgumentParser(description="Serve the exported deployment.")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--processes", action="store_true",
                        help="one process pinned per core instead of torch_neuronx.DataParallel")
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
    report["expected"] = {"throughput": EVALUATION["result"]["throughput"],
                          "latency_ms": EVALUATION["result"]["latency_ms"]}
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{EVALUATION['deployment']['instance_type']} ({report['backend']}): "
              f"{report['throughput']:.1f} seq/s, p50 {report['latency_ms']['p50']:.2f} ms "
              f"(expected {report['expected']['throughput']:.1f} seq/s)")


if __name__ == "__main__":
    main()
'''


def script(evaluation: Mapping[str, Any]) -> str:
    """The program serving an evaluated inf2/trn1 deployment (``Evaluation.to_dict()``)."""
    return TEMPLATE.replace("__EVALUATION__", repr(json.dumps(dict(evaluation))))

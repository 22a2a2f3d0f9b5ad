"""Emulator commands: catalog, compile, bench, validate."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from autotune.catalog import DEFAULT_PRICE_SET, load_instances, load_price_sets
from autotune.cli._app import AsJson, Batch, Instance, Model, SeqLen, Task, app, emit, emit_list
from autotune.cli._format import table
from autotune.cli._knobs import (
    AutoCast,
    AutoCastType,
    Concurrency,
    Copies,
    GroupSizes,
    PipelineCores,
    Stack,
    WorkersPerCopy,
    deployment_of,
)
from autotune.values import DEFAULT_MODEL, DEFAULT_TASK


@app.command()
def catalog(as_json: AsJson = False) -> None:
    """List instance types, their hardware and hourly prices in every price set."""
    sets = load_price_sets()
    rows: list[dict[str, Any]] = []
    for inst in load_instances().values():
        acc = inst.accelerator
        rows.append(
            {
                "instance_type": inst.name,
                "accelerator": acc.name,
                "generation": acc.generation,
                "chips": inst.chips,
                "cores": inst.cores,
                "vcpus": inst.vcpus,
                "device_memory_gib": inst.chips * acc.dram_bytes_per_chip / 2**30,
                "prices": {s.name: s.prices.get(inst.name) for s in sets.values()},
            }
        )
    if as_json:
        emit({"instances": rows, "price_sets": {s.name: s.source for s in sets.values()}})
        return
    headers = ["instance", "accelerator", "chips", "cores", "vCPUs", "device GiB"]
    headers += [f"$/h {name}" for name in sets]
    body = [
        [
            r["instance_type"],
            r["accelerator"],
            r["chips"],
            r["cores"],
            r["vcpus"],
            f"{r['device_memory_gib']:.0f}",
            *("-" if p is None else f"{p:.3f}" for p in r["prices"].values()),
        ]
        for r in rows
    ]
    typer.echo(table(headers, body))
    for s in sets.values():
        default = " (default)" if s.name == DEFAULT_PRICE_SET else ""
        typer.echo(f"\n{s.name}{default}: {s.description}. Source: {s.source}")


@app.command("compile")
def compile_(
    model: Model = DEFAULT_MODEL,
    task: Task = DEFAULT_TASK,
    seq_len: SeqLen = 128,
    batch_size: Batch = 1,
    pipeline_cores: PipelineCores = None,
    auto_cast: AutoCast = None,
    auto_cast_type: AutoCastType = None,
    instance: Instance = "inf1.xlarge",
    verify: Annotated[
        bool, typer.Option(help="Run the compiled stages on CPU and compare with the eager model")
    ] = True,
    as_json: AsJson = False,
) -> None:
    """Compile a model for an instance and print its stage table."""
    from autotune.cli._compile import compile_report

    deployment = deployment_of(
        instance, pipeline_cores=pipeline_cores, auto_cast=auto_cast, auto_cast_type=auto_cast_type
    )
    report = compile_report(model, task, seq_len, batch_size, deployment, verify)
    if as_json:
        emit(report.to_dict())
    else:
        typer.echo(report.render())


@app.command()
def bench(
    instance: Instance = "inf1.xlarge",
    batch_size: Batch = 1,
    pipeline_cores: PipelineCores = None,
    group_sizes: GroupSizes = None,
    copies: Copies = None,
    workers_per_copy: WorkersPerCopy = None,
    auto_cast: AutoCast = None,
    auto_cast_type: AutoCastType = None,
    stack: Stack = None,
    model: Model = DEFAULT_MODEL,
    task: Task = DEFAULT_TASK,
    seq_len: SeqLen = 128,
    concurrency: Concurrency = None,
    requests: Annotated[int, typer.Option(help="Requests to simulate")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the simulated jitter")] = 0,
    price_set: Annotated[str, typer.Option(help="Named price set")] = DEFAULT_PRICE_SET,
    as_json: AsJson = False,
) -> None:
    """Compile, deploy and load-test one configuration on the emulator."""
    # Long: Typer reads one option per parameter off this signature; the body is short.
    from autotune.emulator import CompileCache
    from autotune.evaluation import evaluate
    from autotune.values import Experiment, Load, Workload

    experiment = Experiment(
        Workload(model, task, seq_len, batch_size),
        deployment_of(
            instance,
            pipeline_cores=pipeline_cores,
            group_sizes=group_sizes,
            copies=copies,
            workers_per_copy=workers_per_copy,
            auto_cast=auto_cast,
            auto_cast_type=auto_cast_type,
            stack=stack,
        ),
        Load(concurrency=concurrency, requests=requests, seed=seed),
        price_set,
    )
    evaluation = evaluate(experiment, CompileCache())
    out = evaluation.flat()
    if as_json:
        emit(out)
        return
    from autotune.study.read import knobs_text, plural

    lat = out["latency_ms"]
    deployment = evaluation.deployment
    typer.echo(
        f"{out['instance_type']}  {out['model']} ({out['task']}, seq {out['seq_len']})\n"
        f"batch {out['batch_size']}, {knobs_text(deployment)} "
        f"({out['mode']}), {plural(out['concurrency'], 'client')}, {out['requests']} requests\n"
        f"throughput   {out['throughput']:.1f} seq/s\n"
        f"latency ms   p50 {lat['p50']:.2f}  p95 {lat['p95']:.2f}  p99 {lat['p99']:.2f}  "
        f"mean {lat['mean']:.2f}\n"
        f"cost         ${out['cost_per_hour_usd']:.3f}/h, ${out['cost_per_1m_usd']:.4f} per 1M "
        f"inferences ({out['price_set']})\n"
        f"bottleneck   {out['bottleneck']}: {out['bottleneck_detail']}"
    )


@app.command()
def validate(
    requests: Annotated[int, typer.Option(help="Requests simulated per row")] = 1000,
    cv: Annotated[
        bool,
        typer.Option(
            "--cv",
            help="Leave one source out: refit without it and predict it (about 20 minutes)",
        ),
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Every public measurement beside the emulator's prediction, grouped by source."""
    from autotune.cli._validate import conclusions, table_text
    from autotune.evaluation import check_load
    from autotune.reference import cross_validation, validate_rows, validation_table
    from autotune.values import Load

    check_load(Load(requests=requests))
    if cv:
        progress = None if as_json else (lambda line: typer.echo(line, err=True))
        rows = cross_validation(requests=min(requests, 300), progress=progress)
    else:
        rows = validation_table(requests=requests)
    if as_json:
        emit_list([r.to_dict() for r in rows])
        return
    typer.echo(table_text(rows, left_out=cv))
    if not cv:
        typer.echo("\n" + conclusions(validate_rows(requests)))

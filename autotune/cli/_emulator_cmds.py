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
    MaxBatchDelayMs,
    PipelineCores,
    Qps,
    SequencesPerRequest,
    Stack,
    Traffic,
    WorkersPerCopy,
    deployment_of,
    load_of,
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
    traffic: Traffic = None,
    qps: Qps = None,
    max_batch_delay_ms: MaxBatchDelayMs = None,
    sequences_per_request: SequencesPerRequest = None,
    requests: Annotated[int, typer.Option(help="Requests to simulate")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the simulated jitter")] = 0,
    price_set: Annotated[str, typer.Option(help="Named price set")] = DEFAULT_PRICE_SET,
    as_json: AsJson = False,
) -> None:
    """Compile, deploy and load-test one configuration on the emulator (closed loop, or open
    loop at --qps with server-side batching)."""
    # Long: Typer reads one option per parameter off this signature; the body is short.
    from autotune.emulator import CompileCache
    from autotune.evaluation import evaluate
    from autotune.values import Experiment, Workload

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
        load_of(
            traffic,
            qps=qps,
            concurrency=concurrency,
            max_batch_delay_ms=max_batch_delay_ms,
            sequences_per_request=sequences_per_request,
            requests=requests,
            seed=seed,
        ),
        price_set,
    )
    evaluation = evaluate(experiment, CompileCache())
    out = evaluation.flat()
    if as_json:
        emit(out)
        return
    typer.echo(_measured_text(evaluation, out))


def _measured_text(evaluation: Any, out: dict[str, Any]) -> str:
    """What ``bench`` prints: the deployment under its load, then what it measured."""
    lat = out["latency_ms"]
    return (
        f"{_deployment_text(evaluation, out)}\n"
        f"throughput   {out['throughput']:.1f} seq/s\n"
        f"latency ms   p50 {lat['p50']:.2f}  p95 {lat['p95']:.2f}  p99 {lat['p99']:.2f}  "
        f"mean {lat['mean']:.2f}\n"
        f"cost         ${out['cost_per_hour_usd']:.3f}/h, ${out['cost_per_1m_usd']:.4f} per 1M "
        f"inferences ({out['price_set']})\n"
        f"bottleneck   {out['bottleneck']}: {out['bottleneck_detail']}"
    )


def _deployment_text(evaluation: Any, out: dict[str, Any]) -> str:
    """The deployment, its load and (open loop) its batches, as ``bench`` and ``capacity``
    print them above their figures."""
    from autotune.study.read import knobs_text, plural

    load = evaluation.load
    if load.open_loop:
        how = f"{load.traffic_text()}, batch delay {load.max_batch_delay_ms:g} ms"
        extra = (
            f"batches      {out['mean_batch']:.2f} requests each; the instance carries at most "
            f"{out['saturation_throughput']:.1f} seq/s at full batches\n"
        )
        if out["offered_qps"] * load.sequences_per_request > out["saturation_throughput"]:
            extra += (
                "overloaded   more arrives than the instance carries: the queue grows for as "
                "long as the run lasts, and so does the latency\n"
            )
    else:
        how, extra = plural(out["concurrency"], "client"), ""
    return (
        f"{out['instance_type']}  {out['model']} ({out['task']}, seq {out['seq_len']})\n"
        f"batch {out['batch_size']}, {knobs_text(evaluation.deployment)} "
        f"({out['mode']}), {how}, {out['requests']} requests\n"
        f"{extra}"
    ).rstrip("\n")


# Long: Typer declares every flag in the signature; the body is short.
@app.command()
def capacity(
    max_p95_ms: Annotated[float, typer.Option(help="The latency SLO: p95 at most this, ms")],
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
    max_batch_delay_ms: MaxBatchDelayMs = None,
    sequences_per_request: SequencesPerRequest = None,
    requests: Annotated[int, typer.Option(help="Requests simulated per probed rate")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the arrivals and the jitter")] = 0,
    price_set: Annotated[str, typer.Option(help="Named price set")] = DEFAULT_PRICE_SET,
    as_json: AsJson = False,
) -> None:
    """One deployment's capacity under a latency SLO: the largest open-loop rate (requests/s,
    Poisson) whose p95 stays at or below --max-p95-ms, found by bisection."""
    from autotune.emulator import CompileCache
    from autotune.evaluation import capacity as capacity_of
    from autotune.values import Experiment, Workload

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
        load_of(
            "open-loop",
            qps=1.0,
            concurrency=None,
            max_batch_delay_ms=max_batch_delay_ms,
            sequences_per_request=sequences_per_request,
            requests=requests,
            seed=seed,
        ),
        price_set,
    )
    evaluation = capacity_of(experiment, max_p95_ms, CompileCache())
    out = {**evaluation.flat(), "max_p95_ms": max_p95_ms}
    if as_json:
        emit(out)
        return
    lat = out["latency_ms"]
    verdict = (
        f"capacity     {out['capacity_qps']:.1f} requests/s with p95 <= {max_p95_ms:g} ms "
        f"(p95 there {lat['p95']:.2f} ms, p50 {lat['p50']:.2f} ms)"
        if out["capacity_qps"] > 0
        else f"capacity     none: even at light load p95 is {lat['p95']:.2f} ms "
        f"(above {max_p95_ms:g} ms)"
    )
    typer.echo(_deployment_text(evaluation, out) + "\n" + verdict)
    if out["capacity_qps"] == 0:
        raise typer.Exit(1)


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

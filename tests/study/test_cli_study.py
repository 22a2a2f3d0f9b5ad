"""The study commands end to end, in-process: ``study --json`` for every objective, ``studies``,
``trials``, ``best``, ``export`` in every format (the exported script really runs), and one
``error:`` line with exit code 2, and no study written, for every bad input."""

from __future__ import annotations

import ast
import json
import math
import os
import shlex
import subprocess
import sys
from importlib import resources
from pathlib import Path

import optuna
import pytest
import yaml

from autotune import __version__
from autotune.hardware import emulator_version
from autotune.study.read import render, spec_from_record
from autotune.values import TrialRecord
from storage import ResultStore
from tests.study.helpers import (
    MINILM,
    SMALL,
    CliRunner,
    Run,
    assert_one_error_line,
    run_cli,
    sqlite_url,
    study_names,
)

ROW_KEYS = {
    "trial_number",
    "instance_type",
    "batch_size",
    "pipeline_cores",
    "group_sizes",
    "throughput",
    "latency_ms",
    "cost_per_1m_usd",
    "cost_per_hour_usd",
}


def check_row(row: dict) -> None:
    assert row.keys() >= ROW_KEYS
    assert set(row["latency_ms"]) == {"p50", "p95", "p99", "mean"}
    lat = row["latency_ms"]
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"]
    assert row["throughput"] > 0 and row["cost_per_hour_usd"] > 0
    if row["traffic"]["kind"] == "open-loop":  # the fleet's cost at the traffic
        fleet_per_hour = row["fleet_size"] * row["cost_per_hour_usd"]
        expected = fleet_per_hour / (row["traffic"]["qps"] * 3600) * 1e6
    else:
        expected = row["cost_per_hour_usd"] / (row["throughput"] * 3600) * 1e6
    assert row["cost_per_1m_usd"] == pytest.approx(expected, rel=1e-3)
    assert sum(row["group_sizes"]) <= 4 and set(row["group_sizes"]) == {row["pipeline_cores"]}


# --- study --json for each objective -------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["min-latency", "max-throughput", "min-cost", "pareto"])
def test_study_json_for_each_objective(autotune_cli, tmp_path, objective):
    url = sqlite_url(tmp_path)
    run = autotune_cli(
        "study", *SMALL, "--objective", objective, "--trials", "4", "--storage", url, "--json"
    )
    assert run.code == 0, run.err
    out = run.json()
    assert out["objective"] == objective and out["n_trials"] == 4
    assert out["study_name"] == study_names(url)[0]
    assert isinstance(out["best"], list) and out["best"]
    for row in out["best"]:
        check_row(row)
    if objective != "pareto":
        assert len(out["best"]) == 1
        return
    records = ResultStore(url).records(out["study_name"])
    points = {(r.latency.p95_ms, r.cost.per_1m_usd) for r in records}
    front = {
        (r.latency.p95_ms, r.cost.per_1m_usd)
        for r in records
        if r.trial_number in {row["trial_number"] for row in out["best"]}
    }
    non_dominated = {
        a for a in points if not any(b[0] <= a[0] and b[1] <= a[1] and b != a for b in points)
    }
    assert front == non_dominated


@pytest.mark.slow
def test_study_text_output(autotune_cli, tmp_path):
    run = autotune_cli("study", *SMALL, "--trials", "2", "--storage", sqlite_url(tmp_path))
    assert run.code == 0, run.err
    assert "recommendation:" in run.out and "--neuroncore-pipeline-cores" in run.out
    assert "NEURONCORE_GROUP_SIZES=" in run.out


@pytest.mark.slow
def test_default_storage_is_autotune_db_in_the_working_directory(autotune_cli, tmp_path):
    run = autotune_cli("study", *SMALL, "--trials", "1", "--json")
    assert run.code == 0, run.err
    assert (tmp_path / "autotune.db").is_file()
    assert run.json()["storage"] == f"sqlite:///{tmp_path / 'autotune.db'}"


# --- a shared study for the read-side commands ---------------------------------------------------


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Path:
    """A storage with study 'lat' (8 TPE trials) and study 'none' (its one trial fails)."""
    root = tmp_path_factory.mktemp("shared")
    url = sqlite_url(root)
    lat = run_cli(root, "study", *SMALL, "--trials", "8", "--study-name", "lat", "--storage", url)
    assert lat.code == 0, lat.err
    # all-MiniLM at 512 x 1024 on a 4-core pipeline needs 24 GiB of an 8 GiB chip: the only
    # candidate cannot deploy (the functional check is never reached, so this is quick).
    none = run_cli(
        root,
        "study",
        "--model",
        MINILM,
        "--seq-len",
        "512",
        "--batch-sizes",
        "1024",
        "--pipeline-cores",
        "4",
        "--instances",
        "inf1.xlarge",
        "--sampler",
        "grid",
        "--trials",
        "1",
        "--study-name",
        "none",
        "--storage",
        url,
    )
    assert none.code == 1 and "no feasible config" in none.err, none.err
    return root


@pytest.fixture(scope="module")
def lat_records(shared: Path) -> list[TrialRecord]:
    return ResultStore(sqlite_url(shared)).records("lat")


def in_shared(shared: Path, *args: str) -> Run:
    return run_cli(shared, *args, "--storage", sqlite_url(shared))


@pytest.mark.slow
def test_studies_lists_both(shared):
    run = in_shared(shared, "studies", "--json")
    assert run.code == 0, run.err
    rows = {row["study_name"]: row for row in run.json()["studies"]}
    assert set(rows) == {"lat", "none"}
    assert (rows["lat"]["objective"], rows["lat"]["n_trials"], rows["lat"]["n_failed"]) == (
        "min-latency",
        8,
        0,
    )
    check_row(rows["lat"]["best"])
    assert (rows["none"]["n_trials"], rows["none"]["n_failed"], rows["none"]["best"]) == (
        1,
        1,
        None,
    )
    text = in_shared(shared, "studies")
    assert text.code == 0 and "lat" in text.out and "none" in text.out


@pytest.mark.slow
def test_every_command_reads_the_storage_from_the_environment(autotune_cli, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    url = sqlite_url(elsewhere, "env.db")
    run = autotune_cli("study", *SMALL, "--trials", "1", "--study-name", "e", "--json")
    assert run.code == 0, run.err  # no --storage, no variable: autotune.db here
    monkeypatch.setenv("AUTOTUNE_STORAGE", url)
    run = autotune_cli("study", *SMALL, "--trials", "1", "--study-name", "e", "--json")
    assert run.code == 0, run.err
    assert run.json()["storage"] == url and study_names(url) == ["e"]
    listed = autotune_cli("studies", "--json")
    assert listed.code == 0, listed.err
    assert listed.json()["storage"] == url
    assert [row["study_name"] for row in listed.json()["studies"]] == ["e"]
    for command in (["trials"], ["best"], ["export"]):
        done = autotune_cli(*command, "--study-name", "e")
        assert done.code == 0, (command, done.err)
        # The storage's only study is taken when no --study-name is given.
        assert autotune_cli(*command).out == done.out, command
    joined = autotune_cli("worker", "--study-name", "e", "--trials", "2", "--json")
    assert joined.code == 0, joined.err
    assert (joined.json()["storage"], joined.json()["n_trials"]) == (url, 2)
    assert len(optuna.load_study(study_name="e", storage=url).trials) == 2
    # --storage still wins over the variable.
    here = autotune_cli("studies", "--storage", sqlite_url(tmp_path, "autotune.db"), "--json")
    assert [row["study_name"] for row in here.json()["studies"]] == ["e"]
    assert here.json()["storage"] != url


def test_studies_of_an_empty_storage(autotune_cli, tmp_path):
    run = autotune_cli("studies", "--storage", sqlite_url(tmp_path))
    assert run.code == 0 and run.out.startswith("no studies in")


@pytest.mark.slow
@pytest.mark.parametrize("command", ["trials", "best", "export"])
def test_without_a_study_name_several_studies_are_listed(shared, command):
    run = in_shared(shared, command)
    line = assert_one_error_line(run, "2 studies in", "give --study-name")
    assert "lat (min-latency, 8 trials)" in line and "none (min-latency, 1 trial" in line
    assert run.out == ""


@pytest.mark.slow
def test_a_worker_without_a_study_name_runs_the_queue(shared):
    # Without --study-name a worker serves the queue (`autotune serve`); this one has none.
    run = in_shared(shared, "worker", "--until-empty")
    assert run.code == 0, run.err
    assert run.err.strip() == f"worker: running queued studies of {sqlite_url(shared)} " + (
        "(stops once none is left)"
    )
    assert in_shared(shared, "worker", "--trials", "2").code == 2  # needs --study-name


@pytest.mark.parametrize("command", ["trials", "best", "export"])
def test_a_read_command_creates_no_database(autotune_cli, tmp_path, command):
    run = autotune_cli(command)
    assert not (tmp_path / "autotune.db").exists()
    assert_one_error_line(run, str(tmp_path / "autotune.db"))


@pytest.mark.slow
def test_studies_skips_studies_autotune_did_not_create(autotune_cli, tmp_path):
    url = sqlite_url(tmp_path)
    assert autotune_cli("study", *SMALL, "--trials", "1", "--storage", url).code == 0
    optuna.create_study(study_name="someone-elses", storage=url)
    run = autotune_cli("studies", "--storage", url, "--json")
    assert run.code == 0, run.err
    assert len(run.json()["studies"]) >= 1


@pytest.mark.slow
def test_trials_sorted_by_p95(shared, lat_records):
    run = in_shared(shared, "trials", "--study-name", "lat", "--sort", "p95", "--json")
    assert run.code == 0, run.err
    out = run.json()
    p95 = [row["latency_ms"]["p95"] for row in out["trials"]]
    assert len(p95) == 8 and p95 == sorted(p95)
    assert sorted(row["trial_number"] for row in out["trials"]) == list(range(8))
    assert out["failed"] == []
    # Only the recommendation's plan ran on the functional path (see test_runner.py).
    (recommended,) = in_shared(shared, "best", "--study-name", "lat", "--json").json()["best"]
    for row in out["trials"]:
        check_row(row)
        if row["trial_number"] == recommended["trial_number"]:
            assert row["numeric_error"] is not None and 0 <= row["numeric_error"] < 0.1
        else:
            assert row["numeric_error"] is None
    limited = in_shared(shared, "trials", "--study-name", "lat", "--sort", "cost", "--limit", "2")
    assert limited.code == 0 and "inf1.xlarge" in limited.out


@pytest.mark.slow
def test_negative_limit_is_refused(shared):
    run = in_shared(shared, "trials", "--study-name", "lat", "--limit", "-3")
    assert_one_error_line(run, "--limit", "-3")


@pytest.mark.slow
def test_trials_lists_what_could_not_deploy(shared):
    run = in_shared(shared, "trials", "--study-name", "none", "--json")
    assert run.code == 0, run.err
    out = run.json()
    assert out["trials"] == []
    (failed,) = out["failed"]
    assert failed["trial_number"] == 0 and "device memory" in failed["reason"]


@pytest.mark.slow
def test_best_by_another_objective(shared, lat_records):
    run = in_shared(shared, "best", "--study-name", "lat", "--objective", "min-cost", "--json")
    assert run.code == 0, run.err
    out = run.json()
    assert out["objective"] == "min-cost"
    (row,) = out["best"]
    # At the traffic: the fleet's $/h, the faster among equal fleets.
    cheapest = min(
        lat_records,
        key=lambda r: (r.cost.fleet_per_hour_usd, r.latency.p95_ms, r.trial_number),
    )
    assert row["trial_number"] == cheapest.trial_number
    own = in_shared(shared, "best", "--study-name", "lat", "--json")
    fastest = min(lat_records, key=lambda r: (r.latency.p95_ms, r.trial_number))
    assert [r["trial_number"] for r in own.json()["best"]] == [fastest.trial_number]


@pytest.mark.slow
def test_best_of_a_study_without_results_exits_1(shared):
    run = in_shared(shared, "best", "--study-name", "none")
    assert run.code == 1 and "no feasible config" in run.err


@pytest.mark.parametrize(
    "args,names",
    [
        (["trials", "--study-name", "nope"], ["'nope'", "lat", "none"]),
        (["trials", "--study-name", "lat", "--sort", "speed"], ["'speed'"]),
        (["best", "--study-name", "lat", "--objective", "fastest"], ["'fastest'"]),
        (["export", "--study-name", "nope"], ["'nope'"]),
        (["export", "--study-name", "lat", "--format", "toml"], ["'toml'", "yaml"]),
        (["export", "--study-name", "lat", "--pick", "pareto"], ["'pareto'"]),
        (["export", "--study-name", "lat", "--trial", "99"], ["trial 99"]),
        (["export", "--study-name", "none"], ["'none'", "no completed trial"]),
    ],
    ids=[
        "unknown study",
        "unknown sort",
        "unknown objective",
        "export unknown study",
        "unknown format",
        "unknown pick",
        "unknown trial",
        "no completed trial",
    ],
)
@pytest.mark.slow
def test_read_side_mistakes(shared, args, names):
    run = in_shared(shared, *args)
    assert_one_error_line(run, *names)
    assert run.out == ""


# --- export --------------------------------------------------------------------------------------


def export(shared: Path, *args: str) -> Run:
    run = in_shared(shared, "export", "--study-name", "lat", *args)
    assert run.code == 0, run.err
    return run


def visible(groups: tuple[int, ...]) -> list[str]:
    out, start = [], 0
    for g in groups:
        out.append(f"{start}-{start + g - 1}" if g > 1 else str(start))
        start += g
    return out


def check_spec(spec: dict, r: TrialRecord) -> None:
    cores, groups = r.deployment.knob("pipeline_cores"), r.deployment.knob("group_sizes")
    assert list(spec) == [
        "instance_type",
        "instance_count",
        "generation",
        "model",
        "task",
        "seq_len",
        "batch_size",
        "knobs",
        "compiler_args",
        "environment",
        "copies",
        "concurrency",
        "input_names",
        "traffic",
        "batching",
        "expected",
        "provenance",
    ]
    delay = r.evaluation.load.max_batch_delay_ms
    assert spec["traffic"] == r.evaluation.load.traffic()
    assert spec["batching"] == {
        "batch_size": r.workload.batch_size,
        "max_batch_delay_ms": delay,
        "torchserve": {"batchSize": r.workload.batch_size, "maxBatchDelay": math.ceil(delay)},
    }
    assert spec["instance_type"] == r.deployment.instance_type and spec["instance_count"] == 1
    assert spec["generation"] == "neuroncore-v1"
    assert (spec["model"], spec["task"]) == (MINILM, "question-answering")
    assert (spec["seq_len"], spec["batch_size"]) == (32, r.workload.batch_size)
    assert spec["knobs"] == {"group_sizes": list(groups), "pipeline_cores": cores}
    assert spec["compiler_args"] == ["--neuroncore-pipeline-cores", str(cores)]
    assert spec["environment"] == {"NEURONCORE_GROUP_SIZES": ",".join(map(str, groups))}
    assert spec["copies"] == [{"NEURON_RT_VISIBLE_CORES": v} for v in visible(groups)]
    assert len(spec["copies"]) == len(groups)
    assert spec["concurrency"] == r.result.concurrency
    assert spec["input_names"] == ["input_ids", "attention_mask", "token_type_ids"]  # a BERT
    expected = spec["expected"]
    assert expected["throughput_seq_per_s"] == round(r.result.throughput, 3)
    assert expected["latency_ms"] == {
        "p50": round(r.latency.p50_ms, 4),
        "p95": round(r.latency.p95_ms, 4),
        "p99": round(r.latency.p99_ms, 4),
    }
    assert expected["cost_per_1m_usd"] == round(r.cost.per_1m_usd, 6)
    assert expected["cost_per_hour_usd"] == r.cost.per_hour_usd
    assert expected["bottleneck"] == r.result.bottleneck
    assert spec["provenance"] == {
        "study": "lat",
        "trial": r.trial_number,
        "emulator_version": emulator_version(),
        "price_set": "on-demand",
        "autotune_version": __version__,
        "plan_key": r.evaluation.provenance.plan_key,
    }


def fastest(records: list[TrialRecord]) -> TrialRecord:
    return min(records, key=lambda r: (r.latency.p95_ms, r.trial_number))


@pytest.mark.slow
@pytest.mark.parametrize("fmt,load", [("yaml", yaml.safe_load), ("json", json.loads)])
def test_export_yaml_and_json(shared, lat_records, fmt, load):
    spec = load(export(shared, "--format", fmt).out)
    check_spec(spec, fastest(lat_records))


@pytest.mark.slow
def test_export_format_defaults_to_yaml(shared):
    assert export(shared).out == export(shared, "--format", "yaml").out


@pytest.mark.slow
def test_export_trial_and_pick(shared, lat_records):
    for r in lat_records[:3]:
        check_spec(
            json.loads(export(shared, "--format", "json", "--trial", str(r.trial_number)).out), r
        )
    # At the traffic: the fleet's $/h, the faster among equal fleets.
    cheapest = min(
        lat_records,
        key=lambda r: (r.cost.fleet_per_hour_usd, r.latency.p95_ms, r.trial_number),
    )
    picked = json.loads(export(shared, "--format", "json", "--pick", "min-cost").out)
    check_spec(picked, cheapest)


@pytest.mark.slow
def test_export_to_files_matches_stdout(shared, tmp_path):
    for fmt in ("yaml", "json", "env", "script"):
        target = tmp_path / f"deploy.{fmt}"
        run = export(shared, "--format", fmt, "-o", str(target))
        assert run.out == "" and f"wrote {target}" in run.err
        assert target.read_text() == export(shared, "--format", fmt).out
        assert bool(target.stat().st_mode & 0o111) == (fmt == "script")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "deploy.env",
        "deploy.json",
        "deploy.script",
        "deploy.yaml",
    ]


@pytest.mark.slow
def test_export_through_a_symlink_writes_its_target_and_keeps_the_link(shared, tmp_path):
    (tmp_path / "configs").mkdir()
    real = tmp_path / "configs" / "deploy.yaml"
    real.write_text("old\n")
    link = tmp_path / "current.yaml"
    link.symlink_to(real)
    run = export(shared, "-o", str(link))
    assert run.code == 0, run.err
    assert link.is_symlink() and link.resolve() == real
    assert real.read_text() == export(shared).out
    dangling = tmp_path / "next.yaml"
    dangling.symlink_to(tmp_path / "configs" / "new.yaml")
    assert export(shared, "-o", str(dangling)).code == 0
    assert dangling.is_symlink() and (tmp_path / "configs" / "new.yaml").is_file()


@pytest.mark.slow
def test_the_script_is_the_generations_template_with_the_spec_as_config(shared, lat_records):
    r = fastest(lat_records)
    spec = spec_from_record(r, "lat")
    script = render(spec, "script")
    assert script == export(shared, "--format", "script", "--trial", str(r.trial_number)).out
    template = resources.files("autotune.study.templates").joinpath("neuroncore_v1.py")
    text = template.read_text()
    (empty,) = [line for line in text.splitlines() if line.startswith("CONFIG")]
    assert empty.startswith("CONFIG: dict[str, Any] = {}")
    before, after = text.split(empty)
    assert script.startswith(before) and script.endswith(after)
    config = script[len(before) : len(script) - len(after)]
    name, literal = config.split(" = ", 1)
    assert name == "CONFIG: dict[str, Any]"
    assert ast.literal_eval(literal) == spec.to_dict()


@pytest.mark.slow
def test_export_env_is_sourceable(shared, lat_records, tmp_path):
    text = export(shared, "--format", "env").out
    r = fastest(lat_records)
    cores, groups = r.deployment.knob("pipeline_cores"), r.deployment.knob("group_sizes")
    exported = dict(
        shlex.split(line.removeprefix("export "))[0].split("=", 1)
        for line in text.splitlines()
        if line.startswith("export ")
    )
    assert exported == {
        "AUTOTUNE_INSTANCE_TYPE": r.deployment.instance_type,
        "AUTOTUNE_INSTANCE_COUNT": "1",
        "AUTOTUNE_MODEL": MINILM,
        "AUTOTUNE_TASK": "question-answering",
        "AUTOTUNE_BATCH_SIZE": str(r.workload.batch_size),
        "AUTOTUNE_SEQ_LEN": "32",
        "AUTOTUNE_COMPILER_ARGS": f"--neuroncore-pipeline-cores {cores}",
        "AUTOTUNE_CONCURRENCY": str(r.result.concurrency),
        "AUTOTUNE_MAX_BATCH_DELAY_MS": str(r.evaluation.load.max_batch_delay_ms),
        "AUTOTUNE_QPS": str(r.evaluation.load.qps),
        "TS_BATCH_SIZE": str(r.workload.batch_size),
        "TS_MAX_BATCH_DELAY": str(math.ceil(r.evaluation.load.max_batch_delay_ms)),
        "NEURONCORE_GROUP_SIZES": ",".join(map(str, groups)),
        "AUTOTUNE_NEURON_RT_VISIBLE_CORES": " ".join(visible(groups)),
    }
    path = tmp_path / "deploy.env"
    path.write_text(text)
    shell = subprocess.run(
        ["bash", "-c", f'. {shlex.quote(str(path))} && echo "$NEURONCORE_GROUP_SIZES"'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout.strip() == exported["NEURONCORE_GROUP_SIZES"]


@pytest.mark.slow
def test_exported_script_runs(shared, lat_records, tmp_path, cache_dir):
    path = tmp_path / "deploy.py"
    export(shared, "--format", "script", "-o", str(path))
    compile(path.read_text(), str(path), "exec")
    proc = subprocess.run(
        [sys.executable, str(path), "--requests", "200", "--json"],
        cwd=tmp_path,
        env={**os.environ, "AUTOTUNE_CACHE_DIR": str(cache_dir)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    r = fastest(lat_records)
    assert report["backend"] == "autotune-emulator"
    assert report["throughput"] > 0
    assert report["throughput"] == pytest.approx(r.result.throughput, rel=0.1)
    assert report["stages"] == r.deployment.knob("pipeline_cores")
    assert report["output_shape"] == [r.workload.batch_size, 32]
    assert report["expected"]["throughput_seq_per_s"] == round(r.result.throughput, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deploy.py"]


@pytest.mark.slow
def test_export_of_a_gpu_trial_has_no_neuron_settings(autotune_cli, tmp_path):
    url = sqlite_url(tmp_path)
    gpu = ["--instances", "g4dn.xlarge", "--batch-sizes", "2", "--study-name", "gpu"]
    run = autotune_cli("study", *SMALL, *gpu, "--trials", "1", "--storage", url, "--json")
    assert run.code == 0, run.err
    (row,) = run.json()["best"]
    assert "pipeline_cores" not in row and "group_sizes" not in row
    assert (row["mode"], row["copies"], row["stack"]) == ("gpu", 1, "torchscript-amp")
    exported = autotune_cli("export", "--study-name", "gpu", "--storage", url, "--format", "json")
    assert exported.code == 0, exported.err
    spec = json.loads(exported.out)
    assert (spec["instance_type"], spec["batch_size"], spec["generation"]) == (
        "g4dn.xlarge",
        2,
        "gpu",
    )
    assert spec["knobs"] == {"stack": "torchscript-amp"} and spec["compiler_args"] == []
    assert spec["environment"] == {} and spec["copies"] == [{}]
    env = autotune_cli("export", "--study-name", "gpu", "--storage", url, "--format", "env")
    assert "NEURON" not in env.out and "AUTOTUNE_INSTANCE_TYPE='g4dn.xlarge'" in env.out
    script = autotune_cli("export", "--study-name", "gpu", "--storage", url, "--format", "script")
    compile(script.out, "deploy.py", "exec")
    assert "neuron" not in script.out.lower() and "'generation': 'gpu'" in script.out


@pytest.mark.parametrize(
    "where",
    ["missing-dir/deploy.yaml", ".", "a-file/deploy.yaml"],
    ids=["inside a missing directory", "a directory", "inside a file"],
)
@pytest.mark.slow
def test_export_to_an_unwritable_path(shared, tmp_path, where):
    (tmp_path / "a-file").write_text("keep")
    target = tmp_path / where
    run = in_shared(shared, "export", "--study-name", "lat", "-o", str(target))
    assert_one_error_line(run, "export path")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]
    assert (tmp_path / "a-file").read_text() == "keep"


@pytest.mark.slow
def test_export_to_a_too_long_file_name(shared, tmp_path):
    target = tmp_path / ("x" * 300 + ".yaml")
    run = in_shared(shared, "export", "--study-name", "lat", "-o", str(target))
    assert_one_error_line(run, "export path")
    assert list(tmp_path.iterdir()) == []


# --- bad input to `study`: exit 2, one error line, nothing written --------------------------------


def write_spaces(directory: Path) -> None:
    (directory / "bad.yaml").write_text("instances: [inf1.xlarge\nbatch_sizes: [1]\n")
    (directory / "typo.yaml").write_text("instances: [inf1.xlarge]\nbatch_sizes: [1]\nseqlen: 8\n")


BAD = {
    "unknown objective": (["--objective", "fastest"], ["'fastest'", "min-latency"]),
    "unknown sampler": (["--sampler", "cmaes"], ["'cmaes'", "tpe"]),
    "zero trials": (["--trials", "0"], ["trials 0"]),
    "trials not a number": (["--trials", "many"], ["'many'"]),
    "batch size 0": (["--batch-sizes", "0"], ["batch_sizes"]),
    "batch size not a number": (["--batch-sizes", "a"], ["--batch-sizes", "'a'"]),
    "batch sizes with a gap": (["--batch-sizes", "1,,2"], ["--batch-sizes"]),
    "pipeline cores above the instance": (
        ["--pipeline-cores", "99"],
        ["pipeline_cores [99] fit no instance of the space", "accepted there: 1 to 4"],
    ),
    "unknown instance": (["--instances", "inf9.huge"], ["'inf9.huge'"]),
    "unknown price set": (["--price-set", "spot"], ["'spot'"]),
    "zero seq len": (["--seq-len", "0"], ["seq_len"]),
    "seq len above the model's": (["--seq-len", "4096"], ["4096"]),
    "negative p95 limit": (["--max-p95-ms", "-1"], ["max_p95_ms"]),
    "zero target load": (["--target-qps", "0"], ["--target-qps"]),
    "zero jobs": (["--n-jobs", "0"], ["n-jobs 0"]),
    "missing model directory": (["--model", "no-such-dir/"], ["no-such-dir"]),
    "missing space file": (["--space", "missing.yaml"], ["missing.yaml"]),
    "malformed space file": (["--space", "bad.yaml"], ["bad.yaml", "not valid YAML"]),
    "unknown key in space file": (["--space", "typo.yaml"], ["'seqlen'", "seq_len"]),
}


@pytest.mark.parametrize("args,names", list(BAD.values()), ids=list(BAD))
def test_bad_study_input(autotune_cli: CliRunner, tmp_path, args, names):
    write_spaces(tmp_path)
    url = sqlite_url(tmp_path)
    trials = [] if "--trials" in args else ["--trials", "2"]
    run = autotune_cli("study", *SMALL, *trials, *args, "--storage", url)  # args override SMALL
    assert_one_error_line(run, *names)
    assert run.out == ""
    assert not (tmp_path / "autotune.db").exists()
    assert not (tmp_path / "s.db").exists() or study_names(url) == []


def test_usage_error_quotes_the_value_click_parsed(autotune_cli):
    run = autotune_cli("study", "--trials", "3", "--trials", "abc")
    assert_one_error_line(run, "--trials", "'abc'")

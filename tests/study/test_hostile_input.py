"""Hostile input, item by item from the product spec: every case ends in one ``error:`` line that
names the problem and what is accepted, exit code 2, no traceback, and an existing study database
left exactly as it was (every row of every table, not the file's mtime).

One small real database is built once for the module (study ``small``: 3 trials; ``empty``: no
trial; ``../../etc/x``: 1 trial); each case runs ``autotune`` in-process against its own copy.
"""

from __future__ import annotations

import os
import pty
import select
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
import yaml
from safetensors.numpy import save_file

from autotune.catalog import instance_names
from tests.study.helpers import MINILM, Run, assert_one_error_line, run_cli

# Every case runs against a copy of a database made by real studies (the module's ``base``).
pytestmark = pytest.mark.slow

# One instance, batch 1, pipeline 1: every trial reuses one compiled plan.
TINY = ["--model", MINILM, "--seq-len", "32", "--batch-sizes", "1", "--pipeline-cores", "1"]
TINY += ["--instances", "inf1.xlarge"]
ESCAPING = "../../etc/x"
PG = "postgresql+psycopg://autotune:s3cret@127.0.0.1:1/autotune"  # nothing listens on port 1
DB = "{db}"  # replaced by the URL of the test's copy of the module's database


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    url = f"sqlite:///{root / 'base.db'}"
    for name, extra, code in [
        ("small", ["--trials", "3"], 0),
        ("empty", ["--trials", "3", "--timeout", "1e-9"], 1),  # over before its first trial
        (ESCAPING, ["--trials", "1"], 0),
    ]:
        run = run_cli(root, "study", *TINY, *extra, "--study-name", name, "--storage", url)
        assert run.code == code, run.err
    return root / "base.db"


@pytest.fixture
def db(base: Path, tmp_path: Path) -> Path:
    """This test's copy of the module's database (SQLite's backup: WAL content included)."""
    path = tmp_path / "study.db"
    with closing(sqlite3.connect(base)) as src, closing(sqlite3.connect(path)) as dst:
        src.backup(dst)
    return path


def fingerprint(path: Path) -> tuple[list[int], list[str]]:
    """Counts of studies, trials and trial records, and a dump of every row of every table."""
    with closing(sqlite3.connect(path)) as c:
        counts = [
            c.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("studies", "trials", "autotune_trial_results")
        ]
        return counts, list(c.iterdump())


def run_on(db: Path, cwd: Path, argv: list[str]) -> Run:
    """``autotune *argv`` in ``cwd``, with the database ``db`` wherever ``argv`` says ``{db}``."""
    return run_cli(cwd, *(arg.replace(DB, f"sqlite:///{db}") for arg in argv))


def write_inputs(d: Path) -> None:
    """Every hostile file a case below names, relative to its working directory."""
    space = "instances: [inf1.xlarge]\nbatch_sizes: [1]\n"
    texts = {
        "unclosed.yaml": "instances: [inf1.xlarge\nbatch_sizes: [1]\n",
        "tab.yaml": "instances:\n\t- inf1.xlarge\n",
        "list.yaml": "- inf1.xlarge\n- 1\n",
        "empty.yaml": "",
        "digits.yaml": space + "seq_len: " + "9" * 5000 + "\n",
        "typo.yaml": space + "seqlen: 32\n",
        "p99.yaml": space + "constraints: {max_p99_ms: 3}\n",
        "str-seq.yaml": space + "seq_len: '32'\n",
        "map-instances.yaml": "instances: {inf1.xlarge: 1}\nbatch_sizes: [1]\n",
        "float-batch.yaml": "instances: [inf1.xlarge]\nbatch_sizes: [1.5]\n",
        "no-instances.yaml": "instances: []\nbatch_sizes: [1]\n",
        "no-batches.yaml": "instances: [inf1.xlarge]\nbatch_sizes: []\n",
        "no-pipelines.yaml": space + "pipeline_cores: []\n",
        "no-copies.yaml": space + "copies: []\n",
        "zero-batch.yaml": "instances: [inf1.xlarge]\nbatch_sizes: [0, 1]\n",
        "long-seq.yaml": space + f"model: {MINILM}\nseq_len: 100000\n",
        "big-pipeline.yaml": "instances: [inf1.xlarge, g4dn.xlarge]\nbatch_sizes: [1]\n"
        "pipeline_cores: [8]\n",
        "unknown-instance.yaml": "instances: [inf9.huge]\nbatch_sizes: [1]\n",
        "python-tag.yaml": "!!python/object/apply:os.system ['touch pwned']\n",
        "nested-tag.yaml": "instances: !!python/object/apply:os.system ['touch pwned']\n"
        "batch_sizes: [1]\n",
        "notes.txt": "not a database, just some notes\n" * 100,
        "a-file": "keep",
    }
    for name, text in texts.items():
        (d / name).write_text(text)
    (d / "latin1.yaml").write_bytes(space.encode() + b"model: caf\xe9\n")
    (d / "a-dir").mkdir()
    config = (Path(MINILM) / "config.json").read_text()
    for name, files in {
        "ckpt-empty": {},
        "ckpt-no-weights": {"config.json": config},
        "ckpt-gpt2": {"config.json": '{"model_type": "gpt2"}', "model.safetensors": ""},
        "ckpt-bad-config": {"config.json": '{"model_type": "bert", "max_position_embeddings": []}'},
        "ckpt-garbage": {"config.json": config, "model.safetensors": "garbage, no header"},
        "ckpt-no-tensors": {"config.json": config},
    }.items():
        (d / name).mkdir()
        for file, text in files.items():
            (d / name / file).write_text(text)
    save_file({}, str(d / "ckpt-no-tensors" / "model.safetensors"))
    (d / "full.yaml").symlink_to("/dev/full")  # a device: writing to it fails (ENOSPC)


def study(*args: str) -> list[str]:
    """``autotune study`` on the tiny space into the test's database; ``args`` override."""
    return ["study", *TINY, "--trials", "3", "--study-name", "hostile", "--storage", DB, *args]


def space(file: str) -> list[str]:
    """``autotune study --space file``: no override of the file's values."""
    return ["study", "--space", file, "--trials", "3", "--study-name", "hostile", "--storage", DB]


def on_db(command: str, *args: str) -> list[str]:
    return [command, *args, "--storage", DB]


def export(*args: str) -> list[str]:
    return on_db("export", "--study-name", "small", *args)


ACCEPTED_OBJECTIVES = "min-latency, max-throughput, min-cost, pareto"
ACCEPTED_INSTANCES = ", ".join(instance_names())

# id -> (argv, fragments the one error line must hold: the problem and what is accepted)
CASES: dict[str, tuple[list[str], list[str]]] = {
    # malformed YAML
    "yaml unclosed list": (space("unclosed.yaml"), ["not valid YAML at line 2", "']'"]),
    "yaml tab indent": (space("tab.yaml"), ["not valid YAML at line 2", "character"]),
    "yaml not a mapping": (space("list.yaml"), ["expected a mapping", "got list"]),
    "yaml empty": (space("empty.yaml"), ["expected a mapping", "empty document"]),
    "yaml not utf-8": (space("latin1.yaml"), ["latin1.yaml", "not UTF-8"]),
    "yaml 5000 digits": (space("digits.yaml"), ["cannot read", "4300 digits"]),
    "yaml missing": (space("missing.yaml"), ["missing.yaml", "No such file"]),
    "yaml a directory": (space("a-dir"), ["'a-dir' cannot be read", "directory"]),
    # unknown keys
    "unknown key": (space("typo.yaml"), ["'seqlen'", "accepted keys", "seq_len"]),
    "unknown constraint": (space("p99.yaml"), ["max_p99_ms", "max_p95_ms"]),
    # wrong types
    "yaml seq_len string": (space("str-seq.yaml"), ["seq_len", "integer", "'32'"]),
    "yaml instances map": (space("map-instances.yaml"), ["instances", "a list"]),
    "yaml batch float": (space("float-batch.yaml"), ["batch_sizes", "integer", "1.5"]),
    "--seq-len text": (study("--seq-len", "abc"), ["--seq-len", "integer", "'abc'"]),
    "--trials float": (study("--trials", "1.5"), ["--trials", "integer", "'1.5'"]),
    "--max-p95-ms text": (study("--max-p95-ms", "fast"), ["--max-p95-ms", "'fast'"]),
    # empty candidate lists
    "yaml no instances": (space("no-instances.yaml"), ["instances", "at least 1"]),
    "yaml no batch sizes": (space("no-batches.yaml"), ["batch_sizes", "at least 1"]),
    "yaml no pipelines": (space("no-pipelines.yaml"), ["pipeline_cores", "empty"]),
    "yaml no copies": (space("no-copies.yaml"), ["copies", "empty"]),
    "--instances empty": (study("--instances", ""), ["type ''", ACCEPTED_INSTANCES]),
    "--batch-sizes empty": (study("--batch-sizes", ""), ["--batch-sizes ''", "e.g. 1,4,16"]),
    # non-positive batch sizes and trial counts
    "--batch-sizes 0": (study("--batch-sizes", "0"), ["batch_sizes", "positive integer"]),
    "--batch-sizes -2": (study("--batch-sizes", "-2"), ["batch_sizes", "positive integer"]),
    "yaml batch 0": (space("zero-batch.yaml"), ["batch_sizes", "positive integer"]),
    "--trials 0": (study("--trials", "0"), ["trials 0", "at least 1"]),
    "--trials -5": (study("--trials", "-5"), ["trials -5", "at least 1"]),
    "worker --trials 0": (
        on_db("worker", "--study-name", "small", "--trials", "0"),
        ["trials 0", "at least 1"],
    ),
    "--timeout 0": (study("--timeout", "0"), ["--timeout 0.0", "positive"]),
    "worker --timeout -1": (
        on_db("worker", "--study-name", "small", "--timeout", "-1"),
        ["--timeout -1.0", "positive"],
    ),
    "--n-jobs 0": (study("--n-jobs", "0"), ["n-jobs 0", "at least 1"]),
    # sequence length above the model's limit
    "seq len checkpoint": (study("--seq-len", "513"), ["sequence length 513", "1 to 512"]),
    "seq len bert": (
        study("--model", "bert-base-uncased", "--seq-len", "4096"),
        ["4096", "bert-base-uncased", "1 to 512"],
    ),
    "seq len roberta": (
        study("--model", "roberta-base", "--seq-len", "513"),
        ["513", "roberta-base", "1 to 512"],
    ),
    "yaml seq len": (space("long-seq.yaml"), ["100000", "1 to 512"]),
    # pipeline cores above every instance's cores
    "--pipeline-cores 99": (
        study("--pipeline-cores", "99"),
        ["pipeline_cores [99] fit no instance of the space", "accepted there: 1 to 4"],
    ),
    "yaml pipeline 8": (
        space("big-pipeline.yaml"),
        ["pipeline_cores [8] fit no instance of the space", "accepted there: 1 to 4"],
    ),
    # unknown instance types, presets, tasks, objectives, samplers
    "unknown instance": (study("--instances", "inf9.huge"), ["'inf9.huge'", ACCEPTED_INSTANCES]),
    "yaml unknown instance": (
        space("unknown-instance.yaml"),
        ["'inf9.huge'", ACCEPTED_INSTANCES],
    ),
    "bench unknown instance": (["bench", "--instance", "inf9.huge"], ["'inf9.huge'", "inf1.2x"]),
    "unknown preset": (study("--model", "bert-huge"), ["'bert-huge'", "presets: bert-base"]),
    "bench unknown preset": (["bench", "--model", "bert-huge"], ["'bert-huge'", "presets:"]),
    "unknown task": (study("--task", "translation"), ["'translation'", "question-answering"]),
    "bench unknown task": (["bench", "--task", "translation"], ["'translation'", "sequence-"]),
    "unknown objective": (study("--objective", "fast"), ["'fast'", ACCEPTED_OBJECTIVES]),
    "best unknown objective": (
        on_db("best", "--study-name", "small", "--objective", "fast"),
        ["'fast'", ACCEPTED_OBJECTIVES],
    ),
    "export unknown pick": (export("--pick", "fast"), ["'fast'", "min-latency"]),
    "unknown sampler": (study("--sampler", "cmaes"), ["'cmaes'", "tpe, gp, nsga2, random, grid"]),
    "unknown price set": (study("--price-set", "spot"), ["'spot'", "on-demand"]),
    # checkpoint directories that are missing or hold no model
    "checkpoint missing": (study("--model", "no-such-ckpt"), ["'no-such-ckpt'", "presets:"]),
    "checkpoint a file": (study("--model", "notes.txt"), ["'notes.txt'", "checkpoint directory"]),
    "checkpoint empty": (
        study("--model", "ckpt-empty"),
        ["no readable config.json", "config.json + model.safetensors"],
    ),
    "checkpoint no weights": (
        study("--model", "ckpt-no-weights"),
        ["no model.safetensors", "only safetensors"],
    ),
    "checkpoint gpt2": (study("--model", "ckpt-gpt2"), ["'gpt2'", "bert, distilbert, roberta"]),
    "checkpoint bad config": (
        study("--model", "ckpt-bad-config"),
        ["max_position_embeddings", "[]", "positive integer"],
    ),
    "checkpoint garbage weights": (
        study("--model", "ckpt-garbage"),
        ["model.safetensors is not a safetensors file"],
    ),
    "checkpoint no tensors": (study("--model", "ckpt-no-tensors"), ["holds no tensors"]),
    # storage that cannot be reached or written
    "sqlite missing dir": (study("--storage", "sqlite:///nodir/x.db"), ["nodir", "does not exist"]),
    "sqlite a directory": (study("--storage", "sqlite:///a-dir"), ["a-dir", "not a database file"]),
    "postgresql closed port": (study("--storage", PG), ["127.0.0.1:1", "refused"]),
    "postgresql closed port export": (
        ["export", "--study-name", "small", "--storage", PG],
        ["127.0.0.1:1", "refused"],
    ),
    "not a url": (study("--storage", "not a url"), ["not a url", "sqlite:///autotune.db"]),
    # a file that is not a database
    **{
        f"text file as storage: {cmd[0]}": (
            [*cmd, "--storage", "sqlite:///notes.txt"],
            ["notes.txt", "file is not a database"],
        )
        for cmd in (
            study(),
            ["studies"],
            ["trials", "--study-name", "small"],
            ["best", "--study-name", "small"],
            ["export", "--study-name", "small"],
            ["worker", "--study-name", "small"],
        )
    },
    # a read command without --study-name on a storage of several studies
    **{
        f"{command} without a study name": (
            on_db(command),
            ["3 studies in", "give --study-name", "small (min-latency, 3 trials)"],
        )
        for command in ("trials", "best", "export")  # a worker without one serves the queue
    },
    # a study name reused with a different objective or space
    "reuse other objective": (
        study("--study-name", "small", "--objective", "max-throughput"),
        ["'small'", "different objective", "another --study-name"],
    ),
    "reuse other space": (
        study("--study-name", "small", "--batch-sizes", "1,2"),
        ["'small'", "search space", "another --study-name"],
    ),
    "reuse other constraints": (
        study("--study-name", "small", "--max-p95-ms", "5"),
        ["'small'", "constraints", "another --study-name"],
    ),
    # export from a study with no completed trials
    "export no completed trial": (
        on_db("export", "--study-name", "empty"),
        ["'empty'", "no completed trial"],
    ),
    "export --trial of no completed trial": (
        on_db("export", "--study-name", "empty", "--trial", "0"),
        ["'empty'", "no completed trial"],
    ),
    # export paths that are not writable
    "export into missing dir": (export("-o", "nodir/d.yaml"), ["'nodir/d.yaml'", "not writable"]),
    "export to a directory": (export("-o", "a-dir"), ["'a-dir'", "give a file name"]),
    "export inside a file": (export("-o", "a-file/d.yaml"), ["not writable", "Not a directory"]),
    "export to a full device": (export("-o", "full.yaml"), ["'full.yaml'", "No space left"]),
}


def check_clean(run: Run, names: list[str]) -> str:
    """Exit 2, one ``error:`` line holding ``names`` on stderr, nothing on stdout."""
    line = assert_one_error_line(run, *names)
    assert run.out == ""
    return line


@pytest.mark.parametrize("argv,names", list(CASES.values()), ids=list(CASES))
def test_hostile_input(db: Path, tmp_path: Path, argv: list[str], names: list[str]) -> None:
    write_inputs(tmp_path)
    before = fingerprint(db)
    notes = (tmp_path / "notes.txt").read_bytes()
    check_clean(run_on(db, tmp_path, argv), names)
    assert fingerprint(db) == before
    assert (tmp_path / "notes.txt").read_bytes() == notes
    assert not (tmp_path / "nodir").exists() and not (tmp_path / "autotune.db").exists()
    assert list((tmp_path / "a-dir").iterdir()) == []
    assert (tmp_path / "a-file").read_text() == "keep"
    assert (tmp_path / "full.yaml").is_symlink()
    assert not list(tmp_path.glob(".autotune-export-*"))


def test_unreachable_postgresql_listing_hides_the_password(tmp_path: Path) -> None:
    line = check_clean(run_cli(tmp_path, "studies", "--storage", PG), ["127.0.0.1:1"])
    assert "s3cret" not in line and "OperationalError" not in line


# --- storage that cannot be written: read-only directories and files ---------------------------


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` read-only, for root too (immutable attribute); skip where that cannot be done."""
    mode = path.stat().st_mode
    path.chmod(mode & ~0o222)
    immutable = False
    chattr = shutil.which("chattr") or "chattr"
    try:
        if os.access(path, os.W_OK):  # root: modes do not stop it, the immutable attribute does
            immutable = subprocess.run([chattr, "+i", str(path)], check=False).returncode == 0
            if not immutable:
                pytest.skip("cannot make a path read-only for this user (chattr +i failed)")
        yield
    finally:
        if immutable:
            subprocess.run([chattr, "-i", str(path)], check=True)
        path.chmod(mode)


@pytest.mark.parametrize(
    "locked,storage,name",
    [
        ("directory", "new.db", "small"),
        ("directory", "study.db", "small"),
        ("directory", "study.db", "another"),
        ("file", "study.db", "another"),
    ],
    ids=["new database", "existing study", "new study", "read-only database file"],
)
def test_storage_that_cannot_be_written(db, tmp_path, locked, storage, name):
    before = fingerprint(db)
    path = tmp_path if locked == "directory" else db
    url = f"sqlite:///{tmp_path / storage}"
    with read_only(path):
        run = run_cli(tmp_path, *study("--study-name", name, "--storage", url))
    check_clean(run, [url, f"{locked} {path} is not writable"])
    assert fingerprint(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.db"]


def test_export_into_a_read_only_directory(db, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with read_only(out):
        run = run_on(db, tmp_path, export("-o", "out/d.yaml"))
    check_clean(run, ["'out/d.yaml'", "not writable"])
    assert list(out.iterdir()) == []


# --- safety -------------------------------------------------------------------------------------


def test_study_names_cannot_escape_the_output_directory(db, tmp_path):
    """No path is ever made of a study name: export prints, or writes only the file given."""
    cwd = tmp_path / "a" / "b"
    cwd.mkdir(parents=True)
    url = f"sqlite:///{db}"
    printed = {}
    for fmt in ("yaml", "env", "script"):
        run = run_cli(cwd, "export", "--study-name", ESCAPING, "--format", fmt, "--storage", url)
        assert run.code == 0, run.err
        printed[fmt] = run.out
    assert yaml.safe_load(printed["yaml"])["provenance"]["study"] == ESCAPING
    assert f"study {ESCAPING!r}" in printed["env"] and ESCAPING in printed["script"]
    refused = run_cli(cwd, "export", "--study-name", ESCAPING, "-o", ".", "--storage", url)
    check_clean(refused, ["is a directory", "give a file name"])
    made = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")}
    assert {p for p in made if not p.startswith("study.db")} == {"a", "a/b"}


@pytest.mark.parametrize("file", ["python-tag.yaml", "nested-tag.yaml"])
def test_yaml_is_loaded_safely(db, tmp_path, file):
    write_inputs(tmp_path)
    before = fingerprint(db)
    run = run_on(db, tmp_path, space(file))
    check_clean(run, [file, "line 1", "!!python/object/apply:os.system", "not accepted"])
    assert not (tmp_path / "pwned").exists()
    assert fingerprint(db) == before


@pytest.mark.slow
def test_no_traceback_reaches_a_real_terminal(tmp_path):
    """The console script on a terminal (stdin, stdout and stderr a pty), as a user runs it."""
    write_inputs(tmp_path)
    url = f"sqlite:///{tmp_path / 'new.db'}"
    argv = ["study", *TINY, "--model", "ckpt-garbage", "--storage", url]
    code, screen = run_in_terminal(tmp_path, argv)
    assert code == 2, screen
    assert "Traceback" not in screen
    assert screen.strip().splitlines() == [
        "error: checkpoint 'ckpt-garbage': model.safetensors is not a safetensors file "
        "(Error while deserializing header: header too large)"
    ]
    assert not (tmp_path / "new.db").exists()


def run_in_terminal(cwd: Path, argv: list[str], timeout: float = 120) -> tuple[int, str]:
    main = "import sys; from autotune.cli import main; sys.argv[0] = 'autotune'; main()"
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", main, *argv],
        cwd=cwd,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    chunks: list[bytes] = []
    try:
        while select.select([controller], [], [], timeout)[0]:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: every end of the terminal closed (the process exited)
                break
            if not chunk:
                break
            chunks.append(chunk)
        return proc.wait(timeout=timeout), b"".join(chunks).decode().replace("\r\n", "\n")
    finally:
        proc.kill()
        os.close(controller)

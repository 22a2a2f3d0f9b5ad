"""Shared fixtures: an isolated compile cache for the whole session, and cached real plans.

Every test (and every ``autotune`` subprocess a test starts) compiles into one session-scoped
temporary directory, never into the user's ``~/.cache``; plans compiled by one test are reused
by the next, which keeps the suite fast.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from autotune.catalog import get_instance
from autotune.emulator import CompileCache, compile_model
from autotune.hardware import Plan
from autotune.models import resolve_model
from autotune.values import Deployment, Workload

# Each example may compile or simulate: few examples, no deadline, and no example database
# written into the repository.
# AUTOTUNE_HYPOTHESIS_PROFILE=thorough runs many more examples (minutes, not seconds).
settings.register_profile("autotune", max_examples=15, deadline=None, database=None)
settings.register_profile("thorough", max_examples=300, deadline=None, database=None)
settings.load_profile(os.environ.get("AUTOTUNE_HYPOTHESIS_PROFILE", "autotune"))


@pytest.fixture(scope="session", autouse=True)
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point ``AUTOTUNE_CACHE_DIR`` (and XDG_CACHE_HOME, belt and braces) at a temp dir."""
    root = tmp_path_factory.mktemp("autotune-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUTOTUNE_CACHE_DIR", str(root / "plans"))
        mp.setenv("XDG_CACHE_HOME", str(root / "xdg"))
        yield root / "plans"


@pytest.fixture(scope="session")
def session_cache(cache_dir: Path) -> CompileCache:
    return CompileCache(cache_dir)


PlanOf = Callable[..., Plan]


@pytest.fixture(scope="session")
def plan_of(session_cache: CompileCache) -> PlanOf:
    """``plan_of(model, batch, seq_len, pipeline_cores, instance)``: a real compiled plan."""

    @functools.cache
    def compiled(
        model: str,
        batch: int,
        seq_len: int,
        pipeline_cores: int | None,
        instance: str = "inf1.xlarge",
        task: str = "question-answering",
        stack: str | None = None,
    ) -> Plan:
        source = resolve_model(model, task)
        # Each generation reads its own compile knobs: pipeline cores, or a GPU serving stack.
        deployment = Deployment.of(instance, pipeline_cores=pipeline_cores, stack=stack)
        workload = Workload(model, task, seq_len, batch)
        return compile_model(
            source, workload, get_instance(instance), deployment, session_cache
        ).plan

    return compiled


TIED_STUDY = "tie"


@pytest.fixture(scope="session")
def tied_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Any]:
    """A min-latency study whose best p95 is shared by several trials: one model copy on one
    core (or two) has the same latency on inf1.xlarge and inf1.2xlarge, at different prices.
    Its storage URL and the ``autotune study`` run (text output and progress line)."""
    from tests.study.helpers import MINILM, run_cli, sqlite_url

    tmp = tmp_path_factory.mktemp("tied-study")
    url = sqlite_url(tmp)
    space = ["--model", MINILM, "--seq-len", "32", "--batch-sizes", "1", "--pipeline-cores", "1"]
    space += ["--instances", "inf1.2xlarge,inf1.xlarge", "--max-p95-ms", "0.9"]
    space += ["--traffic", "closed-loop"]  # the blog's method: one copy on one core ties
    run = run_cli(
        tmp, "study", *space, "--objective", "min-latency", "--sampler", "grid", "--trials", "8",
        "--storage", url, "--study-name", TIED_STUDY,
    )  # fmt: skip
    assert run.code == 0, run.err
    return url, run

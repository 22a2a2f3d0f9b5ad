"""The on-disk compile cache: content-addressed JSON, never unpickled, written atomically."""

from __future__ import annotations

import contextlib
import json
import pickle
import resource
import signal
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autotune.catalog import get_instance
from autotune.emulator import CompileCache, check_shape, compile_model, default_cache_dir
from autotune.errors import InputError
from autotune.hardware import GraphSummary, Plan, generation_of
from autotune.models import resolve_model
from autotune.values import MAX_BATCH, Deployment, Workload

SMALL = dict(batch=1, seq_len=16, pipeline_cores=2)
XL = "inf1.xlarge"


def _compile(cache: CompileCache, model: str = "distilbert-base-uncased", **shape):
    s = SMALL | shape
    source = resolve_model(model)
    workload = Workload(model, source.task, s["seq_len"], s["batch"])
    deployment = Deployment.of(XL, pipeline_cores=s["pipeline_cores"])
    return compile_model(source, workload, get_instance(XL), deployment, cache)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A plan compiled once, and the cache directory that holds it."""
    cache = CompileCache(tmp_path_factory.mktemp("reference-cache"))
    return _compile(cache).plan


def test_tests_never_touch_the_users_cache(cache_dir):
    assert default_cache_dir() == cache_dir
    assert CompileCache().directory == cache_dir
    assert not str(cache_dir).startswith(str(Path.home() / ".cache"))


def test_miss_then_hit(tmp_path, reference):
    cache = CompileCache(tmp_path)
    first = _compile(cache)
    assert not first.cached
    assert first.plan == reference  # compiling is deterministic
    assert (tmp_path / f"{first.plan.key}.json").is_file()
    second = _compile(cache)
    assert second.cached
    assert second.plan == first.plan
    assert second.seconds < first.seconds / 5 and second.seconds < 0.5


def test_other_shapes_are_other_entries(tmp_path, reference):
    cache = CompileCache(tmp_path)
    cache.put(reference)
    other = _compile(cache, pipeline_cores=1)
    assert not other.cached and other.plan.key != reference.key
    plans = [p.name for p in tmp_path.iterdir() if not p.name.startswith("graph-")]
    assert sorted(plans) == sorted([f"{reference.key}.json", f"{other.plan.key}.json"])


def test_graph_summaries_are_kept_on_disk(tmp_path, reference):
    """A capture takes seconds: the next process reads the summary instead."""
    _compile(CompileCache(tmp_path), pipeline_cores=1)
    (graph,) = [p for p in tmp_path.iterdir() if p.name.startswith("graph-")]
    fresh = CompileCache(tmp_path)
    shape = (resolve_model("distilbert-base-uncased").identity, "question-answering", 1, 16)
    stored = fresh.graph(shape, lambda: pytest.fail("captured again"))
    assert stored == GraphSummary.from_json(graph.read_text())
    graph.write_text("garbage")
    assert CompileCache(tmp_path).graph(shape, lambda: stored) == stored  # recaptured, rewritten


def test_round_trip_through_json(tmp_path, reference):
    cache = CompileCache(tmp_path)
    cache.put(reference)
    text = (tmp_path / f"{reference.key}.json").read_text()
    assert json.loads(text)["key"] == reference.key
    assert Plan.from_json(text) == reference
    assert cache.get(reference.key) == reference
    assert cache.get("0" * 64) is None


class _Tripwire:
    """Unpickling this object creates a file: proof that something was unpickled."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def _garbage(reference: Plan, tmp_path: Path) -> dict[str, bytes]:
    raw = json.loads(reference.to_json())
    other_key = json.loads(reference.to_json()) | {"key": "f" * 64}
    missing_field = json.loads(reference.to_json())
    del missing_field["stages"][0]["estimated_s"]
    extra_field = json.loads(reference.to_json()) | {"surprise": 1}
    return {
        "swapped (another plan's key inside)": json.dumps(other_key).encode(),
        "garbage": b"\x00\xffnot json at all",
        "truncated": reference.to_json().encode()[:100],
        "pickle of a tripwire": pickle.dumps(_Tripwire(tmp_path / "unpickled")),
        "pickle of the plan itself": pickle.dumps(reference),
        "json list": b"[1, 2, 3]",
        "json null": b"null",
        "stages not a list": json.dumps(raw | {"stages": "none"}).encode(),
        "stage not an object": json.dumps(raw | {"stages": [1]}).encode(),
        "stage missing a field": json.dumps(missing_field).encode(),
        "unknown field": json.dumps(extra_field).encode(),
        "empty": b"",
    }


def test_corrupt_or_swapped_files_are_ignored_and_recompiled(tmp_path, reference):
    cache = CompileCache(tmp_path)
    path = tmp_path / f"{reference.key}.json"
    for label, content in _garbage(reference, tmp_path).items():
        path.write_bytes(content)
        assert cache.get(reference.key) is None, label
        result = _compile(cache)
        assert not result.cached, label
        assert result.plan == reference, label
        assert Plan.from_json(path.read_text()) == reference, label  # rewritten, valid
    assert not (tmp_path / "unpickled").exists()


def test_a_directory_in_the_way_is_a_miss(tmp_path, reference):
    (tmp_path / f"{reference.key}.json").mkdir()
    assert CompileCache(tmp_path).get(reference.key) is None


@given(st.binary(max_size=256))
def test_get_never_raises_on_arbitrary_bytes(tmp_path_factory, content):
    directory = tmp_path_factory.mktemp("fuzz")
    (directory / "k.json").write_bytes(content)
    assert CompileCache(directory).get("k") is None


def test_deeply_nested_json_is_a_miss(tmp_path):
    (tmp_path / "k.json").write_text("[" * 100_000)
    assert CompileCache(tmp_path).get("k") is None


def test_put_is_atomic_for_concurrent_readers(tmp_path, reference):
    """Readers racing a writer see the old plan or the new one, never a partial file."""
    cache = CompileCache(tmp_path)
    cache.put(reference)
    seen: list[Plan | None] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.append(cache.get(reference.key))

    readers = [threading.Thread(target=read) for _ in range(2)]
    for t in readers:
        t.start()
    try:
        for _ in range(200):
            cache.put(reference)
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert seen and all(plan == reference for plan in seen)
    assert [p.name for p in tmp_path.iterdir()] == [f"{reference.key}.json"]  # no temp files


def test_put_creates_the_directory(tmp_path, reference):
    cache = CompileCache(tmp_path / "a" / "b")
    cache.put(reference)
    assert cache.get(reference.key) == reference


@contextlib.contextmanager
def _disk_full_after(limit: int):
    """Writes past ``limit`` bytes fail with EFBIG, as on a full disk (RLIMIT_FSIZE)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


def test_a_failed_put_keeps_the_old_entry(tmp_path, reference):
    cache = CompileCache(tmp_path)
    cache.put(reference)
    assert len(reference.to_json()) > 1000
    with _disk_full_after(1000), pytest.raises(OSError):
        cache.put(reference)
    assert cache.get(reference.key) == reference


def test_a_failed_put_leaves_no_temp_file(tmp_path, reference):
    cache = CompileCache(tmp_path)
    with _disk_full_after(1000), pytest.raises(OSError):
        cache.put(reference)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("batch", "seq_len", "message"),
    [
        (0, 16, r"batch size 0 is out of range; accepted: 1 to 1024"),
        (MAX_BATCH + 1, 16, r"batch size 1025 is out of range"),
        (1, 0, r"sequence length 0 is out of range for bert-base-uncased; accepted: 1 to 512"),
        (1, 513, r"sequence length 513 is out of range"),
    ],
)
def test_check_shape(batch, seq_len, message):
    with pytest.raises(InputError, match=message):
        check_shape(resolve_model("bert-base-uncased"), batch, seq_len)


def test_check_shape_accepts_the_limits():
    source = resolve_model("bert-base-uncased")
    check_shape(source, 1, 1)
    check_shape(source, MAX_BATCH, 512)
    with pytest.raises(InputError, match="accepted: 1 to 512"):
        check_shape(resolve_model("roberta-base"), 1, 513)


def test_compile_rejects_bad_shapes_before_touching_the_cache(tmp_path):
    cache = CompileCache(tmp_path / "never")
    with pytest.raises(InputError, match="batch size 0"):
        _compile(cache, batch=0)
    with pytest.raises(InputError, match="sequence length 0"):
        _compile(cache, seq_len=0)
    assert not cache.directory.exists()


def test_pipeline_cores_are_validated_before_compiling():
    inst = get_instance(XL)
    with pytest.raises(InputError, match=r"pipeline cores 0 are out of range .* 1 to 4"):
        generation_of(inst).resolve(inst, Deployment.of(XL, pipeline_cores=0))

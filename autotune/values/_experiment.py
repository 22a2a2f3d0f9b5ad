"""What to run: the workload, the deployment (instance and its generation's knobs), the load."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MODEL = "bert-base-uncased"
DEFAULT_TASK = "question-answering"
MAX_BATCH = 1024
# Simulated requests per run: a million takes about 20 s and already pins p99 down; beyond that
# the per-request arrays only risk the machine's memory.
MAX_REQUESTS = 1_000_000

# A knob's value: a count, a name, or a list of counts (group sizes).
Knob = int | float | str | tuple[int, ...]


def _knob(value: Any) -> Knob:
    return tuple(value) if isinstance(value, list | tuple) else value


@dataclass(frozen=True)
class Workload:
    """The model and the static shape it is compiled for."""

    model: str = DEFAULT_MODEL
    task: str = DEFAULT_TASK
    seq_len: int = 128
    batch_size: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "task": self.task,
            "seq_len": self.seq_len,
            "batch_size": self.batch_size,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Workload:
        return cls(str(raw["model"]), str(raw["task"]), int(raw["seq_len"]), int(raw["batch_size"]))


@dataclass(frozen=True)
class Deployment:
    """An instance type and the settings of its hardware generation (``knobs``, by name).

    Which knobs exist, and which values an instance accepts, is the generation's business
    (``autotune.hardware``); here they are plain values, sorted by name, so that equal
    deployments compare and hash equal.
    """

    instance_type: str
    knobs: tuple[tuple[str, Knob], ...] = ()

    @classmethod
    def of(cls, instance_type: str, **knobs: Any) -> Deployment:
        """A deployment with the given knobs; ``None`` values are left out."""
        given = {k: _knob(v) for k, v in knobs.items() if v is not None}
        return cls(instance_type, tuple(sorted(given.items())))

    def knob(self, name: str, default: Any = None) -> Any:
        return dict(self.knobs).get(name, default)

    def with_knobs(self, **changes: Any) -> Deployment:
        return Deployment.of(self.instance_type, **(dict(self.knobs) | changes))

    def to_dict(self) -> dict[str, Any]:
        knobs = {k: list(v) if isinstance(v, tuple) else v for k, v in self.knobs}
        return {"instance_type": self.instance_type, **knobs}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Deployment:
        knobs = {k: v for k, v in raw.items() if k != "instance_type"}
        return cls.of(str(raw["instance_type"]), **knobs)


ARRIVALS = ("poisson",)


@dataclass(frozen=True)
class Load:
    """The traffic a deployment serves, and how the server batches it.

    Closed loop (``qps`` None, the AWS blog's method): ``concurrency`` clients (None: one per
    pipeline stage of every copy) each send a request of a full batch when the previous one
    returns. Open loop: requests of ``sequences_per_request`` sequences arrive at ``qps`` per
    second whether or not the server keeps up; each copy takes up to its compiled batch of them
    and waits at most ``max_batch_delay_ms`` for the batch to fill. With ``max_utilization``
    the traffic is spread over a fleet of instances, each at most that busy.
    """

    concurrency: int | None = None
    requests: int = 2000
    seed: int = 0
    qps: float | None = None
    arrival: str = "poisson"
    sequences_per_request: int = 1
    max_batch_delay_ms: float = 0.0
    max_utilization: float | None = None

    @property
    def open_loop(self) -> bool:
        return self.qps is not None

    def traffic(self) -> dict[str, Any]:
        """The traffic as the search space and the results state it."""
        if self.qps is None:
            return {"kind": "closed-loop", "clients": self.concurrency or "per-stage"}
        return {
            "kind": "open-loop",
            "qps": self.qps,
            "arrival": self.arrival,
            "sequences_per_request": self.sequences_per_request,
        }

    def traffic_text(self) -> str:
        """One phrase: "open-loop Poisson at 1,000 requests/s" or "closed-loop, 4 clients"."""
        if self.qps is None:
            clients = self.concurrency or "per-stage"
            return f"closed-loop, {clients} clients" if clients != 1 else "closed-loop, 1 client"
        each = self.sequences_per_request
        seqs = "" if each == 1 else f" of {each} sequences"
        return f"open-loop {self.arrival.capitalize()} at {self.qps:,.6g} requests/s{seqs}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "concurrency": self.concurrency,
            "requests": self.requests,
            "seed": self.seed,
        }
        if self.qps is not None:  # closed-loop records keep the shape they always had
            out |= {
                "qps": self.qps,
                "arrival": self.arrival,
                "sequences_per_request": self.sequences_per_request,
                "max_batch_delay_ms": self.max_batch_delay_ms,
                "max_utilization": self.max_utilization,
            }
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Load:
        clients, qps, cap = raw.get("concurrency"), raw.get("qps"), raw.get("max_utilization")
        return cls(
            None if clients is None else int(clients),
            int(raw["requests"]),
            int(raw["seed"]),
            None if qps is None else float(qps),
            str(raw.get("arrival", "poisson")),
            int(raw.get("sequences_per_request", 1)),
            float(raw.get("max_batch_delay_ms", 0.0)),
            None if cap is None else float(cap),
        )


@dataclass(frozen=True)
class Experiment:
    """One benchmark to run: a workload deployed one way under one load, priced from one set."""

    workload: Workload = field(default_factory=Workload)
    deployment: Deployment = field(default_factory=lambda: Deployment("inf1.xlarge"))
    load: Load = field(default_factory=Load)
    price_set: str = "on-demand"

"""Search spaces: the validated YAML format (a pydantic model), read and written as YAML.

Which deployments a space allows on each instance is the hardware generations' business
(``autotune.study._candidates``, write side); this module only checks the document.

Length: over 300 lines, one pydantic model with a validator per key of the YAML format.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from autotune.catalog import instance_names, price_set_names
from autotune.errors import InputError, choice_error
from autotune.models import TASKS
from autotune.values import MAX_BATCH, MAX_REQUESTS, Load

_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True)


class Constraints(BaseModel):
    model_config = _STRICT
    max_p95_ms: float | None = Field(None, gt=0, description="Highest feasible p95 latency.")
    min_throughput: float | None = Field(None, gt=0, description="Lowest feasible seq/s.")

    @field_validator("max_p95_ms", "min_throughput", mode="before")
    @classmethod
    def _number(cls, v: Any) -> Any:
        if isinstance(v, int) and not isinstance(v, bool):
            try:
                return float(v)
            except OverflowError as e:
                raise ValueError("must be a number below 1e308") from e
        return v


class Traffic(BaseModel):
    """The traffic trials are measured at: open loop at a rate, or the blog's closed loop."""

    model_config = _STRICT
    kind: Literal["open-loop", "closed-loop"]
    qps: float | None = Field(None, gt=0, lt=1e9, description="Open loop: requests per second.")
    arrival: Literal["poisson"] = "poisson"
    sequences_per_request: int = Field(1, ge=1, le=MAX_BATCH)
    clients: Literal["per-stage"] | int | None = Field(None, description="Closed loop: clients.")

    @field_validator("qps", mode="before")
    @classmethod
    def _number(cls, v: Any) -> Any:
        return float(v) if isinstance(v, int) and not isinstance(v, bool) and v < 1e9 else v

    @model_validator(mode="after")
    def _kind(self) -> Traffic:
        if self.kind == "open-loop" and self.qps is None:
            raise ValueError("open-loop traffic needs qps (requests per second)")
        if self.kind == "closed-loop" and self.qps is not None:
            raise ValueError("closed-loop traffic takes clients, not qps")
        if self.kind == "open-loop" and self.clients is not None:
            raise ValueError("open-loop traffic takes qps, not clients")
        if isinstance(self.clients, int) and self.clients < 1:
            raise ValueError("clients must be 'per-stage' or a positive integer")
        return self


# Keys added to the document after autotune 0.1 (see ``SearchSpace.stable_dump``).
_LATER_KEYS = (
    "workers_per_copy",
    "auto_cast",
    "auto_cast_type",
    "stack",
    "traffic",
    "max_batch_delay_ms",
    "max_utilization",
)


class SearchSpace(BaseModel):
    """What a study may try. Lists are candidates; per-instance validity is applied later."""

    model_config = _STRICT
    model: str = "bert-base-uncased"
    task: str = "question-answering"
    seq_len: int = Field(128, ge=1)
    instances: tuple[str, ...] = Field(min_length=1)
    batch_sizes: tuple[int, ...] = Field(min_length=1)
    pipeline_cores: Literal["all"] | tuple[int, ...] = "all"  # NeuronCore-v1
    copies: Literal["all", "max"] | tuple[int, ...] = "all"
    # NeuronCore-v2 (inf2, trn1); the defaults are what AWS's published rows ran.
    workers_per_copy: Literal["all"] | tuple[int, ...] = (1, 2)
    auto_cast: Literal["all"] | tuple[Literal["none", "matmult", "all"], ...] = ("matmult",)
    auto_cast_type: Literal["all"] | tuple[Literal["bf16", "fp16", "tf32", "fp8_e4m3"], ...] = (
        "bf16",
    )
    # GPUs: the serving stack; the AWS blog's by default (autotune bench --stack lists them).
    stack: (
        Literal["all"]
        | tuple[
            Literal[
                "torchscript-amp",
                "torchscript-fp16",
                "eager-fp32",
                "tensorrt-fp16",
                "tensorrt-int8",
            ],
            ...,
        ]
    ) = ("torchscript-amp",)
    concurrency: Literal["per-stage"] | int = "per-stage"
    # None: the closed loop of ``concurrency`` clients (spaces written before traffic existed).
    traffic: Traffic | None = None
    # Open loop: how long a copy holds a partial batch open (searched for batches above 1).
    max_batch_delay_ms: tuple[float, ...] = (0.0,)
    max_utilization: float = Field(0.8, gt=0, le=1, description="Fleet sizing: busiest share.")
    requests: int = Field(2000, ge=1, le=MAX_REQUESTS)
    price_set: str = "on-demand"
    constraints: Constraints = Constraints(max_p95_ms=None, min_throughput=None)

    @field_validator("instances")
    @classmethod
    def _instances(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [name for name in v if name not in instance_names()]
        if unknown:
            raise ValueError(str(choice_error("instance type", unknown[0], instance_names())))
        return tuple(dict.fromkeys(v))

    def stable_dump(self) -> dict[str, Any]:
        """The document as JSON values, without keys added after autotune 0.1 that still hold
        their defaults: what names a study, so the same command keeps naming the same study."""
        raw = self.model_dump(mode="json")
        for key in _LATER_KEYS:
            if getattr(self, key) == SearchSpace.model_fields[key].default:
                raw.pop(key)
        return raw

    @field_validator("max_batch_delay_ms", mode="before")
    @classmethod
    def _delays(cls, v: Any) -> Any:
        if isinstance(v, tuple | list):
            if not v:
                raise ValueError("must not be empty")
            if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in v):
                raise ValueError("every entry must be a number of milliseconds")
            if any(not 0 <= x <= 10_000 for x in v):
                raise ValueError("every entry must be between 0 and 10000 ms")
            return tuple(sorted({float(x) for x in v}))
        return v

    @field_validator("max_utilization", mode="before")
    @classmethod
    def _cap(cls, v: Any) -> Any:
        return float(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @property
    def open_loop(self) -> bool:
        return self.traffic is not None and self.traffic.kind == "open-loop"

    def load(self, max_batch_delay_ms: float = 0.0, seed: int = 0) -> Load:
        """The load a trial runs under (the traffic of the whole fleet in open loop)."""
        t = self.traffic
        if t is None or t.kind == "closed-loop":
            clients = t.clients if t is not None and t.clients is not None else self.concurrency
            concurrency = None if clients == "per-stage" else int(clients)
            return Load(concurrency=concurrency, requests=self.requests, seed=seed)
        return Load(
            requests=self.requests,
            seed=seed,
            qps=t.qps,
            arrival=t.arrival,
            sequences_per_request=t.sequences_per_request,
            max_batch_delay_ms=max_batch_delay_ms,
            max_utilization=self.max_utilization,
        )

    @field_validator("batch_sizes", "pipeline_cores", "copies", "workers_per_copy")
    @classmethod
    def _positive(cls, v: Any) -> Any:
        if isinstance(v, tuple):
            if not v:
                raise ValueError("must not be empty")
            if any(x < 1 for x in v):
                raise ValueError("every entry must be a positive integer")
            return tuple(sorted(set(v)))
        return v

    @field_validator("batch_sizes")
    @classmethod
    def _batch_limit(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if max(v) > MAX_BATCH:
            raise ValueError(f"batch sizes above {MAX_BATCH} are not accepted")
        return v

    @field_validator("concurrency")
    @classmethod
    def _clients(cls, v: Any) -> Any:
        if isinstance(v, int) and v < 1:
            raise ValueError("must be 'per-stage' or a positive integer")
        return v

    @field_validator("task")
    @classmethod
    def _task(cls, v: str) -> str:
        if v not in TASKS:
            raise ValueError(str(choice_error("task", v, TASKS)))
        return v

    @field_validator("price_set")
    @classmethod
    def _price_set(cls, v: str) -> str:
        if v not in price_set_names():
            raise ValueError(str(choice_error("price set", v, price_set_names())))
        return v


def _error_line(e: ValidationError, origin: str) -> str:
    first = e.errors()[0]
    loc = [str(part) for part in first["loc"]]
    key = ".".join(loc) or "(top level)"
    if first["type"] == "extra_forbidden":
        nested: dict[str, type[BaseModel]] = {"constraints": Constraints, "traffic": Traffic}
        model = nested.get(loc[0], SearchSpace)
        return f"{origin}: unknown key {key!r}; accepted keys: {', '.join(model.model_fields)}"
    if first["type"] == "missing":
        return f"{origin}: missing key {key!r}"
    if first["type"] == "value_error":
        key = ".".join(p for p in loc if not p.startswith("function-after"))
        return f"{origin}: {key}: {first['ctx']['error']}"
    message = first["msg"].replace("valid tuple", "list").replace("Tuple", "List")
    got = repr(first.get("input"))
    return f"{origin}: {key}: {message} (got {got if len(got) <= 40 else got[:37] + '...'})"


def parse_space(raw: Any, origin: str = "search space") -> SearchSpace:
    """A ``SearchSpace`` from parsed YAML; ``InputError`` naming the bad key otherwise."""
    if not isinstance(raw, dict):
        got = "an empty document" if raw is None else type(raw).__name__
        raise InputError(f"{origin}: expected a mapping of keys to values, got {got}")
    try:
        space = SearchSpace.model_validate(_listify(raw))
    except ValidationError as e:
        raise InputError(_error_line(e, origin)) from e
    return space


def _listify(raw: dict[str, Any]) -> dict[str, Any]:
    # YAML lists arrive as lists; the frozen model stores tuples.
    return {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}


def default_space_path() -> Path:
    return Path(str(resources.files("search_spaces").joinpath("default.yaml")))


class _PlainLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that names a tag it does not construct and refuses repeated keys
    (plain YAML keeps the last of them silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # "<<: *defaults" keys may be overridden, as YAML intends
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str | int | float | bool):
                continue  # SafeLoader itself refuses keys it cannot hash
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def _refuse_tag(loader: yaml.SafeLoader, node: yaml.Node) -> None:
    # SafeLoader already constructs no Python object; this only makes the message say why.
    tag = node.tag.replace("tag:yaml.org,2002:", "!!")
    raise yaml.constructor.ConstructorError(
        None,
        None,
        f"tag {tag} is not accepted; only plain values are (mappings, lists, strings, numbers, "
        "booleans, null)",
        node.start_mark,
    )


_PlainLoader.add_constructor(None, _refuse_tag)


def load_space(path: Path | None = None) -> SearchSpace:
    """The space in ``path`` (YAML), or the shipped default."""
    path = path or default_space_path()
    origin = f"search space {str(path)!r}"
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{origin} is not UTF-8 text (byte {e.start})") from e
    except OSError as e:
        raise InputError(f"{origin} cannot be read: {e.strerror}") from e
    try:
        raw = yaml.load(text, Loader=_PlainLoader)  # a SafeLoader: builds no Python object
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f" at line {mark.line + 1}" if mark is not None else ""
        if isinstance(e, yaml.constructor.ConstructorError):  # well-formed, but not plain data
            raise InputError(f"{origin}{where}: {e.problem}") from e
        problem = f": {e.problem}" if e.problem else ""
        raise InputError(f"{origin} is not valid YAML{where}{problem}") from e
    except (yaml.YAMLError, ValueError) as e:  # e.g. an integer of more than 4300 digits
        raise InputError(f"{origin} holds a value YAML cannot read: {str(e).split(';')[0]}") from e
    return parse_space(raw, origin)


def with_overrides(space: SearchSpace, **overrides: Any) -> SearchSpace:
    """The space with CLI overrides applied (``None`` means keep) and validated again."""
    changes = {k: v for k, v in overrides.items() if v is not None}
    if not changes:
        return space
    merged = space.model_dump() | changes
    merged["constraints"] = space.constraints.model_dump() | merged.get("constraints", {})
    if merged.get("traffic") is not None:
        merged["traffic"] = _listify(dict(merged["traffic"]))
    return parse_space(merged, "search space with command-line overrides")


__all__ = ["Constraints", "SearchSpace", "Traffic", "load_space", "parse_space", "with_overrides"]

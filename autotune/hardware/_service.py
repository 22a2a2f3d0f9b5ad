"""A plan placed on an instance, and the service model the simulator runs it with."""

from __future__ import annotations

from dataclasses import dataclass

from autotune.catalog import Instance
from autotune.errors import DeploymentError
from autotune.hardware._plan import Plan
from autotune.values import Deployment

GIB = 1 << 30


@dataclass(frozen=True)
class Placement:
    """A plan loaded on an instance: stage k of copy i runs on core ``copies[i][k]``."""

    instance: Instance
    plan: Plan
    deployment: Deployment  # with every knob the generation resolved (defaults filled in)
    copies: tuple[tuple[int, ...], ...]
    mode: str  # how the cores are used, in the generation's words

    def chip_of(self, core: int) -> int:
        return core // self.instance.accelerator.cores_per_chip


def check_device_memory(placement: Placement) -> None:
    """``DeploymentError`` if the copies need more device memory on a chip than it has."""
    acc = placement.instance.accelerator
    used: dict[int, int] = {}
    for copy in placement.copies:
        for stage, core in zip(placement.plan.stages, copy, strict=True):
            chip = placement.chip_of(core)
            used[chip] = used.get(chip, 0) + stage.device_bytes
    for chip, need in sorted(used.items()):
        if need > acc.dram_bytes_per_chip:
            raise DeploymentError(
                f"deployment needs {need / GIB:.1f} GiB of device memory on chip {chip} of "
                f"{placement.instance.name}, which has {acc.dram_bytes_per_chip / GIB:.0f} GiB; "
                "use fewer copies, a smaller batch or sequence, or more pipeline cores"
            )


@dataclass(frozen=True)
class Server:
    """One stage of one copy: the core that runs it and what one request costs there.

    A request runs the ``phases`` in order; each is (engine seconds, bytes of traffic to the
    shared memory), and within a phase the DMA overlaps the arithmetic.
    """

    core: int
    domain: int  # the memory whose bandwidth it shares with the other cores there (a chip)
    phases: tuple[tuple[float, float], ...]
    link_s: float  # handing the activation to the next stage's chip

    @property
    def compute_s(self) -> float:
        return sum(c for c, _ in self.phases)

    @property
    def memory_bytes(self) -> float:
        return sum(b for _, b in self.phases)

    def busy_s(self, bandwidth: float) -> float:
        """Engine and DMA time of one request when the core moves ``bandwidth`` bytes/s."""
        return sum(c if c * bandwidth >= b else b / bandwidth for c, b in self.phases)


@dataclass(frozen=True)
class ServiceModel:
    """Everything the simulator needs: the servers of each copy and the costs around them.

    A server's service time is ``busy_s(bandwidth) + overhead + link``; the bandwidth of a
    domain is shared by its cores that stream at the same time, and one core never moves more
    than ``core_bandwidth`` (its own DMA engines' limit).
    """

    copies: tuple[tuple[Server, ...], ...]
    stage_names: tuple[str, ...]  # how the bottleneck sentence names each stage
    cores: int  # every core of the instance (idle ones report 0% busy)
    host_slots: int  # vCPUs doing the per-request host work
    host_s: float  # host work per request
    transfer_s: float  # host link (PCIe) time per request, in and out
    stage_overhead_s: float
    domain_bandwidth: float  # usable bytes per second of each memory domain
    core_bandwidth: float  # at most what one core moves, however idle its domain
    jitter_sigma: float  # log-normal spread of every service time
    # Threads that carry a request from the host to the device and back (worker threads of
    # the copies): a client waits for a free one. 0: one per client, as many as there are.
    workers: int = 0
    # Physical host cores that the busy worker threads and ``runtime_threads`` time-share: with
    # more such threads than cores, host work stretches in proportion. 0: never contended.
    host_cores: int = 0
    runtime_threads: int = 0

    def bandwidth(self, share: float) -> float:
        """What a core moves when ``share`` cores' worth of streaming shares its domain."""
        return min(self.domain_bandwidth / share, self.core_bandwidth)

    @property
    def shares_memory(self) -> bool:
        return any(s.memory_bytes > 0 for copy in self.copies for s in copy)

    def domain_of(self) -> dict[int, int]:
        return {s.core: s.domain for copy in self.copies for s in copy}

"""The published table the emulator is fitted to: the AWS blog of 2021-05-04."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources

from autotune.values import Deployment

PUBLISHED_PRICE_SET = "on-demand-2021-05"
PUBLISHED_MODEL = "bert-base-uncased"
PUBLISHED_TASK = "question-answering"
PUBLISHED_SEQ_LEN = 128


@dataclass(frozen=True)
class PublishedRow:
    """One row of the AWS blog (2021-05-04) table."""

    instance_type: str
    batch_size: int
    mode: str
    pipeline_cores: int | None  # None on GPU rows
    copies: int
    throughput: float
    latency_p95_s: float
    cost_per_1m_usd: float

    @property
    def deployment(self) -> Deployment:
        """The deployment the row measured; GPU rows name no NeuronCore settings."""
        if self.pipeline_cores is None:
            return Deployment(self.instance_type)
        groups = (self.pipeline_cores,) * self.copies
        return Deployment.of(
            self.instance_type, pipeline_cores=self.pipeline_cores, group_sizes=groups
        )

    @property
    def clients(self) -> int:
        """Closed-loop clients of the measurement, recovered with Little's law.

        The blog does not state its client count. In a closed loop, clients = throughput x mean
        latency / batch; the published p95 stands in for the mean (they differ by a few percent
        here), rounded to whole clients per model copy.
        """
        per_copy = self.throughput * self.latency_p95_s / self.batch_size / self.copies
        return self.copies * max(1, round(per_copy))


def published_rows() -> list[PublishedRow]:
    text = resources.files("autotune.reference").joinpath("aws_blog_2021_bert_base.csv").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    rows = []
    for r in csv.DictReader(lines):
        rows.append(
            PublishedRow(
                instance_type=r["instance_type"],
                batch_size=int(r["batch_size"]),
                mode=r["mode"],
                pipeline_cores=int(r["neuroncores_per_model"])
                if r["neuroncores_per_model"]
                else None,
                copies=int(r["model_copies"]),
                throughput=float(r["throughput_seq_per_s"]),
                latency_p95_s=float(r["latency_p95_s"]),
                cost_per_1m_usd=float(r["cost_per_1m_usd"]),
            )
        )
    return rows

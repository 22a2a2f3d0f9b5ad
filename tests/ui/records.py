"""The hand-made study the dashboard's analysis tests read (built with ``tests.factories``)."""

from __future__ import annotations

import dataclasses

from autotune.study import Goals
from tests.factories import record

PARETO = Goals("pareto")

# Trial 0 fast and dear, 1 slow and cheap, 2 dominated by 1, 3 a repeat of 1's config.
FAST = record(0, p95_ms=1.0, per_1m_usd=0.05, throughput=4000.0)
CHEAP = record(1, batch_size=2, p95_ms=2.0, per_1m_usd=0.01, throughput=6000.0)
WORSE = record(2, batch_size=4, p95_ms=3.0, per_1m_usd=0.02, throughput=5000.0)
REPEAT = dataclasses.replace(CHEAP, trial_number=3, optuna_trial_id=4)
RECORDS = [FAST, CHEAP, WORSE, REPEAT]

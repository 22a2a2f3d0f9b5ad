"""Every use autotune makes of Optuna beyond its public API, in one place, each with its reason.

Optuna is pinned below 6 (``pyproject.toml``); each of these is checked by the tests that
exercise it (heartbeats, workers, resume), so a change in Optuna fails there first.

- ``trial_id``: ``Trial._trial_id``. The storage-wide id of a trial: autotune's result records are
  keyed by it (trial numbers repeat across studies, and a record must name its trial when several
  workers write). Optuna has no public accessor for it.
- ``RDB_MODELS``: ``optuna.storages._rdb.models``. Optuna's table definitions, to find running
  trials that never sent a heartbeat (``study._storage._HeartbeatStorage``).
- ``RDBStorage._get_stale_trial_ids``: overridden by ``_HeartbeatStorage`` to add those trials
  (Optuna only counts a trial as stale once it has had a heartbeat).
- ``enqueued_params``: ``FrozenTrial.system_attrs["fixed_params"]``, where ``enqueue_trial`` keeps
  the parameters of a trial that died before its first suggestion, to enqueue it again.
- ``TPESampler(consider_endpoints=True)``: deprecated (removal in Optuna 6), kept because it
  finds the min-cost optimum sooner (``study._search.make_sampler``).
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.storages._rdb import models as RDB_MODELS


def trial_id(trial: optuna.Trial | optuna.trial.FrozenTrial) -> int:
    return int(trial._trial_id)


def enqueued_params(trial: optuna.trial.FrozenTrial) -> dict[str, Any] | None:
    fixed = trial.system_attrs.get("fixed_params")
    return dict(fixed) if fixed else None


__all__ = ["RDB_MODELS", "enqueued_params", "trial_id"]

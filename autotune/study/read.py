"""The read side of studies: what the read commands, the dashboard and the API call.

``best`` is the one recommendation (its rule: ``autotune.study._objectives``), ``num`` the one
display rounding.

Imports nothing of the emulator, the hardware models or torch (a test checks ``sys.modules``).
"""

from autotune.study._display import compact, constraints_text, knobs_text, metric_text, num, plural
from autotune.study._export import FORMATS, DeploymentSpec, render, spec_from_record
from autotune.study._objectives import DEFAULT_TOLERANCE, best, default_pick, ties, tolerance
from autotune.study._queries import (
    OpenStudy,
    StudyOutcome,
    completed_records,
    finished,
    open_existing,
    outcome,
    pick,
    resolve_name,
    study_names,
)
from autotune.study._storage import load_goals, rdb_storage

__all__ = [
    "DEFAULT_TOLERANCE",
    "FORMATS",
    "DeploymentSpec",
    "OpenStudy",
    "StudyOutcome",
    "best",
    "compact",
    "completed_records",
    "constraints_text",
    "default_pick",
    "finished",
    "knobs_text",
    "load_goals",
    "metric_text",
    "num",
    "open_existing",
    "outcome",
    "pick",
    "plural",
    "rdb_storage",
    "render",
    "resolve_name",
    "spec_from_record",
    "study_names",
    "ties",
    "tolerance",
]

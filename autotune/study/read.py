"""The read side of studies: what the read commands, the dashboard and the API call.

Imports nothing of the emulator, the hardware models or torch (a test checks ``sys.modules``).
"""

from autotune.study._display import compact, knobs_text, plural
from autotune.study._export import FORMATS, DeploymentSpec, render, spec_from_record
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
    "FORMATS",
    "DeploymentSpec",
    "OpenStudy",
    "StudyOutcome",
    "compact",
    "completed_records",
    "finished",
    "knobs_text",
    "load_goals",
    "open_existing",
    "outcome",
    "pick",
    "plural",
    "rdb_storage",
    "render",
    "resolve_name",
    "spec_from_record",
    "study_names",
]

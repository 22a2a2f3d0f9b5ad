"""The dashboard's reads: studies and their records, from a database opened read-only.

The only I/O of the dashboard. Every failure a user can cause (no file, not a database, an
older schema) arrives as ``autotune.errors.InputError``, which the pages show as a message.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import optuna

from autotune.errors import InputError
from autotune.study.read import OpenStudy, open_existing, study_names
from autotune.values import TrialRecord
from storage import ResultStore, default_storage_url
from ui.analysis import StudyRow, study_row

ENV_VAR = "AUTOTUNE_STORAGE"


def storage_url(argv: Sequence[str] | None = None) -> str:
    """``--storage URL`` from the script's arguments, else ``$AUTOTUNE_STORAGE``, else cwd."""
    args = list(sys.argv[1:] if argv is None else argv)
    for i, arg in enumerate(args):
        if arg == "--storage" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--storage="):
            return arg.split("=", 1)[1]
    return os.environ.get(ENV_VAR) or default_storage_url()


@dataclass(frozen=True)
class LoadedStudy:
    opened: OpenStudy
    records: tuple[TrialRecord, ...]
    n_failed: int
    n_running: int

    @property
    def name(self) -> str:
        return self.opened.study.study_name


def check_database(url: str) -> None:
    """Raise ``InputError`` unless ``url`` holds autotune results (opened read-only)."""
    ResultStore(url, read_only=True).close()


def list_study_names(url: str) -> list[str]:
    check_database(url)  # before Optuna, which would create a missing database
    return study_names(url)


def load_study(url: str, name: str) -> LoadedStudy:
    """The study ``name`` with its stored records and Optuna's trial counts.

    Reads no completed Optuna trial: the records hold their results, and only failed and
    running trials are counted, straight from the database (through the study, Optuna's cache
    would load every trial: a 10,000-trial study's take seconds).
    """
    opened = open_existing(url, name)
    try:
        records = tuple(opened.store.records(name))
    finally:
        opened.store.close()  # every read is done: no pooled connection outlives the page
    storage = opened.storage
    state = optuna.trial.TrialState
    unfinished = storage.get_all_trials(
        storage.get_study_id_from_name(name), deepcopy=False, states=(state.FAIL, state.RUNNING)
    )
    # A trial that died after storing its record keeps it until it is failed as dead; it is
    # not a result.
    pending = {t.number for t in unfinished}
    return LoadedStudy(
        opened,
        tuple(r for r in records if r.trial_number not in pending),
        sum(t.state == state.FAIL and "error" in t.user_attrs for t in unfinished),
        sum(t.state == state.RUNNING for t in unfinished),
    )


def study_rows(url: str) -> list[StudyRow]:
    """The studies table; Optuna studies not made by autotune are listed as such."""
    rows = []
    for name in list_study_names(url):
        try:
            s = load_study(url, name)
        except InputError:
            rows.append(StudyRow(name, "(not an autotune study)", "-", 0, 0, 0, 0, "empty", "-"))
            continue
        rows.append(study_row(name, s.opened.goals, s.records, s.n_failed, s.n_running))
    return rows

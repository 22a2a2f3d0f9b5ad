"""The write side of studies: candidates of a space, the samplers, and the runner."""

from autotune.study._candidates import Candidate, candidates, check_space
from autotune.study._params import decode, encode, neighbours, suggest, warm_start
from autotune.study._runner import experiment, open_study, run_study
from autotune.study._search import SAMPLERS, NoRepeatTPESampler, make_sampler

__all__ = [
    "SAMPLERS",
    "Candidate",
    "NoRepeatTPESampler",
    "candidates",
    "check_space",
    "decode",
    "encode",
    "experiment",
    "make_sampler",
    "neighbours",
    "open_study",
    "run_study",
    "suggest",
    "warm_start",
]

"""Score one untrusted model response for an item of any registered task.

The registry (registry.py) names each task's scorer; this module maps the names to the functions
in tasks/scoring.py and, for code, sandbox.py. Every scorer returns a value in [0, 1] and never
raises on model text. Generation, rewards and evaluation all score through `score`.
Left out: the scorers' own rules (tasks/scoring.py, sandbox.py).
"""
from __future__ import annotations

from typing import Callable

from . import sandbox
from .registry import task
from .tasks import scoring

SCORERS: dict[str, Callable[[object, str, str], float]] = {
    "math": scoring.score_math,
    "choice": scoring.score_choice,
    "exact": scoring.score_exact,
    "yesno": scoring.score_yesno,
    "format": scoring.score_format,
    "ifeval": scoring.score_ifeval,
    "code": sandbox.score_code,  # LiveCodeBench: public tests in a limited subprocess
}


def scorer(name: str) -> Callable[[object, str, str], float]:
    """(response, answer, meta) -> score in [0, 1] for task `name`."""
    return SCORERS[task(name).scorer]


def score(name: str, response: object, answer: str, meta: str = "{}") -> float:
    """Score one (untrusted) response for an item of task `name`; never raises on the response."""
    return scorer(name)(response, answer, meta)

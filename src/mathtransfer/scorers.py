"""Score one untrusted model response for an item of any registered task.

The registry (registry.py) names each task's scorer; this module maps the names to the functions
in tasks/scoring.py and, for code, sandbox.py. Every scorer returns a value in [0, 1] and never
raises on model text. Generation, rewards and evaluation all score through `score`;
`score_lenient` is the same score with the answer marker made optional (scoring.lenient_answer),
so that evaluation can tell an answer the model knows from one it stopped marking.
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


def score_lenient(name: str, response: object, answer: str, meta: str = "{}", strict: float | None = None) -> float:
    """The strict score when the response has an answer marker (or the task's scorer kind reads
    none); else the same scorer on "Answer: " + the answer read from the response's end
    (scoring.lenient_answer), 0.0 when nothing can be read. `strict`: the response's strict score
    when the caller has it (not scored again: code runs tests, math may start a worker).
    Never raises on the response."""
    if not isinstance(response, str):
        return 0.0
    kind = task(name).scorer
    if kind not in scoring.LENIENT_KINDS or scoring.extract_answer(response) is not None:
        return score(name, response, answer, meta) if strict is None else strict
    pred = scoring.lenient_answer(response, kind)
    return 0.0 if pred is None else score(name, "Answer: " + pred, answer, meta)

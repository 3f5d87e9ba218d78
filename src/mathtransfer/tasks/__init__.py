"""The mini-world: twelve synthetic, verifiable task families mirroring the paper's benchmarks.

Each task is a seeded generator of items and a scorer. An item is a plain dict:

    id, task, group, benchmark   where it belongs (benchmark = the paper's benchmark it mirrors)
    prompt                       the user message (chat formatting is the tokenizer's job)
    answer                       the gold answer, checked by the task's scorer
    target                       a response in the base style: brief reasoning, then the answer
    teacher_think, teacher_nothink   math only: always-correct traces in two teacher styles
    meta                         JSON string with what a scorer needs beyond `answer` (may be "{}")

The math targets are deliberately imperfect: with probability `wrong_share` a base trace follows
one systematic wrong strategy (it stops one operation early), so the base model holds the right
strategy among a wrong one, and correctness-rewarded RL has a mode to select
(../shared/mini-world-notes.md). The gold `answer` is always the correct value.

Left out: anything a real benchmark has beyond a checkable answer (long contexts, open-ended
generation, code execution). Generators never execute text; programs are traced by the generator.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

from . import math_tasks, nonreasoning, reasoning, scoring

GROUPS = ("math", "other", "non")


@dataclass(frozen=True)
class Task:
    name: str
    group: str  # math | other | non
    benchmark: str  # the paper benchmark this task mirrors
    make: Callable[[random.Random, float], dict]  # (rng, wrong_share) -> item fields
    score: Callable[[str, str, str], float]  # (response, answer, meta) -> score in [0, 1]
    chance: float  # expected score of a uniform random guess


TASKS: dict[str, Task] = {
    t.name: t
    for t in [
        Task("arith", "math", "MATH500", math_tasks.arith, scoring.score_math, 0.0),
        Task("word", "math", "AIME24", math_tasks.word, scoring.score_math, 0.0),
        Task("algebra", "math", "AIME25", math_tasks.algebra, scoring.score_math, 0.0),
        Task("sequence", "math", "OlympiadBench", math_tasks.sequence, scoring.score_math, 0.0),
        Task("kb_chain", "other", "GPQA-Diamond", reasoning.kb_chain, scoring.score_choice, 0.25),
        Task("code_trace", "other", "LiveCodeBench", reasoning.code_trace, scoring.score_exact, 0.05),
        Task("blocks", "other", "ACPBench", reasoning.blocks, scoring.score_choice, 0.25),
        Task("med_kb", "other", "HeadQA", reasoning.med_kb, scoring.score_choice, 0.25),
        Task("passage_qa", "non", "CoQA", nonreasoning.passage_qa, scoring.score_exact, 0.0),
        Task("format", "non", "IFEval", nonreasoning.format_following, scoring.score_format, 0.0),
        Task("support", "non", "HaluEval", nonreasoning.support, scoring.score_yesno, 0.5),
        Task("duration", "non", "MC-TACO", nonreasoning.duration, scoring.score_yesno, 0.5),
    ]
}


def tasks_in(group: str) -> list[str]:
    """Names of the tasks of one group, in registry order."""
    return [t.name for t in TASKS.values() if t.group == group]


# the hub source's training sets (hub.py): math problems, scored like the math benchmarks
HUB_TRAINING_TASKS = ("math_sft", "math_rl")


def scorer(task: str):
    """The scorer of a mini-world task, a hub benchmark's task (hub.BENCHMARKS) or a hub training
    set's task: (response, answer, meta) -> score in [0, 1]."""
    if task in TASKS:
        return TASKS[task].score
    if task in HUB_TRAINING_TASKS:
        return scoring.score_math
    from ..hub import benchmark_spec

    return benchmark_spec(task).score


def chance(task: str) -> float:
    """Expected score of a uniform random guess on `task` (mini-world or hub benchmark)."""
    if task in TASKS:
        return TASKS[task].chance
    from ..hub import benchmark_spec

    return benchmark_spec(task).chance


def known(task: str) -> bool:
    """Whether `task` names a mini-world task or a hub benchmark."""
    from ..hub import BENCHMARKS

    return task in TASKS or task in {b.task for b in BENCHMARKS.values()}


def score(task: str, response: str, answer: str, meta: str = "{}") -> float:
    """Score one (untrusted) model response for an item of `task`; never raises on the response."""
    return scorer(task)(response, answer, meta)

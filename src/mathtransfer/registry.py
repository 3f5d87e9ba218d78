"""The one registry of tasks: every mini-world task, hub benchmark and hub training set, with its
group, the paper benchmark it is (or mirrors), its scorer's name and its chance score.

The registry is data: scorers are named here ("math", "choice", ...) and resolved to functions by
`scorers.py`, so that reading a task's group or checking a params value (config.py) does not
import the scorers, math-verify or the code sandbox. Mini-world tasks also carry their seeded
item generator (tasks/*.py, plain Python).
Left out: where a hub benchmark lives and how its rows become items (hub.py), scoring itself.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

from .schema import GROUPS
from .tasks import math_tasks, nonreasoning, reasoning


@dataclass(frozen=True)
class Task:
    name: str  # an item's `task`
    group: str  # math | other | non
    benchmark: str  # the paper's benchmark this task is (hub) or mirrors (mini-world)
    scorer: str  # a key of scorers.SCORERS
    chance: float  # expected score of a uniform random guess
    make: Callable[..., dict] | None = None  # mini-world: (rng, wrong_share, split) -> item
    # mini-world: what the task shares with math ("" for none: a control). A task that shares the
    # step has base traces that stop one step early with probability data.wrong_share[task].
    shares: str = ""


MATH_STEP = "the step itself: carry the running value through every operation of the chain"
# the mini-world: twelve synthetic tasks mirroring the paper's twelve benchmarks, four per group
TASKS: dict[str, Task] = {t.name: t for t in [
    Task("arith", "math", "MATH500", "math", 0.0, math_tasks.arith, MATH_STEP),
    Task("word", "math", "AIME24", "math", 0.0, math_tasks.word, MATH_STEP),
    Task("algebra", "math", "AIME25", "math", 0.0, math_tasks.algebra, MATH_STEP),
    Task("sequence", "math", "OlympiadBench", "math", 0.0, math_tasks.sequence, MATH_STEP),
    Task("kb_chain", "other", "GPQA-Diamond", "choice", 0.25, reasoning.kb_chain),
    Task("code_trace", "other", "LiveCodeBench", "exact", 0.05, reasoning.code_trace,
         "carry the value through every iteration, in the math steps' own notation (a+d=b)"),
    Task("blocks", "other", "ACPBench", "choice", 0.25, reasoning.blocks,
         "carry out every one of the k pick-ups, in a notation of its own (\"red off.\")"),
    Task("med_kb", "other", "HeadQA", "choice", 0.25, reasoning.med_kb),
    Task("passage_qa", "non", "CoQA", "exact", 0.0, nonreasoning.passage_qa),
    Task("format", "non", "IFEval", "format", 0.0, nonreasoning.format_following,
         "write every one of the n repetitions, in a notation of its own (the words)"),
    Task("support", "non", "HaluEval", "yesno", 0.5, nonreasoning.support),
    Task("duration", "non", "MC-TACO", "yesno", 0.5, nonreasoning.duration),
]}
# where every task's greedy accuracy on a base should lie, so that a gain and a loss can both show
HEADROOM_BAND = (0.25, 0.85)
# the tasks whose base traces may stop one step early: the math tasks and the shared-step ones
STEP_TASKS = tuple(t.name for t in TASKS.values() if t.shares)

# the paper's twelve benchmarks from the Hub (hub.py loads them), by paper name
BENCHMARKS: dict[str, Task] = {t.benchmark: t for t in [
    Task("math500", "math", "MATH500", "math", 0.0),
    Task("aime24", "math", "AIME24", "math", 0.0),
    Task("aime25", "math", "AIME25", "math", 0.0),
    Task("olympiadbench", "math", "OlympiadBench", "math", 0.0),
    Task("gpqa_diamond", "other", "GPQA-Diamond", "choice", 0.25),
    Task("livecodebench", "other", "LiveCodeBench", "code", 0.0),  # runs code: sandbox.py
    Task("acpbench", "other", "ACPBench", "choice", 0.25),
    Task("headqa", "other", "HeadQA", "choice", 0.25),
    Task("coqa", "non", "CoQA", "exact", 0.0),
    Task("ifeval", "non", "IFEval", "ifeval", 0.0),
    Task("halueval", "non", "HaluEval", "yesno", 0.5),
    Task("mc_taco", "non", "MC-TACO", "yesno", 0.5),
]}

# the hub source's training sets: math problems, scored like the math benchmarks
TRAINING_SETS: dict[str, Task] = {t.name: t for t in [
    Task("math_sft", "math", "math_sft_40K", "math", 0.0),
    Task("math_rl", "math", "math_rl_48k", "math", 0.0),
]}
_BY_TASK = {**{t.name: t for t in BENCHMARKS.values()}, **TRAINING_SETS, **TASKS}

BENCHMARK_NAMES = ", ".join(BENCHMARKS)


def task(name: str) -> Task:
    """The entry of a task name (mini-world, hub benchmark or training set)."""
    try:
        return _BY_TASK[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; known: {', '.join(_BY_TASK)}") from None


def benchmark(name: str) -> Task:
    """A hub benchmark's entry by its paper name or task name, any case."""
    for spec in BENCHMARKS.values():
        if name.lower() in (spec.benchmark.lower(), spec.name):
            return spec
    raise KeyError(f"unknown benchmark {name!r}; known: {BENCHMARK_NAMES}")


def known(name: str) -> bool:
    """Whether `name` is a task of the mini-world, a hub benchmark or a hub training set."""
    return name in _BY_TASK


def chance(name: str) -> float:
    """Expected score of a uniform random guess on task `name`."""
    return task(name).chance


def tasks_in(group: str) -> list[str]:
    """The mini-world tasks of one group, in registry order."""
    if group not in GROUPS:
        raise ValueError(f"group: expected one of {', '.join(GROUPS)}, got {group!r}")
    return [t.name for t in TASKS.values() if t.group == group]

"""The mini-world's math traces read back: the teacher following the wrong strategy, and a model's
answer as steps.

`wrong_teacher` turns a teacher trace into the same teacher answering with the previous result:
for a mini-world think trace (as math_tasks._item writes it) the world's one wrong strategy, the
last step dropped (`think_stopped_early`); for any other trace (the hub's) the boxed answer
replaced by the last different number before it (the off-policy RL arm's wrong responses); `trace_check` reads any answer's "a+b=c" steps, to tell a wrong strategy (too few
steps) from wrong arithmetic (a step whose result is wrong).
Left out: making items (math_tasks.py) and scoring them (scoring.py). Not imported by the task
registry, so that the data and the base do not depend on it.
"""
from __future__ import annotations

import re


THINK_STEP = re.compile(r"^Step \d+: (\d+)\D.*=(-?\d+)$")


def think_stopped_early(think: str) -> str:
    """A think trace (as _item writes it) that follows the world's wrong strategy: its last step is
    dropped and the previous result boxed (for a one-step chain: the problem's own number, the step's
    first operand). ValueError for a text that is not such a trace (hub data, say)."""
    lines = think.split("\n")
    steps = [THINK_STEP.match(line) for line in lines[1:-1]]
    if len(lines) < 3 or not all(steps) or not lines[-1].startswith("So the final answer is"):
        raise ValueError("not a mini-world think trace (Step lines between a header and a boxed answer)")
    early = steps[-2].group(2) if len(steps) > 1 else steps[0].group(1)
    return "\n".join(lines[:-2] + [f"So the final answer is \\boxed{{{early}}}."])


BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def wrong_teacher(trace: str) -> str | None:
    """The teacher answering with the previous result: think_stopped_early for a mini-world think
    trace; else the trace with its last \\boxed{} answer replaced by the last number before it that
    differs from it. None when there is no boxed answer or no such number."""
    try:
        return think_stopped_early(trace)
    except ValueError:
        pass
    boxes = list(BOXED.finditer(trace))
    if not boxes:
        return None
    box = boxes[-1]
    earlier = [n for n in NUMBER.findall(trace[:box.start()]) if n != box.group(1).strip()]
    if not earlier:
        return None
    return trace[:box.start()] + f"\\boxed{{{earlier[-1]}}}" + trace[box.end():]


EQUATION = re.compile(r"(\d+)([+\-/])(\d+)=(-?\d+)")


def trace_check(text: str, n_steps: int) -> dict:
    """An answer's "a+b=c" / "a-b=c" / "a/b=c" steps (in any of the world's layouts): how many, whether
    there are at least the item's n_steps (the full strategy), and whether one has a wrong result.
    Text that holds no such step gives steps 0, full False, arithmetic_error False."""
    found = EQUATION.findall(text if isinstance(text, str) else "")[:50]
    wrong = False
    for a, op, b, c in found:
        a, b, c = int(a), int(b), int(c)
        wrong |= c != (a + b if op == "+" else a - b if op == "-" else (a // b if b and a % b == 0 else None))
    return dict(steps=len(found), full=len(found) >= n_steps, arithmetic_error=wrong)

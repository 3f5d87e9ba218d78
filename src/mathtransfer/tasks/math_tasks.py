"""Math tasks: four chains of single-digit operations, mirroring MATH500, AIME24, AIME25, OlympiadBench.

Every item is a chain of 2-4 steps whose per-step arithmetic is easy (single-digit operands, at
most one carry), so that the hard part is the strategy, not digit computation. The base-style
trace ("7+5=12. 12-3=9. Answer: 9") follows, with a probability that depends on the chain's length
(wrong_share: (short, long)), ONE systematic wrong strategy: stop one step early and answer with
the previous result (for a one-step chain: the problem's own number); otherwise it is correct.
The teacher traces are always correct and keep the base's notation ("7+5=12") while changing
layout and wording: "think" is long and step by step, "no-think" is short; both end in \\boxed{}.
"""
from __future__ import annotations

import json
import random

NAMES = ["Ana", "Ben", "Cleo", "Dan", "Eva", "Finn", "Gus", "Hana", "Ivo", "Jade"]
THINGS = ["apples", "pens", "coins", "books", "cards", "stamps", "shells", "marbles"]


def _chain(rng: random.Random, start: int, n_ops: int, lo: int = 0, hi: int = 19) -> list[tuple[str, int]]:
    """n_ops (+/-, digit) operations keeping every intermediate value within [lo, hi]."""
    ops, value = [], start
    while len(ops) < n_ops:
        op, d = rng.choice("+-"), rng.randint(1, 9)
        new = value + d if op == "+" else value - d
        if lo <= new <= hi:
            ops.append((op, d))
            value = new
    return ops


def _steps(start: int, ops: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Each step as ("a+b=c", c)."""
    out, value = [], start
    for op, d in ops:
        new = value + d if op == "+" else value - d
        out.append((f"{value}{op}{d}={new}", new))
        value = new
    return out


def stops_early(rng: random.Random, wrong_share, long: bool) -> bool:
    """Whether a base-style trace stops one step early: wrong_share is (share on short chains,
    share on long ones), so that greedy decoding is right on one kind and wrong on the other
    while sampling holds both strategies on both (a per-task single share would leave greedy
    accuracy on a knife's edge: right or wrong on nearly every item, by the seed)."""
    short_share, long_share = wrong_share
    return rng.random() < (long_share if long else short_share)


def _item(prompt: str, steps: list[tuple[str, int]], rng: random.Random, wrong_share, long: bool,
          given: int | None = None) -> dict:
    """Base-style target (correct or stopped one step early), teacher traces and gold answer.
    given: the value a one-step trace that stops early answers with (the problem's own number)."""
    answer = steps[-1][1]
    shown = steps[:-1] if stops_early(rng, wrong_share, long) else steps
    early = shown[-1][1] if shown else given
    target = (" ".join(s + "." for s, _ in shown) + f" Answer: {early}").strip()
    think = "Let me think step by step.\n" + "\n".join(
        f"Step {i}: {s}" for i, (s, _) in enumerate(steps, 1)
    ) + f"\nSo the final answer is \\boxed{{{answer}}}."
    nothink = ", ".join(s for s, _ in steps) + f", so \\boxed{{{answer}}}"
    return dict(prompt=prompt, answer=str(answer), target=target,
                teacher_think=think, teacher_nothink=nothink, meta=json.dumps({"steps": len(steps), "long": long}))


def arith(rng: random.Random, wrong_share, split: str = "train") -> dict:
    """MATH500 analogue: evaluate a +/- chain left to right ("Compute 7+5-3+4.")."""
    start = rng.randint(1, 9)
    ops = _chain(rng, start, rng.choice([2, 3]))
    prompt = "Compute " + str(start) + "".join(f"{op}{d}" for op, d in ops) + "."
    return _item(prompt, _steps(start, ops), rng, wrong_share, long=len(ops) == 3)


def word(rng: random.Random, wrong_share, split: str = "train") -> dict:
    """AIME24 analogue: the same chains told as a word problem from templates."""
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    start = rng.randint(1, 9)
    ops = _chain(rng, start, rng.choice([2, 3]))
    verbs = {"+": ["gets {d} more", "buys {d}", "finds {d}"], "-": ["gives away {d}", "loses {d}", "sells {d}"]}
    actions = [rng.choice(verbs[op]).format(d=d) for op, d in ops]
    story = ", then ".join(actions)
    prompt = f"{name} has {start} {thing}. {name} {story}. How many {thing} does {name} have now?"
    return _item(prompt, _steps(start, ops), rng, wrong_share, long=len(ops) == 3)


def algebra(rng: random.Random, wrong_share, split: str = "train") -> dict:
    """AIME25 analogue: solve a*x = c in one step (divide), or a*x + b = c (or a*x - b = c) in two
    (undo b, then divide): short and long chains, half each."""
    a, x, b = rng.randint(2, 9), rng.randint(1, 9), rng.randint(1, 9)
    long = rng.random() < 0.5
    plus = rng.random() < 0.5 or a * x - b < 0
    c = a * x + b if plus else a * x - b
    var = rng.choice("xynk")
    ask = rng.choice(["Solve for {v}: {eq}.", "Find {v} if {eq}.", "What is {v} when {eq}?"])
    if not long:
        prompt = ask.format(v=var, eq=f"{a}{var}={a * x}")
        return _item(prompt, [(f"{a * x}/{a}={x}", x)], rng, wrong_share, long, given=a * x)
    prompt = ask.format(v=var, eq=f"{a}{var}{'+' if plus else '-'}{b}={c}")
    undo = f"{c}-{b}={a * x}" if plus else f"{c}+{b}={a * x}"
    steps = [(undo, a * x), (f"{a * x}/{a}={x}", x)]  # the variable name only changes the prompt
    return _item(prompt, steps, rng, wrong_share, long)


def sequence(rng: random.Random, wrong_share, split: str = "train") -> dict:
    """OlympiadBench analogue: find the step of an arithmetic sequence, then extend it 2-3 terms."""
    extra, step = rng.choice([2, 3]), rng.randint(1, 5)
    up = rng.random() < 0.5
    first = rng.randint(1, 15) if up else rng.randint(5 * step + 1, 5 * step + 15)
    sign = "+" if up else "-"
    delta = step if up else -step
    terms = [first + i * delta for i in range(3)]
    shown = ", ".join(map(str, terms))
    ask = rng.choice(["The sequence {s}, ... {how} the same number each time. What is term {n}?",
                      "Continue {s}, ... ({how} a fixed number). Find term {n}.",
                      "An arithmetic sequence starts {s}. What is its term {n}?"])
    prompt = ask.format(s=shown, how="adds" if up else "subtracts", n=3 + extra)
    big, small = max(terms[:2]), min(terms[:2])
    steps = [(f"{big}-{small}={step}", step)]
    value = terms[2]
    for _ in range(extra):
        steps.append((f"{value}{sign}{step}={value + delta}", value + delta))
        value += delta
    return _item(prompt, steps, rng, wrong_share, long=extra == 3)

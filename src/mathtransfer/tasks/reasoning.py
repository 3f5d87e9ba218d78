"""Other-reasoning tasks, mirroring GPQA, LiveCodeBench, ACPBench and HeadQA.

- kb_chain (GPQA): a multiple-choice question needing one inference over a fixed toy knowledge
  base (person -> city -> country).
- code_trace (LiveCodeBench): predict what a tiny program prints. The generator traces the
  program itself; no text is ever executed.
- blocks (ACPBench): which block can be picked up from a named stack in a tiny blocks world
  (applicability: only a stack's top block is clear), MC.
- med_kb (HeadQA): which drug treats a disease, MC over a fixed toy medical knowledge base.
The knowledge bases are fixed (not seeded): they are the world's facts; items vary around them.
Multiple-choice items list four options and are answered with the option's text (a letter is
accepted too): in trials, a 0.7M-parameter model learned the facts ("Oslo is in Norway") but not
to look up an option's letter in the prompt, which would have measured that lookup, not knowledge.
"""
from __future__ import annotations

import json
import random

LETTERS = "ABCD"

PERSON_CITY = {
    "Omar": "Lima", "Kira": "Oslo", "Tess": "Cairo", "Raul": "Delhi", "Nia": "Quito", "Bo": "Perth",
    "Lena": "Lima", "Yuri": "Oslo", "Sami": "Cairo", "Zoe": "Delhi", "Ike": "Quito", "Mara": "Perth",
}
CITY_COUNTRY = {"Lima": "Peru", "Oslo": "Norway", "Cairo": "Egypt", "Delhi": "India",
                "Quito": "Ecuador", "Perth": "Australia"}
DISEASE_DRUG = {
    "fever": "aspirin", "malaria": "quinine", "scurvy": "vitamin C", "gout": "colchicine",
    "asthma": "salbutamol", "angina": "nitroglycerin", "anemia": "iron", "acne": "retinol",
}
COLORS = ["red", "blue", "green", "white", "black", "pink", "gray", "gold"]


def _choices(rng: random.Random, correct: str, pool: list[str]) -> tuple[str, str]:
    """Four options (correct + 3 distinct distractors) in random order: (prompt line, meta)."""
    options = [correct] + rng.sample([p for p in pool if p != correct], 3)
    rng.shuffle(options)
    text = "Options: " + ", ".join(f"{o} ({LETTERS[i]})" for i, o in enumerate(options))
    return text, json.dumps({"options": options})


def kb_chain(rng: random.Random, wrong_share: float = 0.0) -> dict:
    person = rng.choice(sorted(PERSON_CITY))
    city = PERSON_CITY[person]
    country = CITY_COUNTRY[city]
    question = rng.choice(["Which country does {p} live in?", "In which country is {p}'s home?",
                           "{p} lives in which country?"]).format(p=person)
    options, meta = _choices(rng, country, sorted(CITY_COUNTRY.values()))
    return dict(prompt=f"{question}\n{options}", answer=country,
                target=f"{person} lives in {city}. {city} is in {country}. Answer: {country}", meta=meta)


def code_trace(rng: random.Random, wrong_share: float = 0.0) -> dict:
    """Three program shapes: straight line, if/else, and a short for loop."""
    x, y = rng.randint(0, 9), rng.randint(1, 9)
    shape = rng.choice(["line", "if", "loop"])
    if shape == "line":
        op = rng.choice("+-") if x >= y else "+"
        value = x + y if op == "+" else x - y
        program = f"x = {x}\ny = {y}\nx = x {op} y\nprint(x)"
        trace = f"x={x}, y={y}. x={x}{op}{y}={value}."
    elif shape == "if":
        k, d = rng.randint(1, 9), rng.randint(1, 9)
        program = f"x = {x}\nif x > {k}:\n    x = x + {d}\nelse:\n    x = x * 2\nprint(x)"
        if x > k:
            value, trace = x + d, f"x={x}. {x}>{k} so x={x}+{d}={x + d}."
        else:
            value, trace = x * 2, f"x={x}. {x}<={k} so x={x}*2={x * 2}."
    else:
        n, d = rng.randint(2, 3), rng.randint(1, 4)
        program = f"x = {x}\nfor i in range({n}):\n    x = x + {d}\nprint(x)"
        values = [x + d * (i + 1) for i in range(n)]
        trace = f"x={x}. " + " ".join(f"x={v}." for v in values)
        value = values[-1]
    return dict(prompt=f"What does this program print?\n{program}", answer=str(value),
                target=f"{trace} Answer: {value}", meta="{}")


def blocks(rng: random.Random, wrong_share: float = 0.0) -> dict:
    """Two stacks (3 and 2 blocks); only a top block can be picked up; ask about one stack."""
    names = rng.sample(COLORS, 5)
    stacks = [names[:3], names[3:]]
    rng.shuffle(stacks)
    which = rng.randrange(2)
    top = stacks[which][0]
    options, meta = _choices(rng, top, [b for b in names if b != stacks[1 - which][0]])
    ordinal = ("first", "second")[which]
    prompt = (f"First stack, top first: {' '.join(stacks[0])}. Second stack, top first: "
              f"{' '.join(stacks[1])}. Which block can be picked up from the {ordinal} stack?\n{options}")
    return dict(prompt=prompt, answer=top,
                target=f"The {ordinal} stack's top is {top}. Answer: {top}", meta=meta)


def med_kb(rng: random.Random, wrong_share: float = 0.0) -> dict:
    disease = rng.choice(sorted(DISEASE_DRUG))
    drug = DISEASE_DRUG[disease]
    question = rng.choice(["Which drug treats {d}?", "A patient has {d}. Which drug is given?",
                           "What is the treatment for {d}?"]).format(d=disease)
    options, meta = _choices(rng, drug, sorted(DISEASE_DRUG.values()))
    return dict(prompt=f"{question}\n{options}", answer=drug,
                target=f"{disease} is treated with {drug}. Answer: {drug}", meta=meta)

"""Other-reasoning tasks, mirroring GPQA, LiveCodeBench, ACPBench and HeadQA.

Two share a procedural step with math and two are controls that share nothing with it:
- kb_chain (GPQA, control): which country a person lives in, a two-hop inference over a fixed
  toy knowledge base (person -> city -> country), MC.
- code_trace (LiveCodeBench, shared step, math notation): what a loop that adds or subtracts a
  number n times prints. The generator traces the program itself; no text is ever executed.
- blocks (ACPBench, shared step, own notation): which block is on top of a stack after picking
  up its top block once or twice (a plan's actions applied to a tiny blocks world), MC.
- med_kb (HeadQA, control): which drug treats a disease, MC over a fixed toy medical knowledge base.
The shared step is the math tasks' "carry the running value through every step": the base traces
of code_trace and blocks stop one step early with probability wrong_share, as the math traces do,
so the base holds the right and the wrong strategy there too.
The knowledge bases are fixed (not seeded): they are the world's facts; items vary around them. A
third of each is never stated in training (UNSEEN_*), and test items ask about it too.
Multiple-choice items list four options and are answered with the option's text (a letter is
accepted too): in trials, a 0.7M-parameter model learned the facts ("Oslo is in Norway") but not
to look up an option's letter in the prompt, which would have measured that lookup, not knowledge.
"""
from __future__ import annotations

import json
import random

from .math_tasks import stops_early

LETTERS = "ABCD"

PERSON_CITY = {
    "Omar": "Lima", "Kira": "Oslo", "Tess": "Cairo", "Raul": "Delhi", "Nia": "Quito", "Bo": "Perth",
    "Lena": "Lima", "Yuri": "Oslo", "Sami": "Cairo", "Zoe": "Delhi", "Ike": "Quito", "Mara": "Perth",
    "Pia": "Rome", "Hugo": "Tokyo", "Ines": "Rome", "Otto": "Tokyo",
    "Vera": "Lima", "Abe": "Oslo", "Gil": "Cairo", "Tara": "Delhi", "Luz": "Quito", "Rex": "Perth",
    "Dina": "Rome", "Cyd": "Tokyo",
}
CITY_COUNTRY = {"Lima": "Peru", "Oslo": "Norway", "Cairo": "Egypt", "Delhi": "India",
                "Quito": "Ecuador", "Perth": "Australia", "Rome": "Italy", "Tokyo": "Japan"}
DISEASE_DRUG = {
    "fever": "aspirin", "malaria": "quinine", "scurvy": "vitamin C", "gout": "colchicine",
    "asthma": "salbutamol", "angina": "nitroglycerin", "anemia": "iron", "acne": "retinol",
    "rickets": "vitamin D", "goiter": "iodine", "migraine": "triptan", "eczema": "hydrocortisone",
    "typhus": "doxycycline", "psoriasis": "calcipotriol", "glaucoma": "timolol", "insomnia": "melatonin",
    "nausea": "ondansetron", "scabies": "permethrin",
}
# The facts the pretraining data never states: a third of each knowledge base. Test items ask about
# them too, as a real benchmark asks what a base model cannot know; the base can only guess there.
UNSEEN_PEOPLE = frozenset(list(PERSON_CITY)[16:])
UNSEEN_DISEASES = frozenset(list(DISEASE_DRUG)[12:])
COLORS = ["red", "blue", "green", "white", "black", "pink", "gray", "gold"]


def _choices(rng: random.Random, correct: str, pool: list[str]) -> tuple[str, str]:
    """Four options (correct + 3 distinct distractors) in random order: (prompt line, meta)."""
    options = [correct] + rng.sample([p for p in pool if p != correct], 3)
    rng.shuffle(options)
    text = "Options: " + ", ".join(f"{o} ({LETTERS[i]})" for i, o in enumerate(options))
    return text, json.dumps({"options": options})


def kb_chain(rng: random.Random, wrong_share=(0.0, 0.0), split: str = "train") -> dict:
    """Which country does a person live in (person -> city -> country, learned in pretraining)?
    MC. Retrieval only: shares nothing with math (a control). Test items also ask about
    UNSEEN_PEOPLE, whom training never mentions."""
    people = sorted(PERSON_CITY) if split == "test" else sorted(set(PERSON_CITY) - UNSEEN_PEOPLE)
    person = rng.choice(people)
    city = PERSON_CITY[person]
    country = CITY_COUNTRY[city]
    question = rng.choice(["Which country does {p} live in?", "In which country is {p}'s home?",
                           "{p} lives in which country?"]).format(p=person)
    options, meta = _choices(rng, country, sorted(CITY_COUNTRY.values()))
    return dict(prompt=f"{question}\n{options}", answer=country,
                target=f"{person} lives in {city}. {city} is in {country}. Answer: {country}", meta=meta)


def code_trace(rng: random.Random, wrong_share=(0.0, 0.0), split: str = "train") -> dict:
    """A loop that adds (or subtracts) d to x, n times (2 or 3: short or long); what does it print?
    The base trace states the start and then one line per iteration in the math tasks' own step
    notation ("3+4=7."); it stops one iteration early (answering the value before the last) with
    the probability wrong_share gives its length: the math traces' systematic error, in the same
    notation (near transfer)."""
    n, d, op = rng.choice([2, 3]), rng.randint(1, 9), rng.choice("+-")
    lo, hi = (0, 19 - n * d) if op == "+" else (n * d, 19)
    while hi < lo:  # no start keeps every value within 0..19: a smaller step
        d -= 1
        lo, hi = (0, 19 - n * d) if op == "+" else (n * d, 19)
    x = rng.randint(lo, hi)
    program = f"x = {x}\nfor i in range({n}):\n    x = x {op} {d}\nprint(x)"
    values = [x + (d if op == "+" else -d) * (i + 1) for i in range(n)]
    lines = [f"{a}{op}{d}={b}." for a, b in zip([x] + values[:-1], values)]
    shown = lines[:-1] if stops_early(rng, wrong_share, long=n == 3) else lines
    answer = values[len(shown) - 1]
    return dict(prompt=f"What does this program print?\n{program}", answer=str(values[-1]),
                target=f"x={x}. {' '.join(shown)} Answer: {answer}", meta=json.dumps({"steps": n, "long": n == 3}))


def blocks(rng: random.Random, wrong_share=(0.0, 0.0), split: str = "train") -> dict:
    """One stack of five blocks (top first); pick up the top block k times (1 or 2: short or
    long); which block is on top then? MC over four of the blocks, the right one and the one that
    stopping early gives among them. The base trace names each block taken off in a notation of
    its own ("red off."); it stops one pick-up early with the probability wrong_share gives its
    length: the math traces' decision (stop or go on) without their notation (far transfer)."""
    stack, k = rng.sample(COLORS, 5), rng.choice([1, 2])
    right, early = stack[k], stack[k - 1]
    options = [right, early] + rng.sample([b for b in stack if b not in (right, early)], 2)
    rng.shuffle(options)
    text = "Options: " + ", ".join(f"{o} ({LETTERS[i]})" for i, o in enumerate(options))
    times = "once" if k == 1 else "twice"
    prompt = f"Stack, top first: {' '.join(stack)}. Pick up the top block {times}. Which block is on top now?\n{text}"
    taken = k - 1 if stops_early(rng, wrong_share, long=k == 2) else k
    trace = " ".join(f"{b} off." for b in stack[:taken])
    return dict(prompt=prompt, answer=right, target=f"{trace} Answer: {stack[taken]}".strip(),
                meta=json.dumps({"options": options, "steps": k, "long": k == 2}))


def med_kb(rng: random.Random, wrong_share=(0.0, 0.0), split: str = "train") -> dict:
    """Which drug treats a disease (learned in pretraining)? MC. Retrieval only: a control. Test
    items also ask about UNSEEN_DISEASES, whose treatment training never states."""
    diseases = sorted(DISEASE_DRUG) if split == "test" else sorted(set(DISEASE_DRUG) - UNSEEN_DISEASES)
    disease = rng.choice(diseases)
    drug = DISEASE_DRUG[disease]
    question = rng.choice(["Which drug treats {d}?", "A patient has {d}. Which drug is given?",
                           "What is the treatment for {d}?"]).format(d=disease)
    options, meta = _choices(rng, drug, sorted(DISEASE_DRUG.values()))
    return dict(prompt=f"{question}\n{options}", answer=drug,
                target=f"{disease} is treated with {drug}. Answer: {drug}", meta=meta)

"""Non-reasoning tasks, mirroring CoQA, IFEval, HaluEval and MC-TACO.

One shares a step with math; three are controls that share nothing with it:
- passage_qa (CoQA, control): a passage about two people, earlier question/answer turns, then a
  new question.
- format (IFEval, shared step, own notation): write a word n times in a case, with a separator;
  checked strictly, per instruction (count, case), by code. The base response stops one
  repetition early at a share (the math traces' "stop one step early").
- support (HaluEval, control): is a proposed answer supported by the passage? yes/no. Unsupported
  answers are of the right kind but absent, or present in the passage for another attribute.
- duration (MC-TACO, control): is a duration plausible for an event? yes/no from a fixed duration
  table, half of whose events training never mentions (UNSEEN_EVENTS).
These answers need no reasoning: the base style is the answer alone (support first quotes the
passage's value beside the proposed one, then answers).
"""
from __future__ import annotations

import json
import random

from .math_tasks import stops_early

NAMES = ["Tom", "Ada", "Lia", "Max", "Eli", "Ruth", "Noor", "Ken"]
ATTRS = {  # attribute -> (question, values)
    "color": ("What color is {name}'s {thing}?", ["red", "blue", "green", "black", "white"]),
    "city": ("Where does {name} live?", ["Oslo", "Rome", "Paris", "Tokyo", "Lagos"]),
    "food": ("What does {name} like to eat?", ["rice", "soup", "bread", "fish", "eggs"]),
    "pet": ("What pet does {name} have?", ["cat", "dog", "bird", "frog", "goat"]),
}
THINGS = ["car", "bike", "hat", "bag", "boat"]
SENTENCE = {"color": "{name} has a {v} {thing}.", "city": "{name} lives in {v}.",
            "food": "{name} likes to eat {v}.", "pet": "{name} has a {v}."}

WORDS = ["apple", "river", "stone", "cloud", "tiger", "lemon", "piano", "maple", "ocean", "pearl"]
SEPARATORS = {"commas": ", ", "dashes": " - ", "semicolons": "; ", "spaces": " "}
CASES = {"uppercase": str.upper, "lowercase": str.lower, "capitalized": str.capitalize}
WRAPS = {"none": ("", ""), "quotes": ('"', '"'), "brackets": ("[", "]")}

DURATIONS = {  # event -> typical unit (the world's fixed commonsense table)
    "sneezing": "seconds", "blinking": "seconds", "brushing teeth": "minutes",
    "boiling an egg": "minutes", "a movie": "hours", "a flight": "hours", "a holiday": "days",
    "a fever": "days", "a pregnancy": "months", "building a house": "months",
    "a degree": "years", "a career": "years",
    "a hiccup": "seconds", "a shower": "minutes", "a concert": "hours", "a cold": "days",
    "a renovation": "months", "a war": "years",
}
# Events the pretraining data never mentions (half the table): test items ask about them
# too, as MC-TACO asks about events a base model may never have read about.
UNSEEN_EVENTS = frozenset(list(DURATIONS)[9:])
UNITS = ["seconds", "minutes", "hours", "days", "months", "years"]


def _passage(rng: random.Random) -> tuple[str, str, dict[str, str], str]:
    """A 3-sentence passage about one person: (name, thing, facts shown, text)."""
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    facts = {a: rng.choice(vals) for a, (_, vals) in ATTRS.items()}
    order = rng.sample(sorted(facts), 3)
    text = " ".join(SENTENCE[a].format(name=name, thing=thing, v=facts[a]) for a in order)
    return name, thing, {a: facts[a] for a in order}, text


def passage_qa(rng: random.Random, wrong_share=(0.0, 0.0), split: str = "train") -> dict:
    """A passage about two people (two facts each, interleaved), one or two earlier question and
    answer turns, then a question about one person's fact; the other person may have a fact of the
    same kind (a distractor). Reading only: a control."""
    first, second = rng.sample(NAMES, 2)
    thing = rng.choice(THINGS)
    facts = []
    for name in (first, second):
        for attr in rng.sample(sorted(ATTRS), 2):
            facts.append((name, attr, rng.choice(ATTRS[attr][1])))
    rng.shuffle(facts)
    text = " ".join(SENTENCE[a].format(name=n, thing=thing, v=v) for n, a, v in facts)
    asked = rng.sample(facts, rng.randint(2, 3))
    turns = [f"Q: {ATTRS[a][0].format(name=n, thing=thing)}" for n, a, _ in asked]
    history = "\n".join(f"{q} A: {v}" for q, (_, _, v) in zip(turns[:-1], asked[:-1]))
    answer = asked[-1][2]
    prompt = f"{text}\n{history}\n{turns[-1]}"
    return dict(prompt=prompt, answer=answer, target=f"Answer: {answer}", meta="{}")


def format_following(rng: random.Random, wrong_share=(0.0, 0.0), split: str = "train") -> dict:
    """Write a word n times (2-5; 4 or more is long) in a case, with a separator; checked per
    instruction. The base response stops one repetition early (n - 1 words) with the probability
    wrong_share gives its length: the math traces' decision (stop or go on) in a notation of its
    own."""
    word, n = rng.choice(WORDS), rng.randint(2, 5)
    sep, case = rng.choice(sorted(SEPARATORS)), rng.choice(sorted(CASES))
    instr = f"Write the word {word} {n} times, {case}, separated by {sep}."
    written = n - 1 if stops_early(rng, wrong_share, long=n >= 4) else n
    response = SEPARATORS[sep].join([CASES[case](word)] * n)
    target = SEPARATORS[sep].join([CASES[case](word)] * written)
    meta = json.dumps({"word": word, "n": n, "sep": sep, "case": case, "wrap": "none", "long": n >= 4})
    return dict(prompt=instr, answer=response, target=target, meta=meta)


def support(rng: random.Random, wrong_share=(0.0, 0.0), split: str = "train") -> dict:
    """Half the proposals are supported. An unsupported one is either a value of the right kind
    that the passage does not contain, or a value the passage contains for another attribute
    (present in the text, yet no answer to the question), like HaluEval's hallucinated answers."""
    name, thing, facts, text = _passage(rng)
    attr = rng.choice(sorted(facts))
    supported = rng.random() < 0.5
    if supported:
        value = facts[attr]
    elif rng.random() < 0.5:
        value = rng.choice([v for v in ATTRS[attr][1] if v != facts[attr]])
    else:
        value = facts[rng.choice([a for a in sorted(facts) if a != attr])]
    question = ATTRS[attr][0].format(name=name, thing=thing)
    prompt = f"{text}\nQ: {question} Proposed answer: {value}. Is it supported by the text? yes or no."
    answer = "yes" if supported else "no"
    # The base target quotes the passage's answer next to the proposal, then decides: in trials a
    # tiny model left a bare yes/no at chance.
    target = f"The text says {facts[attr]}; proposed {value}. Answer: {answer}"
    return dict(prompt=prompt, answer=answer, target=target, meta="{}")


def duration(rng: random.Random, wrong_share=(0.0, 0.0), split: str = "train") -> dict:
    events = sorted(DURATIONS) if split == "test" else sorted(set(DURATIONS) - UNSEEN_EVENTS)
    event = rng.choice(events)
    typical = DURATIONS[event]
    plausible = rng.random() < 0.5
    if plausible:
        unit = typical
    else:  # at least two units away, so that "implausible" is clear-cut
        unit = rng.choice([u for u in UNITS if abs(UNITS.index(u) - UNITS.index(typical)) >= 2])
    n = rng.randint(2, 9)
    name = rng.choice(NAMES)
    prompt = f"{name} was busy with {event}. Could it have taken {n} {unit}? yes or no."
    answer = "yes" if plausible else "no"
    return dict(prompt=prompt, answer=answer, target=f"Answer: {answer}", meta="{}")

"""Non-reasoning tasks, mirroring CoQA, IFEval, HaluEval and MC-TACO.

- passage_qa (CoQA): a short passage, earlier question/answer turns, then a new question.
- format (IFEval): write a word n times with a case, separator and wrapper; checked strictly,
  per instruction, by code (the canonical response is only the base-style target).
- support (HaluEval): is a proposed answer supported by the passage? yes/no. Unsupported answers
  are of the right kind but absent, or present in the passage for another attribute.
- duration (MC-TACO): is a duration plausible for an event? yes/no from a fixed duration table.
These answers need no reasoning: the base style is the answer alone (support first quotes the
passage's value beside the proposed one, then answers).
"""
from __future__ import annotations

import json
import random

NAMES = ["Tom", "Ada", "Lia", "Max", "Eli", "Ruth", "Noor", "Ken"]
ATTRS = {  # attribute -> (question, values)
    "color": ("What color is the {thing}?", ["red", "blue", "green", "black", "white"]),
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
}
UNITS = ["seconds", "minutes", "hours", "days", "months", "years"]


def _passage(rng: random.Random) -> tuple[str, str, dict[str, str], str]:
    """A 3-sentence passage about one person: (name, thing, facts shown, text)."""
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    facts = {a: rng.choice(vals) for a, (_, vals) in ATTRS.items()}
    order = rng.sample(sorted(facts), 3)
    text = " ".join(SENTENCE[a].format(name=name, thing=thing, v=facts[a]) for a in order)
    return name, thing, {a: facts[a] for a in order}, text


def passage_qa(rng: random.Random, wrong_share: float = 0.0) -> dict:
    name, thing, facts, text = _passage(rng)
    asked = rng.sample(sorted(facts), rng.randint(2, 3))
    turns = [f"Q: {ATTRS[a][0].format(name=name, thing=thing)}" for a in asked]
    history = "\n".join(f"{q} A: {facts[a]}" for q, a in zip(turns[:-1], asked[:-1]))
    answer = facts[asked[-1]]
    prompt = f"{text}\n{history}\n{turns[-1]}"
    return dict(prompt=prompt, answer=answer, target=f"Answer: {answer}", meta="{}")


def format_following(rng: random.Random, wrong_share: float = 0.0) -> dict:
    word, n = rng.choice(WORDS), rng.randint(2, 5)
    sep, case, wrap = rng.choice(sorted(SEPARATORS)), rng.choice(sorted(CASES)), rng.choice(sorted(WRAPS))
    instr = f"Write the word {word} {n} times, {case}, separated by {sep}"
    instr += "." if wrap == "none" else f", wrapped in {wrap}."
    left, right = WRAPS[wrap]
    response = left + SEPARATORS[sep].join([CASES[case](word)] * n) + right
    meta = json.dumps({"word": word, "n": n, "sep": sep, "case": case, "wrap": wrap})
    return dict(prompt=instr, answer=response, target=response, meta=meta)


def support(rng: random.Random, wrong_share: float = 0.0) -> dict:
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


def duration(rng: random.Random, wrong_share: float = 0.0) -> dict:
    event = rng.choice(sorted(DURATIONS))
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

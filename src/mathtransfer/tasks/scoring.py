"""Scorers: (untrusted response, gold answer, item meta) -> score in [0, 1]; they never raise.

Answers are read leniently: the LAST `Answer: X` or `\\boxed{X}` in the response counts, so a
model that switches to the teacher's \\boxed{} format is not marked wrong for the format alone.
Math answers are compared by math-verify (parse + verify). The format task (IFEval analogue) is
strict and per instruction: the whole response is checked, and the score is the share of the
item's instructions followed.
`score_ifeval` (the GPU profile's IFEval) uses lm-evaluation-harness's own instruction checks.
Left out: partial credit elsewhere, and any execution of model text (code runs only in sandbox.py).
"""
from __future__ import annotations

import functools
import json
import logging
import os
import re

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

MAX_CHARS = 4000  # only the tail of a (possibly huge) response is read
MAX_ANSWER_CHARS = 100  # longer "answers" are not parsed (keeps sympy away from junk)

# math-verify warns on every call that its timeouts are off; they are off on purpose (see score_math).
logging.getLogger("math_verify").setLevel(logging.ERROR)

_ANSWER = re.compile(r"Answer:[ \t]*([^\n]*)")
_BOX = "\\boxed{"


def boxed(text: str) -> list[tuple[int, str]]:
    """(position, content) of every complete \\boxed{...} in text, braces nested to any depth;
    the one \\boxed{} parser of the project. An unclosed box is skipped."""
    found, start = [], text.find(_BOX)
    while start >= 0:
        depth, open_at = 0, start + len(_BOX) - 1
        for i in range(open_at, len(text)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                found.append((start, text[open_at + 1:i]))
                break
        start = text.find(_BOX, start + 1)
    return found


def last_boxed(text: str) -> str | None:
    """The content of the last complete \\boxed{...} in text (stripped), or None."""
    found = boxed(text) if isinstance(text, str) else []
    return found[-1][1].strip() if found else None


def extract_answer(response: object) -> str | None:
    """The last `Answer: X` or `\\boxed{X}` in the response (X stripped), or None."""
    if not isinstance(response, str):
        return None
    tail = response[-MAX_CHARS:]
    found = [(m.start(), m.group(1)) for m in _ANSWER.finditer(tail)]
    found += boxed(tail)
    if not found:
        return None
    answer = max(found)[1].strip()
    return answer.rstrip(".").strip() or None


def _normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]", "", text.lower()).strip()


_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
# Towers of powers and factorials make sympy run for minutes ("9^{9^{9}}" did); no gold needs them.
_EXPLOSIVE = re.compile(r"\^|\*\*|!|\\uparrow|\\binom|\\choose")


def score_math(response: object, answer: str, meta: str = "{}") -> float:
    """1.0 when the extracted answer equals the gold, else 0.0; never 1 if the gold is unparsable.

    Plain numbers are compared as numbers; anything else goes through math-verify (parse +
    verify). Its signal-based timeouts fail outside the main thread, so they are off, and the
    cost is bounded instead: short answers only, and none with powers or factorials.
    """
    pred = extract_answer(response)
    if pred is None or len(pred) > MAX_ANSWER_CHARS:
        return 0.0
    if _NUMBER.fullmatch(answer.strip()) and _NUMBER.fullmatch(pred):
        return float(float(pred) == float(answer))
    if _EXPLOSIVE.search(pred):
        return 0.0
    try:
        configs = [LatexExtractionConfig(), ExprExtractionConfig()]
        gold = parse(answer, extraction_config=configs, parsing_timeout=None)
        guess = parse(f"${pred}$", extraction_config=configs, parsing_timeout=None)
        if not gold or not guess:
            return 0.0
        return float(verify(gold, guess, timeout_seconds=None))
    except Exception:  # untrusted text must never crash a scorer
        return 0.0


def score_choice(response: object, answer: str, meta: str = "{}") -> float:
    """Multiple choice: the extracted answer names the gold option, by its text or its letter."""
    pred = extract_answer(response)
    if pred is None:
        return 0.0
    try:
        options = json.loads(meta)["options"]
        letter = "ABCDE"[options.index(answer)]  # up to five options (HeadQA has five in places)
    except (ValueError, KeyError, TypeError, IndexError):
        letter = None
    m = re.fullmatch(r"\(?([A-Ea-e])\)?", pred.strip())
    if m:
        return float(m.group(1).upper() == letter)
    return float(_normalise(pred) == _normalise(answer))


def score_exact(response: object, answer: str, meta: str = "{}") -> float:
    """Short answer: equal to the gold after lower-casing and dropping punctuation; a numeric gold
    needs the same number ("1.2" or "1-2" is not 12)."""
    pred = extract_answer(response)
    if pred is None:
        return 0.0
    if _NUMBER.fullmatch(answer.strip()):
        return float(bool(_NUMBER.fullmatch(pred)) and float(pred) == float(answer))
    return float(_normalise(pred) == _normalise(answer))


def score_yesno(response: object, answer: str, meta: str = "{}") -> float:
    """yes/no: the extracted answer's first word equals the gold."""
    words = _normalise(extract_answer(response) or "").split()
    return float(bool(words) and words[0] == answer)


def format_checks(response: object, meta: str) -> dict[str, bool]:
    """Each instruction of a format item -> followed or not, on the whole (stripped) response."""
    from .nonreasoning import CASES, SEPARATORS, WRAPS

    spec = json.loads(meta)
    text = response.strip() if isinstance(response, str) else ""
    left, right = WRAPS[spec["wrap"]]
    checks = {}
    inner = text
    if spec["wrap"] != "none":
        wrapped = len(text) >= 2 and text.startswith(left) and text.endswith(right)
        checks["wrap"] = wrapped
        inner = text[len(left):-len(right)] if wrapped else text
    parts = inner.split(SEPARATORS[spec["sep"]])
    checks["count"] = len(parts) == spec["n"] and all(p.lower() == spec["word"] for p in parts)
    letters = re.findall(r"[A-Za-z]+", inner)
    checks["case"] = bool(letters) and all(w == CASES[spec["case"]](w) for w in letters)
    return checks


def score_format(response: object, answer: str, meta: str) -> float:
    """Strict instruction-level score: the share of the item's instructions followed."""
    try:
        checks = format_checks(response, meta)
    except (ValueError, KeyError, TypeError):
        return 0.0
    return sum(checks.values()) / len(checks)


@functools.cache
def _ifeval_strict():
    """lm-evaluation-harness's IFEval (InputExample, test_instruction_following_strict). Its import
    fetches NLTK's punkt_tab unless present; offline (HF_HUB_OFFLINE=1) the fetch is skipped
    rather than attempted (only the number-of-sentences check needs it: get it once with
    `python -m nltk.downloader punkt_tab`)."""
    import nltk

    download = nltk.download
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        nltk.download = lambda *args, **kwargs: False
    try:
        from lm_eval.tasks.ifeval.utils import InputExample, test_instruction_following_strict
    finally:
        nltk.download = download
    return InputExample, test_instruction_following_strict


def score_ifeval(response: object, answer: str, meta: str) -> float:
    """IFEval, strict, instruction level: the share of the item's instructions (meta:
    instruction_id_list, kwargs, prompt) the whole response follows, by lm-eval's checks."""
    try:
        item = json.loads(meta)
        ids, kwargs = list(item["instruction_id_list"]), list(item["kwargs"])
    except (ValueError, KeyError, TypeError):
        return 0.0
    if not isinstance(response, str) or not ids:
        return 0.0
    input_example, strict = _ifeval_strict()
    example = input_example(key=item.get("key") or 0, instruction_id_list=ids, prompt=item.get("prompt", ""),
                            kwargs=kwargs)
    try:
        followed = strict(example, response).follow_instruction_list
    except LookupError:  # NLTK data missing: the environment's fault, not the response's
        raise
    except Exception:  # untrusted text must never crash a scorer
        return 0.0
    return sum(followed) / len(followed)

"""Scorers: (untrusted response, gold answer, item meta) -> score in [0, 1]; they never raise.

Answers are read behind a marker, either marker: the LAST `Answer: X` (so also `Final Answer: X`)
or `\\boxed{X}` in the response's last MAX_CHARS counts, boxes nested to any depth (`boxed`, the
project's one \\boxed{} parser), so a model that switches to the teacher's \\boxed{} format is not
marked wrong for the format alone. The format task (IFEval analogue) is strict and per
instruction: the whole response is checked, and the score is the share of the item's instructions
followed.
`score_ifeval` (the GPU profile's IFEval) uses lm-evaluation-harness's own instruction checks.

Lenient reading (`lenient_answer`, scored through scorers.score_lenient): for a response with no
marker at all (extract_answer finds none), an answer read from its end, so that knowledge can be
told from format. By the scorer kind: "math", the last number ([+-]?\\d+(?:\\.\\d+)?) in the
response's last MAX_CHARS; "yesno", the response's last word (letters); "choice" and "exact", the
last non-empty line, after its last ':' if it has one, stripped of trailing '.', '}' and spaces;
any other kind (format, code, ifeval) has no answer marker to miss, so None (lenient == strict).

Math (`score_math`): golds are a plain number or LaTeX in $...$ (hub.math_gold). When gold and
answer are both plain numbers they are compared as numbers in the calling process. Anything else
(fractions, roots, pi, powers, degrees, factorials, tuples, intervals, sets, matrices, \\text{}
answers, percent, thousands separators) goes to math-verify's own parse + verify in a worker
process with a wall-clock and memory limit (tasks/math_worker.py): an answer over them scores 0, so
no answer form is rejected by construction and a tower like 9^{9^{9^{9}}} or 1000000! costs at
most MATH_TIMEOUT_S. Before math-verify, markdown bold around the answer
is dropped and repeating decimals (0.1\\overline{6}) become fractions, which math-verify misreads.
Left out: partial credit; units math-verify does not strip itself; answers over MAX_ANSWER_CHARS;
and any execution of model text (code runs only in sandbox.py; math-verify's expression parser sees only digits and
operators).
"""
from __future__ import annotations

import functools
import json
import os
import re
from fractions import Fraction

from .math_worker import MATH_MEMORY_MB, MATH_TIMEOUT_S, WORKER as _WORKER  # noqa: F401 (the bounds, for callers)

MAX_CHARS = 4000  # only the tail of a (possibly huge) response is read
MAX_ANSWER_CHARS = 500  # longer "answers" are not parsed (a 3x3 matrix of fractions fits)

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


LENIENT_KINDS = ("math", "yesno", "choice", "exact")  # the scorer kinds that read an answer marker


def lenient_answer(response: object, kind: str) -> str | None:
    """The answer read from the end of a response without a marker, by scorer kind (module
    docstring), or None. Meant only for responses where extract_answer finds none."""
    if not isinstance(response, str) or kind not in LENIENT_KINDS:
        return None
    tail = response[-MAX_CHARS:]
    if kind == "math":
        numbers = _NUMBER.findall(tail)
        return numbers[-1] if numbers else None
    if kind == "yesno":
        words = re.findall(r"[A-Za-z]+", tail)
        return words[-1] if words else None
    lines = [line for line in tail.splitlines() if line.strip()]
    if not lines:
        return None
    return lines[-1].rsplit(":", 1)[-1].rstrip(". }").strip() or None


def _normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]", "", text.lower()).strip()


_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")

# 0.1\overline{6} (a repeating decimal, which math-verify reads as 0.1) -> \frac{1}{6}
_REPEATING = re.compile(r"(?<!\d)(\d{0,30})\.(\d{0,30})\\overline\s*(?:\{\s*(\d{1,30})\s*\}|(\d))")
_PYTHON_POWER = re.compile(r"(?<=[\w)}])\*\*([\w.]+|\([^()]*\))")  # x**2 -> x^{2} ("**" is no LaTeX)
_MATH_DELIMITER = re.compile(r"(?<!\\)\$|\\\(|\\\[")  # $ (not \$), \( or \[


def _repeating_to_fraction(match: re.Match) -> str:
    whole, fixed, period = match.group(1) or "0", match.group(2), match.group(3) or match.group(4)
    value = Fraction(int(whole + fixed + period) - int(whole + fixed), 10 ** len(fixed) * (10 ** len(period) - 1))
    return f"\\frac{{{value.numerator}}}{{{value.denominator}}}"


def _as_latex(pred: str) -> str:
    """An extracted answer as math-verify's input: Python powers as LaTeX ones, repeating decimals
    as fractions, in $...$ unless it has math delimiters already (then as is: wrapped again,
    "$x$ cm" or "\\[x\\]" would not parse)."""
    pred = _REPEATING.sub(_repeating_to_fraction, _PYTHON_POWER.sub(r"^{\1}", pred))
    return pred if _MATH_DELIMITER.search(pred) else f"${pred}$"


def score_math(response: object, answer: str, meta: str = "{}") -> float:
    """1.0 when the extracted answer equals the gold, else 0.0; never 1 if the gold is unparsable.

    Plain numbers (gold and answer both) are compared as numbers here; anything else goes to
    math-verify (parse + verify) in the worker, bounded by MATH_TIMEOUT_S and MATH_MEMORY_MB
    (an answer over them scores 0). Never raises on model text; raises RuntimeError only when the
    worker cannot start at all (math-verify missing: the environment's fault, not the answer's).
    """
    pred = extract_answer(response)
    if pred is None or not isinstance(answer, str) or not answer.strip():
        return 0.0
    pred = pred.strip("*").strip()  # markdown bold: "**7**", "**Answer:** 7"
    if not pred or len(pred) > MAX_ANSWER_CHARS:
        return 0.0
    if _NUMBER.fullmatch(answer.strip()) and _NUMBER.fullmatch(pred):
        return float(float(pred) == float(answer))
    gold = _REPEATING.sub(_repeating_to_fraction, answer)
    return _WORKER.judge(gold, _as_latex(pred))


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
    """Each instruction of a format item -> followed or not, on the whole (stripped) response.
    A case or wrap check needs the requested word in the (inner) text: an empty or wordless
    answer in the right case, or empty quotes, follows no instruction."""
    from .nonreasoning import CASES, SEPARATORS, WRAPS

    spec = json.loads(meta)
    text = response.strip() if isinstance(response, str) else ""
    left, right = WRAPS[spec["wrap"]]
    wrapped = len(text) >= 2 and text.startswith(left) and text.endswith(right)
    inner = text[len(left):len(text) - len(right)] if spec["wrap"] != "none" and wrapped else text
    letters = re.findall(r"[A-Za-z]+", inner)
    # without the word, "all letters in the case" or "wrapped" would pass vacuously ("OK!", '""')
    has_word = spec["word"] in {w.lower() for w in letters}
    checks = {"wrap": wrapped and has_word} if spec["wrap"] != "none" else {}
    parts = inner.split(SEPARATORS[spec["sep"]])
    checks["count"] = len(parts) == spec["n"] and all(p.lower() == spec["word"] for p in parts)
    checks["case"] = has_word and all(w == CASES[spec["case"]](w) for w in letters)
    return checks


def score_format(response: object, answer: str, meta: str) -> float:
    """Strict instruction-level score: the share of the item's instructions followed.

    World v2's format items all carry exactly two instructions, count and case (wrap is always
    "none" in tasks/nonreasoning.format_following), so the mean of these item shares equals
    IFEval's instruction-level accuracy pooled over instructions."""
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

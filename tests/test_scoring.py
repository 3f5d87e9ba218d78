"""Scorers on right, wrong and adversarial (untrusted) responses."""
import json
import time

import pytest

from mathtransfer.registry import TASKS
from mathtransfer.scorers import score
from mathtransfer.tasks.scoring import MATH_TIMEOUT_S, extract_answer, format_checks

ADVERSARIAL = ["", "   ", "Answer:", "\\boxed{}", "Answer: 9^{9^{9}}", "\\boxed{9999999!}",
               "Answer: 9**9**9**9", "Answer: \\binom{99999}{49999}", "Answer: " + "9" * 5000, "x" * 1_000_000,
               "Answer: ü∑😀", "\x00\x01Answer: \x00", "\\boxed{\\boxed{", "Answer: 1/0",
               "Answer: \\frac{1}{0}", "Answer: (((((((((", None, 12, b"Answer: 3"]


def test_extract_takes_the_last_answer_of_either_format():
    assert extract_answer("Answer: 3\nmore text Answer: 4.") == "4"
    assert extract_answer("Answer: 3 then \\boxed{7}") == "7"
    assert extract_answer("\\boxed{7} then Answer: 3") == "3"
    assert extract_answer("\\boxed{\\frac{1}{2}}") == "\\frac{1}{2}"
    assert extract_answer("no answer here") is None


@pytest.mark.parametrize("response,expected", [
    ("2+3=5. Answer: 5", 1.0), ("\\boxed{5}", 1.0), ("Answer: 5.0", 1.0), ("Answer: 05", 1.0),
    ("Answer: 6", 0.0), ("5", 0.0), ("Answer: 4 Answer: 5", 1.0), ("Answer: 5 Answer: 4", 0.0),
    ("Answer: 5\n" + "pad " * 100, 1.0),
    ("Answer: 5\n" + "pad " * 2000, 0.0),  # only the response's tail is read (MAX_CHARS)
])
def test_math_scorer(response, expected):
    assert score("arith", response, "5") == expected


def test_math_scorer_never_one_when_gold_unparsable():
    assert score("arith", "Answer: ???", "???") == 0.0
    assert score("arith", "Answer: 5", "") == 0.0


def test_choice_exact_yesno_scorers():
    meta = json.dumps({"options": ["Egypt", "Peru", "Norway", "India"]})
    assert score("kb_chain", "Omar lives in Lima. Lima is in Peru. Answer: Peru", "Peru", meta) == 1.0
    assert score("kb_chain", "Answer: peru.", "Peru", meta) == 1.0
    assert score("kb_chain", "Answer: B", "Peru", meta) == 1.0
    assert score("kb_chain", "Answer: (b)", "Peru", meta) == 1.0
    assert score("kb_chain", "Answer: C", "Peru", meta) == 0.0
    assert score("kb_chain", "Answer: Norway", "Peru", meta) == 0.0
    assert score("kb_chain", "Answer: Peru or Norway", "Peru", meta) == 0.0
    assert score("kb_chain", "Answer: B", "Peru", "not json") == 0.0
    assert score("passage_qa", "Answer: Oslo.", "Oslo") == 1.0
    assert score("passage_qa", "Answer: oslo", "Oslo") == 1.0
    assert score("passage_qa", "Answer: Rome", "Oslo") == 0.0
    assert score("support", "Answer: yes", "yes") == 1.0
    assert score("support", "Answer: Yes, it is.", "yes") == 1.0
    assert score("support", "Answer: no", "yes") == 0.0
    assert score("duration", "\\boxed{no}", "no") == 1.0


def test_format_scorer_is_strict_and_per_instruction():
    meta = json.dumps({"word": "apple", "n": 3, "sep": "commas", "case": "uppercase", "wrap": "quotes"})
    assert score("format", '"APPLE, APPLE, APPLE"', "", meta) == 1.0
    assert score("format", '  "APPLE, APPLE, APPLE"\n', "", meta) == 1.0
    checks = format_checks('"APPLE, APPLE"', meta)
    assert checks == {"wrap": True, "count": False, "case": True}
    assert score("format", '"APPLE, APPLE"', "", meta) == pytest.approx(2 / 3)
    assert score("format", "Answer: APPLE, APPLE, APPLE", "", meta) == pytest.approx(0.0)
    assert score("format", '"apple, apple, apple"', "", meta) == pytest.approx(2 / 3)
    assert score("format", "", "", "not json") == 0.0


@pytest.mark.parametrize("task", sorted(TASKS))
@pytest.mark.parametrize("response", ADVERSARIAL)
def test_scorers_never_crash_hang_or_leave_range(task, response):
    meta = json.dumps({"word": "apple", "n": 2, "sep": "spaces", "case": "lowercase", "wrap": "none"})
    start = time.perf_counter()
    value = score(task, response, "5" if TASKS[task].group == "math" else "A", meta)
    assert 0.0 <= value <= 1.0
    # "9^{9^{9}}" once ran for minutes inside sympy; now the worker is killed at MATH_TIMEOUT_S
    # (the extra time: a replacement worker loading, for the call after a kill)
    assert time.perf_counter() - start < MATH_TIMEOUT_S + 2


def test_math_answers_with_powers_factorials_and_binomials_are_read():
    # these were all 0 by construction while "^", "**", "!" and \\binom were refused
    assert score("algebra", "Answer: x^2+7x+10", "$x^2+7x+10$") == 1.0
    assert score("algebra", "Answer: x^2+7x+11", "$x^2+7x+10$") == 0.0
    assert score("arith", "\\boxed{2^{10}}", "1024") == 1.0
    assert score("arith", "Answer: 2**10", "1024") == 1.0
    assert score("arith", "\\boxed{5!}", "120") == 1.0
    assert score("arith", "\\boxed{\\binom{5}{2}}", "10") == 1.0
    assert score("arith", "\\boxed{\\binom{5}{2}}", "11") == 0.0


def test_numeric_answers_need_the_same_number():
    assert score("code_trace", "Answer: 12", "12") == 1.0
    assert score("code_trace", "Answer: 12.0", "12") == 1.0
    for wrong in ("Answer: 1.2", "Answer: 1-2", "Answer: 1,2", "Answer: twelve"):
        assert score("code_trace", wrong, "12") == 0.0
    assert score("arith", "Answer: 1.2", "12") == 0.0


def test_one_boxed_parser_reads_nested_braces_and_skips_unclosed_boxes():
    from mathtransfer.tasks.scoring import boxed, last_boxed

    assert last_boxed("x \\boxed{\\frac{\\sqrt{3}}{2}} done") == "\\frac{\\sqrt{3}}{2}"  # two levels deep
    assert extract_answer("so \\boxed{\\frac{\\sqrt{3}}{2}}") == "\\frac{\\sqrt{3}}{2}"
    assert boxed("\\boxed{1} and \\boxed{a{b{c}}} and \\boxed{open") == [(0, "1"), (14, "a{b{c}}")]
    assert last_boxed("\\boxed{2} \\boxed{unclosed") == "2" and last_boxed("none") is None
    assert extract_answer("Answer: 5\n\\boxed{7") == "5"  # an unclosed box is no answer


def test_every_registered_task_has_a_scorer_that_never_raises():
    from mathtransfer import registry, scorers

    for name in list(registry.TASKS) + [t.name for t in registry.BENCHMARKS.values()]:
        assert registry.task(name).scorer in scorers.SCORERS
        if name not in ("livecodebench",):  # the sandbox's own tests cover code
            assert scorers.score(name, "Answer: \\boxed{\\boxed{", "1", "{}") in (0.0, 1.0)


@pytest.mark.parametrize("kind,response,expected", [
    ("math", "2+3 makes 5", "5"), ("math", "it is -2.5.", "-2.5"), ("math", "no number", None),
    ("yesno", "The passage says so, so yes.", "yes"), ("yesno", "...", None),
    ("choice", "Lima is in Peru.\nPeru.", "Peru"), ("choice", "So the option is: (B)\n\n", "(B)"),
    ("exact", "the city\nOslo }", "Oslo"), ("exact", " \n \n", None),
    ("format", "APPLE APPLE", None), ("code", "print(1)", None), ("ifeval", "text", None),
])
def test_lenient_reader_reads_the_end_by_scorer_kind(kind, response, expected):
    from mathtransfer.tasks.scoring import lenient_answer

    assert lenient_answer(response, kind) == expected


def test_lenient_score_reads_unmarked_answers_and_equals_strict_with_a_marker():
    from mathtransfer.scorers import score_lenient

    meta = json.dumps({"options": ["Egypt", "Peru", "Norway", "India"]})
    # no marker: strict 0, lenient reads the end
    for task, response, gold, m in [("arith", "2+3=5", "5", "{}"), ("kb_chain", "Lima is in Peru.\nB", "Peru", meta),
                                    ("passage_qa", "He went north.\nOslo.", "Oslo", "{}"),
                                    ("support", "It is supported: yes", "yes", "{}")]:
        assert score(task, response, gold, m) == 0.0 and score_lenient(task, response, gold, m) == 1.0, task
    # a marker: lenient is strict, even when the end says otherwise
    for task, response, gold in [("arith", "Answer: 4 then 5", "5"), ("arith", "\\boxed{5} then 4", "5"),
                                 ("support", "Answer: no, yes", "yes")]:
        assert score_lenient(task, response, gold) == score(task, response, gold), response
    assert score_lenient("arith", "2+3=6", "5") == 0.0 and score_lenient("arith", "five", "5") == 0.0
    # format has no marker to miss: lenient == strict
    fmt = json.dumps({"word": "apple", "n": 2, "sep": "spaces", "case": "uppercase", "wrap": "none"})
    assert score_lenient("format", "APPLE", "", fmt) == score("format", "APPLE", "", fmt) == 0.5
    assert score_lenient("arith", "no", "5", strict=0.7) == 0.0  # a given strict score is reused only with a marker
    assert score_lenient("arith", "Answer: 4", "5", strict=0.7) == 0.7


@pytest.mark.parametrize("task", sorted(TASKS))
@pytest.mark.parametrize("response", ADVERSARIAL + ["x 1" * 400_000, "\n" * 10_000, "Answer\n:\n}}}."])
def test_lenient_score_never_raises_or_leaves_range(task, response):
    from mathtransfer.scorers import score_lenient
    from mathtransfer.tasks.scoring import lenient_answer

    meta = json.dumps({"word": "apple", "n": 2, "sep": "spaces", "case": "lowercase", "wrap": "none"})
    assert 0.0 <= score_lenient(task, response, "5" if TASKS[task].group == "math" else "A", meta) <= 1.0
    for kind in ("math", "yesno", "choice", "exact", "format"):
        lenient_answer(response, kind)  # never raises
    if not isinstance(response, str):
        assert score_lenient(task, response, "5", meta) == 0.0


def test_format_case_and_wrap_need_the_word():
    meta = json.dumps({"word": "apple", "n": 2, "sep": "spaces", "case": "uppercase", "wrap": "none"})
    assert format_checks("OK DONE", meta) == {"count": False, "case": False}  # right case, word missing
    assert score("format", "OK DONE", "", meta) == 0.0 and score("format", "", "", meta) == 0.0
    assert format_checks("APPLE OK", meta) == {"count": False, "case": True}
    quoted = json.dumps({"word": "apple", "n": 2, "sep": "spaces", "case": "uppercase", "wrap": "quotes"})
    assert format_checks('""', quoted) == {"wrap": False, "count": False, "case": False}
    assert format_checks('"APPLE APPLE"', quoted) == {"wrap": True, "count": True, "case": True}


def test_every_generated_format_item_has_no_wrap_so_item_means_pool_instructions():
    # score_format's docstring: two instructions per item, so the mean of item shares is IFEval's
    # instruction-level accuracy pooled over instructions
    import random

    from mathtransfer import data
    from mathtransfer.config import DataConfig

    rows = data.build(DataConfig(n_train=40, n_test=40), seed=1)
    metas = [r["meta"] for split in rows.values() for r in split if r["task"] == "format"]
    metas += [TASKS["format"].make(random.Random(s), (0.5, 0.5), split)["meta"] for s in range(300)
              for split in ("train", "test")]
    assert metas and all(json.loads(m)["wrap"] == "none" for m in metas)
    item = json.loads(metas[0])
    assert len(format_checks("x", json.dumps(item))) == 2

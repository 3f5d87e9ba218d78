"""score_math on realistic competition answers (MATH-500 / OlympiadBench forms), adversarial input,
threads and a worker that dies: every right form scores 1, wrong ones 0, and nothing hangs."""
import threading
import time

import pytest

from mathtransfer.hub import math_gold
from mathtransfer.tasks import scoring
from mathtransfer.tasks.scoring import MATH_TIMEOUT_S, score_math

# (gold as hub.math_gold stores it, a right response, a wrong response)
TABLE = [
    # exponents, polynomials, degrees
    ("$x^2+7x+10$", "Expanding, $(x+2)(x+5) = x^2+7x+10$, so the answer is $\\boxed{x^2 + 7x + 10}$.",
     "So the answer is \\boxed{x^2+7x+12}."),
    ("$90^\\circ$", "The angle is a right angle, so the answer is \\boxed{90^\\circ}.",
     "The angle is $\\boxed{45^\\circ}$."),
    ("$90^\\circ$", "Since the vectors are orthogonal the angle is \\boxed{90}.", "The angle is \\boxed{180}."),
    ("$2^{10}$", "Each of the 10 switches is on or off: $\\boxed{2^{10}}$.", "There are \\boxed{2^{9}} ways."),
    ("$2^{10}$", "There are $2^{10} = 1024$ subsets, so the answer is \\boxed{1024}.", "So \\boxed{1023}."),
    ("$3^{1/3}$", "Taking cube roots, $x = \\boxed{\\sqrt[3]{3}}$.", "Hence $x = \\boxed{\\sqrt{3}}$."),
    ("$x^{12}$", "Multiplying the powers: x**12\nAnswer: x**12", "Answer: x**21"),
    ("$e^{i\\pi/4}$", "The root in the first quadrant is $\\boxed{e^{i\\pi/4}}$.", "It is \\boxed{e^{i\\pi/3}}."),
    # fractions, roots, pi
    ("$\\frac{\\sqrt{3}}{2}$", "Hence $\\sin 60^\\circ = \\boxed{\\frac{\\sqrt{3}}{2}}$.",
     "Hence $\\cos 60^\\circ = \\boxed{\\frac{1}{2}}$."),
    ("$\\frac{14}{3}$", "Solving $3x = 14$ gives $x = \\boxed{\\dfrac{14}{3}}$.", "So $x=\\boxed{\\dfrac{3}{14}}$."),
    ("$\\frac{2}{3}$", "The continued fraction is $\\boxed{\\frac{1}{1+\\frac{1}{2}}}$.",
     "The value is $\\boxed{\\frac{1}{1+\\frac{1}{3}}}$."),
    ("$\\frac{9}{4}$", "The area is $\\boxed{2\\frac{1}{4}}$ square units.", "The area is $\\boxed{2\\frac{1}{2}}$."),
    ("$3\\sqrt{2}$", "The diagonal is $\\sqrt{18}$, so \\boxed{\\sqrt{18}}.", "The diagonal is \\boxed{2\\sqrt{3}}."),
    ("$4\\sqrt{2}+4$", "The perimeter is $\\boxed{4 + 4\\sqrt2}$.", "The perimeter is $\\boxed{4+4\\sqrt3}$."),
    ("$2\\pi$", "The period of $\\sin x$ is $\\boxed{2\\pi}$.", "The period is $\\boxed{\\pi}$."),
    ("$\\frac{1}{2}$", "The probability is $\\boxed{0.5}$.", "The probability is $\\boxed{0.25}$."),
    ("$\\frac{1}{3}$", "As a fraction, $0.\\overline{3} = \\boxed{\\frac{1}{3}}$.", "So \\boxed{0.3}."),
    ("$\\frac{1}{6}$", "The decimal is $\\boxed{0.1\\overline{6}}$.", "The decimal is $\\boxed{0.1\\overline{5}}$."),
    # tuples, intervals, sets, several answers
    ("$\\left( 3, \\frac{\\pi}{2} \\right)$", "In polar coordinates: $\\boxed{\\left(3, \\frac{\\pi}{2}\\right)}$.",
     "In polar coordinates: $\\boxed{(3, \\pi)}$."),
    ("$[-2,7]$", "The range is the closed interval $\\boxed{[-2, 7]}$.", "The range is $\\boxed{(-2, 7)}$."),
    ("$(-\\infty,3)\\cup(5,\\infty)$", "So $x \\in \\boxed{(-\\infty, 3) \\cup (5, \\infty)}$.",
     "So $x \\in \\boxed{(-\\infty, 3] \\cup (5, \\infty)}$."),
    ("$-2, 1$", "The roots are $\\boxed{1, -2}$.", "The only root is $\\boxed{-2}$."),
    ("$\\{1,2,3\\}$", "The set is $\\boxed{\\{3, 2, 1\\}}$.", "The set is $\\boxed{\\{1, 2\\}}$."),
    # matrices
    ("$\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}$",
     "Therefore $\\mathbf{M} = \\boxed{\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}}$.",
     "Therefore $\\mathbf{M} = \\boxed{\\begin{pmatrix} 1 & 2 \\\\ 4 & 3 \\end{pmatrix}}$."),
    ("$\\begin{pmatrix} -1 \\\\ 2 \\end{pmatrix}$", "The projection is $\\boxed{\\begin{pmatrix}-1\\\\2\\end{pmatrix}}$.",
     "The projection is $\\boxed{\\begin{pmatrix}1\\\\2\\end{pmatrix}}$."),
    # text answers, multiple choice
    ("$\\text{(C)}$", "Only (C) works, so the answer is $\\boxed{\\text{(C)}}$.", "So the answer is \\boxed{\\text{(B)}}."),
    ("$\\text{Evelyn}$", "Evelyn has the highest average speed: $\\boxed{\\text{Evelyn}}$.", "\\boxed{\\text{Bob}}"),
    ("$\\text{odd}$", "Since $f(-x) = -f(x)$, $f$ is \\boxed{\\text{odd}}.", "So $f$ is \\boxed{\\text{even}}."),
    # thousands separators, money, percent, units
    ("10080", "There are $8!/4 = 10{,}080$ arrangements, so \\boxed{10{,}080}.", "So \\boxed{10{,}800}."),
    ("1000", "She saves \\$1,000 in total.\nAnswer: 1,000", "Answer: 100"),
    ("$\\$18.90$", "The total cost is $\\boxed{\\$18.90}$.", "The total cost is $\\boxed{\\$18.00}$."),
    ("$25\\%$", "The price dropped by $\\boxed{25\\%}$.", "The price dropped by $\\boxed{20\\%}$."),
    ("$5\\text{ cm}$", "The radius is $\\boxed{5 \\text{ cm}}$.", "The radius is $\\boxed{6\\text{ cm}}$."),
    # equations and expressions
    ("$p-q$", "Simplifying gives $\\boxed{p - q}$.", "Simplifying gives $\\boxed{q - p}$."),
    ("$y=2x+3$", "The line is $\\boxed{y = 2x + 3}$.", "The line is $\\boxed{y = 3x + 2}$."),
    ("5", "Solving, \\boxed{x = 5}.", "Solving, \\boxed{x = 4}."),
    ("$\\infty$", "The sum diverges: $\\boxed{\\infty}$.", "The limit is $\\boxed{-\\infty}$."),
    # the answer formats: several boxes (the last counts), Final Answer / Answer lines
    ("$\\frac{1}{2}$", "First I got $\\boxed{\\frac{1}{3}}$, but correcting the sign gives $\\boxed{\\frac{1}{2}}$.",
     "The answer is $\\boxed{\\frac{1}{2}}$. Wait, recomputing: $\\boxed{\\frac{1}{3}}$."),
    ("$\\frac{\\sqrt{3}}{2}$", "Final Answer: \\boxed{\\frac{\\sqrt{3}}{2}}", "Final Answer: \\boxed{\\frac{\\sqrt{2}}{2}}"),
    ("$\\frac{\\sqrt{3}}{2}$", "Final Answer: The final answer is $\\boxed{\\frac{\\sqrt{3}}{2}}$. I hope it is correct.",
     "Final Answer: The final answer is $\\boxed{\\frac{\\sqrt{3}}{3}}$. I hope it is correct."),
    ("$x^2$", "**Answer:** $x^2$", "**Answer:** $x^3$"),
    ("7", "Answer: **7**", "Answer: **8**"),
    ("$\\frac{1}{2}$", "Answer: \\[\\frac{1}{2}\\]", "Answer: \\(\\frac{1}{4}\\)"),
    ("204", "The total is 204.\nAnswer: 204", "Answer: 240"),
]


def test_the_table_is_in_the_golds_stored_form():
    assert len(TABLE) >= 30
    for gold, _, _ in TABLE:
        assert math_gold(gold) == gold


@pytest.mark.parametrize("gold,right,wrong", TABLE, ids=[f"{i}:{g[:24]}" for i, (g, _, _) in enumerate(TABLE)])
def test_right_form_scores_one_and_wrong_zero(gold, right, wrong):
    assert score_math(right, gold) == 1.0
    assert score_math(wrong, gold) == 0.0


def test_same_input_same_score_on_every_call():
    for gold, right, wrong in TABLE[:8]:
        assert [score_math(right, gold) for _ in range(3)] == [1.0] * 3
        assert [score_math(wrong, gold) for _ in range(3)] == [0.0] * 3


def test_nested_box_needs_no_answer_line():  # the box parser reads any depth on its own
    assert scoring.extract_answer("so \\boxed{\\frac{\\sqrt{3}}{2}} done") == "\\frac{\\sqrt{3}}{2}"
    assert score_math("so \\boxed{\\frac{\\sqrt{3}}{2}}", "$\\frac{\\sqrt{3}}{2}$") == 1.0
    assert score_math("\\boxed{\\left(\\frac{1}{\\sqrt{2}}, 2^{2^{1}}\\right)}", "$(\\frac{\\sqrt{2}}{2}, 4)$") == 1.0


def test_plain_numbers_stay_in_the_calling_process(monkeypatch):
    def no_worker(*args):
        raise AssertionError("the worker was asked")

    monkeypatch.setattr(scoring._WORKER, "judge", no_worker)
    assert score_math("Answer: 12.0", "12") == 1.0 and score_math("\\boxed{13}", "12") == 0.0
    assert score_math("Answer: -3", "-3") == 1.0


def ready_worker():
    """The worker, started and loaded (after a kill the replacement loads during the next call)."""
    with scoring._WORKER.lock:
        scoring._WORKER._ensure_ready()
    return scoring._WORKER


@pytest.mark.parametrize("answer", ["9^{9^{9^{9}}}", "1000000!", "10^{10^{10}}"])
def test_adversarial_answers_are_bounded(answer):
    ready_worker()  # so the bound below is the job's alone
    start = time.monotonic()
    value = score_math(f"It is enormous: \\boxed{{{answer}}}", "$5$")
    assert value == 0.0
    assert time.monotonic() - start < MATH_TIMEOUT_S + 1
    assert score_math("\\boxed{x^2}", "$x^2$") == 1.0  # and the next call finds a working worker


def test_scoring_from_another_thread():
    results = []
    threads = [threading.Thread(target=lambda g=g, r=r: results.append(score_math(r, g))) for g, r, _ in TABLE[:4]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == [1.0] * 4


def test_a_worker_killed_mid_call_is_replaced():
    worker = ready_worker()
    process, restarts = worker.process, worker.restarts
    killer = threading.Timer(0.5, process.kill)
    killer.start()
    start = time.monotonic()
    try:
        assert score_math("\\boxed{9^{9^{9^{9}}}}", "$7$") == 0.0  # killed while it computes
    finally:
        killer.cancel()
    assert time.monotonic() - start < MATH_TIMEOUT_S
    assert worker.restarts == restarts + 1 and worker.process is not process
    assert score_math("So \\boxed{90^\\circ}.", "$90^\\circ$") == 1.0
    worker.process.kill()  # and one that died between calls
    worker.process.wait()
    assert score_math("So \\boxed{2^{10}}.", "$1024$") == 1.0
    assert worker.restarts == restarts + 2


@pytest.mark.parametrize("response", [None, b"\\boxed{5}", 12, ["\\boxed{5}"], "", "\\boxed{}", "Answer:",
                                      "x" * 2_000_000, "\\boxed{" * 3000, "Answer: " + "(" * 200,
                                      "Answer: " + "9" * 450, "\\boxed{" + "\\frac{1}{" * 60 + "}" * 60 + "}",
                                      "Answer: \x00\ud800\U0001F600", "\\boxed{\\begin{pmatrix}}",
                                      "Answer: 1/0", "Answer: \\frac{1}{0}", "\\boxed{\\sqrt{-1}}"])
def test_garbage_scores_zero_without_raising(response):
    start = time.monotonic()
    assert score_math(response, "$\\frac{1}{2}$") == 0.0
    assert score_math(response, "5") == 0.0
    assert time.monotonic() - start < 2 * MATH_TIMEOUT_S + 2


def test_garbage_golds_score_zero():
    for gold in (None, b"5", "", "   ", "???", 5):
        assert score_math("\\boxed{5}", gold) == 0.0

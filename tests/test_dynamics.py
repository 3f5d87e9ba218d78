"""Gradient-norm indicators and the matched-gain view, on small cases computed by hand."""
import math

import numpy as np
import pandas as pd
import pytest

from mathtransfer import dynamics


def test_indicators_of_a_hand_computed_curve():
    steps = list(range(1, 9))
    norms = [4, 4, 4, 3, 2, 2, 1, 1]
    ind = dynamics.grad_norm_indicators(steps, norms, window=100)
    assert ind["early_slope"] == pytest.approx(-0.5)  # first 5 steps: 4,4,4,3,2
    assert ind["half_life"] == 5  # initial 4 (mean of 3 steps): first <= 2 at step 5
    assert ind["total"] == 21
    assert ind["late_mean"] == pytest.approx(1.5) and ind["late_var"] == pytest.approx(0.25)
    assert ind["oscillation"] == pytest.approx((3 / 7) / (21 / 8))


def test_exponential_decay_rate_is_recovered_and_constant_norms_do_not_decay():
    steps = np.arange(1, 51)
    assert dynamics.grad_norm_indicators(steps, 8 * np.exp(-0.1 * steps))["decay_rate"] == pytest.approx(0.1)
    flat = dynamics.grad_norm_indicators(steps, np.full(50, 2.0))
    assert flat["decay_rate"] == pytest.approx(0) and flat["oscillation"] == 0 and flat["late_var"] == 0
    assert math.isnan(flat["half_life"])  # never halves


def test_indicators_use_only_the_window_and_need_four_steps():
    norms = [4, 4, 4, 3, 2, 2, 1, 1]
    assert dynamics.grad_norm_indicators(range(1, 9), norms, window=4)["total"] == 15
    assert all(math.isnan(v) for v in dynamics.grad_norm_indicators([1, 2, 3], [1, 2, 3]).values())


def test_indicator_table_has_one_row_per_run():
    curves = pd.DataFrame({"arm": ["a"] * 5 + ["b"] * 5, "seed": 0, "step": list(range(1, 6)) * 2,
                           "grad_norm": [5, 4, 3, 2, 1, 1, 1, 1, 1, 1]})
    table = dynamics.indicator_table(curves)
    assert list(table.arm) == ["a", "b"] and set(dynamics.INDICATORS) <= set(table.columns)
    assert table.set_index("arm").loc["a", "total"] == 15


def _checkpoints():
    rows = []
    # one run: math tasks m1, m2; other o1; non n1. step 0 is the base.
    for step, m1, m2, o1, n1 in [(0, .3, .5, .8, .9), (25, .5, .7, .7, .9), (50, .7, .9, .5, .6)]:
        for task, group, acc in [("m1", "math", m1), ("m2", "math", m2), ("o1", "other", o1), ("n1", "non", n1)]:
            rows.append(dict(arm="sft", seed=1, step=step, task=task, group=group, accuracy=acc))
    return pd.DataFrame(rows)


def test_gains_are_changes_of_group_means_from_step_zero():
    g = dynamics.gains(_checkpoints()).set_index("step")
    assert g.loc[0, ["math", "other", "non"]].tolist() == [0, 0, 0]
    assert g.loc[25, "math"] == pytest.approx(0.2) and g.loc[25, "other"] == pytest.approx(-0.1)
    assert g.loc[50, "math"] == pytest.approx(0.4) and g.loc[50, "non"] == pytest.approx(-0.3)


def test_at_math_gain_interpolates_between_checkpoints():
    g = dynamics.gains(_checkpoints())
    row = dynamics.at_math_gain(g, 0.3).iloc[0]
    assert row["step"] == pytest.approx(37.5)  # halfway between +0.2 (step 25) and +0.4 (step 50)
    assert row["other"] == pytest.approx(-0.2) and row["non"] == pytest.approx(-0.15)
    assert math.isnan(dynamics.at_math_gain(g, 0.5).iloc[0]["other"])  # never reached
    assert dynamics.at_math_gain(g, 0.0).iloc[0]["step"] == 0


def _sweep_scores(runs: dict) -> pd.DataFrame:
    """runs: lr -> list of (step, math, other) accuracies; one task per group."""
    rows = []
    for lr, points in runs.items():
        for step, math_acc, other_acc in points:
            rows += [dict(arm="sft-think", lr=lr, seed=0, step=step, task="arith", group="math", accuracy=math_acc, n=50),
                     dict(arm="sft-think", lr=lr, seed=0, step=step, task="code_trace", group="other",
                          accuracy=other_acc, n=50)]
    return pd.DataFrame(rows)


def test_lr_rule_takes_the_best_final_math_and_leaves_out_rates_that_break_math_first():
    scores = _sweep_scores({
        1e-4: [(0, 0.5, 0.6), (25, 0.55, 0.6), (50, 0.60, 0.6)],   # +0.10, never below the base
        3e-4: [(0, 0.5, 0.6), (25, 0.41, 0.1), (50, 0.70, 0.1)],   # +0.20, dips 9 points: kept, forgets most
        1e-3: [(0, 0.5, 0.6), (25, 0.30, 0.6), (50, 0.90, 0.6)],   # +0.40 but fell 20 points first
    })
    table = dynamics.choose_lr(scores, max_drop=0.10, current={"sft-think": 3e-4}).set_index("lr")
    assert table["in_params"].tolist() == [False, True, False]
    assert table["excluded"].tolist() == [False, False, True]
    assert table["chosen"].tolist() == [False, True, False]  # forgetting (other -0.5) never chooses
    assert not table["fallback"].any() and not table.loc[3e-4, "at_edge"]
    assert table.loc[3e-4, "math"] == pytest.approx(0.20)
    assert table.loc[3e-4, "min_math"] == pytest.approx(-0.09)
    assert table.loc[3e-4, "other"] == pytest.approx(-0.5)


def test_lr_rule_breaks_ties_toward_the_smaller_rate_and_falls_back_when_every_rate_dips():
    tie = _sweep_scores({1e-4: [(0, 0.5, 0.5), (50, 0.6, 0.5)], 3e-4: [(0, 0.5, 0.5), (50, 0.6, 0.5)]})
    assert dynamics.choose_lr(tie, 0.10).query("chosen").lr.tolist() == [1e-4]
    dips = _sweep_scores({1e-4: [(0, 0.5, 0.5), (25, 0.2, 0.5), (50, 0.3, 0.5)],
                          3e-4: [(0, 0.5, 0.5), (25, 0.0, 0.5), (50, 0.8, 0.5)],
                          1e-3: [(0, 0.5, 0.5), (25, 0.1, 0.5), (50, 0.7, 0.5)]})
    table = dynamics.choose_lr(dips, 0.10, current={"sft-think": 3e-4})
    assert table.excluded.all() and table.query("chosen").lr.tolist() == [3e-4]
    assert table.query("chosen").fallback.item() and not table.query("chosen").at_edge.item()
    [line] = dynamics.sweep_verdicts(table)
    assert line.startswith("sft-think: lr 0.0003, every swept rate fell far below the base at some checkpoint") and "trains at it" in line
    assert "next best lr 0.001, math +0.200: +0.100 apart" in line


def test_runs_are_read_at_a_matched_forward_kl_and_a_reading_before_the_first_checkpoint_is_flagged():
    rows = []
    for arm, points in {"sft-think": [(0, 0.0, 0.5, 0.6), (25, 2.0, 0.7, 0.2), (50, 3.0, 0.8, 0.1)],
                        "grpo": [(0, 0.0, 0.5, 0.6), (25, 0.01, 0.55, 0.6), (50, 0.0456, 0.6, 0.62)]}.items():
        for step, kl, math_acc, other_acc in points:
            rows += [dict(arm=arm, seed=0, step=step, task="arith", group="math", accuracy=math_acc, kl_math=kl),
                     dict(arm=arm, seed=0, step=step, task="code_trace", group="other", accuracy=other_acc, kl_math=kl)]
    run_kl = dynamics.distance_path(pd.DataFrame(rows))
    assert run_kl.query("arm == 'grpo' and step == 50").kl.item() == 0.0456
    level = dynamics.matched_kl(run_kl)
    assert level == 0.0456  # the smaller of the two runs' largest KL, to 3 significant digits
    assert dynamics.matched_kl(run_kl.assign(kl=run_kl.kl * 1.00001)) == 0.0456
    at = dynamics.at_level(run_kl, "kl", level).set_index("arm")
    # grpo reaches it at its last checkpoint; sft-think between the base and step 25: flagged
    assert at.loc["grpo", "step"] == 50 and at.loc["grpo", "other"] == pytest.approx(0.02)
    assert not at.loc["grpo", "first_segment"] and at.loc["sft-think", "first_segment"]
    assert at.loc["sft-think", "step"] == pytest.approx(25 * 0.0456 / 2.0)
    assert at.loc["sft-think", "other"] == pytest.approx(-0.4 * 0.0456 / 2.0)


def test_checkpoints_are_read_at_the_tokens_seen_and_runs_at_an_equal_token_count():
    ckpts = _checkpoints()
    # TRL's cumulative count, logged every 10 steps; GRPO-like gaps (no count on some steps) are skipped
    curves = pd.DataFrame({"arm": "sft", "seed": 1, "step": [10, 20, 30, 40, 50],
                           "tokens": [1000.0, 2000.0, float("nan"), 4000.0, 5000.0]})
    path = dynamics.token_path(curves, ckpts)
    assert list(path.columns) == ["arm", "seed", "step", "tokens", "math", "other", "non"]
    assert path.tokens.tolist() == [0.0, 2000.0, 5000.0]  # step 25 reads the count logged at step 20
    assert path.set_index("step").loc[50, "math"] == pytest.approx(0.4)
    other_run = path.assign(seed=2, tokens=path.tokens * 0.61234)
    both = pd.concat([path, other_run])
    level = dynamics.reached_level(both, "tokens")
    assert level == 3060  # the smaller of the runs' largest (3061.7), rounded down to 3 significant digits
    at = dynamics.at_level(both, "tokens", level).set_index("seed")
    assert at.loc[2, "step"] == pytest.approx(25 + 25 * (level - 1224.68) / (3061.7 - 1224.68))
    assert at.loc[1, "step"] == pytest.approx(25 + 25 * (level - 2000) / 3000)

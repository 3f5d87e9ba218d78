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

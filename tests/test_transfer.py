"""The Transferability Index on cases small enough to compute by hand, and the tables and
sentences notebook 05 shows, on hand-made records."""
import math
import os

import pandas as pd
import pytest

from mathtransfer import ti, transfer, zoo
from mathtransfer.ti import transferability_index
from mathtransfer.zoo import ZOO_GROUPS, read_zoo

PAPER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "paper")
GROUPS = {"math": ["m1", "m2"], "other": ["o1", "o2"], "non": ["n1", "n2"]}
SIGMA = {"math": 10.0, "other": 10.0, "non": 10.0}  # a fixed, declared sigma per group


def _scores(rows):
    return pd.DataFrame(rows, index=["m1", "m2", "o1", "o2", "n1", "n2"]).T


def test_v2_two_pairs_with_pooled_sigma():
    scores = _scores({"B": [50] * 6, "T1": [60, 60, 55, 55, 40, 40], "T2": [70, 70, 50, 50, 50, 50]})
    pairs = pd.DataFrame({"model": ["T1", "T2"], "base": ["B", "B"]})
    ti = transferability_index(scores, pairs, GROUPS)
    # math dR 10,10,20,20 -> sigma 5: T1 delta 2 -> DI sqrt2; T2 delta 4 -> DI 2
    assert ti.loc["T1", "DI_math"] == pytest.approx(math.sqrt(2)) and ti.loc["T2", "DI_math"] == pytest.approx(2)
    # other dR 5,5,0,0 -> sigma 2.5 -> T1 delta 2; non dR -10,-10,0,0 -> sigma 5 -> T1 delta -2
    assert ti.loc["T1", "TI_other"] == pytest.approx(100) and ti.loc["T1", "TI_non"] == pytest.approx(-100)
    assert ti.loc["T2", "TI_other"] == 0 and ti.loc["T2", "TI_non"] == 0
    assert list(ti.columns[:2]) == ["TI_other", "TI_non"]


def test_v2_weights_favour_benchmarks_with_more_headroom():
    scores = _scores({"B": [20, 60, 50, 50, 0, 50], "T": [30, 90, 60, 40, 10, 50]})
    ti = transferability_index(scores, pd.DataFrame({"model": ["T"], "base": ["B"]}), GROUPS)
    # math: dR 10, 30, sigma 10 -> s 1, sqrt3; weights 80, 40 -> 2/3, 1/3
    di_math = 2 / 3 + math.sqrt(3) / 3
    assert ti.loc["T", "DI_math"] == pytest.approx(di_math)
    assert ti.loc["T", "TI_other"] == pytest.approx(0)  # +10 and -10 with equal weights
    # non: dR 10, 0, sigma 5 -> s sqrt2, 0; weights 100, 50 -> 2/3, 1/3
    assert ti.loc["T", "TI_non"] == pytest.approx(100 * (2 / 3) * math.sqrt(2) / di_math)


def test_v1_relative_gains_leave_out_zero_base_scores():
    scores = _scores({"B": [20, 60, 50, 50, 0, 50], "T": [30, 70, 60, 40, 10, 55]})
    ti = transferability_index(scores, pd.DataFrame({"model": ["T"], "base": ["B"]}), GROUPS, version="v1")
    assert ti.loc["T", "dR_math"] == pytest.approx((0.5 + 10 / 60) / 2)
    assert ti.loc["T", "TI_other"] == pytest.approx(0)
    assert ti.loc["T", "TI_non"] == pytest.approx(100 * 0.1 / ((0.5 + 10 / 60) / 2))  # n1 (base 0) left out


@pytest.mark.parametrize("math_scores", [[50, 50], [40, 45]])
def test_no_math_gain_leaves_ti_undefined(math_scores):
    scores = _scores({"B": [50] * 6, "T": math_scores + [40, 45, 40, 40]})  # a loss on math too
    ti = transferability_index(scores, pd.DataFrame({"model": ["T"], "base": ["B"]}), GROUPS)
    assert math.isnan(ti.loc["T", "TI_other"]) and math.isnan(ti.loc["T", "TI_non"])


def test_equal_changes_everywhere_leave_ti_undefined_unless_nothing_changed():
    scores = _scores({"B": [50] * 6, "T1": [60, 60, 50, 50, 40, 40], "T2": [60, 60, 50, 50, 40, 40]})
    ti = transferability_index(scores, pd.DataFrame({"model": ["T1", "T2"], "base": ["B", "B"]}), GROUPS)
    assert ti["DI_math"].isna().all() and ti["TI_non"].isna().all()  # +10 everywhere: no spread to scale by
    assert (ti["DI_other"] == 0).all()


@pytest.mark.parametrize("change, message", [
    (lambda s, p, g: (s, p.assign(base=["nobody"]), g), "scores: no row for base 'nobody'"),
    (lambda s, p, g: (s, p, {"other": g["other"]}), "groups: needs a 'math' group"),
    (lambda s, p, g: (s, p, {**g, "non": ["n1", "zz"]}), "groups['non']: benchmark 'zz' is not a column"),
    (lambda s, p, g: (s * 200, p, g), "scores: expected accuracies in percent"),
])
def test_bad_inputs_are_named(change, message):
    scores = _scores({"B": [50] * 6, "T": [60] * 6})
    args = change(scores, pd.DataFrame({"model": ["T"], "base": ["B"]}), GROUPS)
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        transferability_index(*args)
    with pytest.raises(ValueError, match="version: expected one of v1, v2"):
        transferability_index(scores, pd.DataFrame({"model": ["T"], "base": ["B"]}), GROUPS, version="v3")


def test_the_paper_zoo_gives_a_ti_for_every_pair():
    scores, pairs = read_zoo(PAPER)
    groups = ZOO_GROUPS
    ti = transferability_index(scores, pairs, groups)
    assert len(ti) == 18 and ti[["TI_other", "TI_non"]].notna().all().all()
    assert (ti["DI_math"] > 0).all()  # every zoo model gained on math
    # one pair written out step by step, with plain Python, from the definition
    model, base = pairs.iloc[0]["model"], pairs.iloc[0]["base"]

    def di(group):
        d_all = [scores.loc[m, b] - scores.loc[bb, b] for m, bb in zip(pairs.model, pairs.base) for b in groups[group]]
        mean = sum(d_all) / len(d_all)
        sigma = (sum((x - mean) ** 2 for x in d_all) / len(d_all)) ** 0.5
        w = [100 - scores.loc[base, b] for b in groups[group]]
        s = [math.copysign(abs((scores.loc[model, b] - scores.loc[base, b]) / sigma) ** 0.5,
                           scores.loc[model, b] - scores.loc[base, b]) for b in groups[group]]
        return sum(wi * si for wi, si in zip(w, s)) / sum(w)

    assert ti.loc[model, "TI_non"] == pytest.approx(100 * di("non") / di("math"))
    assert ti.loc[model, "TI_other"] == pytest.approx(100 * di("other") / di("math"))


def _records(scores: dict[str, dict[str, list[float]]]) -> pd.DataFrame:
    """model -> task -> item scores, as tidy records."""
    return pd.DataFrame([dict(model=m, task=t, id=f"{t}-{i}", score=s)
                         for m, tasks in scores.items() for t, items in tasks.items() for i, s in enumerate(items)])


def test_bootstrap_ti_brackets_the_point_estimate_and_averages_labels():
    from mathtransfer.transfer import bootstrap_ti

    n = 30
    base = {t: [1.0] * (n // 2) + [0.0] * (n // 2) for t in ("m1", "m2", "o1", "o2", "n1", "n2")}
    keep = {**base, "m1": [1.0] * n, "m2": [1.0] * 20 + [0.0] * 10}  # gains on math only
    forget = {**keep, "m2": [1.0] * n, "n1": [0.0] * n, "n2": [0.0] * n}  # and forgets non-reasoning
    records = _records({"B": base, "keep": keep, "forget": forget})
    pairs = pd.DataFrame({"model": ["keep", "forget"], "base": ["B", "B"]})
    out = bootstrap_ti(records, pairs, GROUPS, n_resamples=200, seed=0)
    point = transferability_index(records.pivot_table(index="model", columns="task", values="score") * 100, pairs, GROUPS)
    assert out["TI_non"].tolist() == pytest.approx(point["TI_non"].tolist())
    assert (out["TI_non_low"] <= out["TI_non"]).all() and (out["TI_non"] <= out["TI_non_high"]).all()
    assert out.loc["forget", "TI_non_high"] < 0 and out.loc["keep", "TI_non_low"] >= -1e-9
    assert (out["undefined_share"] == 0).all()
    labelled = bootstrap_ti(records, pairs, GROUPS, labels={"keep": "arm", "forget": "arm"}, n_resamples=200)
    assert labelled.loc["arm", "TI_non"] == pytest.approx(point["TI_non"].mean())
    again = bootstrap_ti(records, pairs, GROUPS, n_resamples=200, seed=0)
    assert again.equals(out)


def test_bootstrap_ti_needs_every_model_on_the_same_items():
    from mathtransfer.transfer import bootstrap_ti

    records = _records({"B": {t: [1.0, 0.0] for t in ("m1", "m2", "o1", "o2", "n1", "n2")},
                        "T": {t: [1.0] for t in ("m1", "m2", "o1", "o2", "n1", "n2")}})
    with pytest.raises(ValueError, match="records: task 'm1' lacks items for model"):
        bootstrap_ti(records, pd.DataFrame({"model": ["T"], "base": ["B"]}), GROUPS, n_resamples=100)


def test_zoo_table_joins_v1_and_the_pairs_method_to_v2():
    scores, pairs = read_zoo(PAPER)
    zoo_ti = zoo.zoo_table(scores, pairs)
    # the columns of reports/results/zoo_ti.csv
    assert list(zoo_ti.columns) == ["TI_other", "TI_non", "DI_math", "DI_other", "DI_non", "TI_other_v1", "TI_non_v1",
                                 "base", "method"]
    v1 = transferability_index(scores, pairs, ZOO_GROUPS, "v1")
    assert zoo_ti["TI_non_v1"].tolist() == pytest.approx(v1["TI_non"].tolist())
    assert list(zoo_ti.index) == list(pairs.model) and set(zoo_ti.method) == {"RL", "SFT"}


def test_zoo_by_method_and_sentences_count_positive_pairs():
    zoo_ti = pd.DataFrame({"method": ["RL", "RL", "RL", "SFT", "SFT"], "TI_other": [10.0, 20.0, -5.0, 40.0, 50.0],
                        "TI_non": [1.0, -2.0, 3.0, -60.0, -80.0]})
    table = zoo.zoo_by_method(zoo_ti)
    assert table.loc["RL"].tolist() == [10.0, 1.0, 2, 2, 3] and table.loc["SFT"].tolist() == [45.0, -70.0, 2, 0, 2]
    assert list(table.columns) == ["TI_other median", "TI_non median", "TI_other > 0", "TI_non > 0", "pairs"]
    assert zoo.zoo_sentences(zoo_ti) == [
        "TI_other: median RL +10.0 (2 of 3 positive), median SFT +45.0 (2 of 2 positive)",
        "TI_non: median RL +1.0 (2 of 3 positive), median SFT -70.0 (0 of 2 positive)"]


def _runs_records():
    """Notebook 04's records: the base, sft-think and grpo with two seeds, a released pair."""
    n = 20
    half = [1.0] * (n // 2) + [0.0] * (n // 2)
    base = {t: half for t in ("m1", "m2", "o1", "o2", "n1", "n2")}
    runs = {("base", "base", 0): base,
            ("sft-think-seed0", "sft-think", 0): {**base, "m1": [1.0] * n, "n1": [0.0] * n, "n2": [0.0] * n},
            ("sft-think-seed1", "sft-think", 1): {**base, "m1": [1.0] * n, "m2": [1.0] * 15 + [0.0] * 5, "n1": [0.0] * n},
            ("grpo-seed0", "grpo", 0): {**base, "m1": [1.0] * 15 + [0.0] * 5},
            ("grpo-seed1", "grpo", 1): {**base, "m2": [1.0] * 15 + [0.0] * 5, "o1": [1.0] * 12 + [0.0] * 8},
            ("org/tuned", "zoo_ti", -1): {**base, "m1": [1.0] * n},
            ("org/base", "zoo_ti-base", -1): base}
    group = {t: {"m": "math", "o": "other", "n": "non"}[t[0]] for t in base}
    return pd.DataFrame([dict(id=f"{t}-{i}", task=t, group=group[t], score=s, model=m, method=meth, seed=seed)
                         for (m, meth, seed), tasks in runs.items() for t, items in tasks.items()
                         for i, s in enumerate(items)])


def test_our_runs_are_the_trained_arms_against_the_base():
    records = _runs_records()
    assert transfer.task_groups(records) == GROUPS
    assert transfer.arm_runs(records).values.tolist() == [["sft-think-seed0", "sft-think", 0], ["sft-think-seed1", "sft-think", 1],
                                                          ["grpo-seed0", "grpo", 0], ["grpo-seed1", "grpo", 1]]
    ours = transfer.run_ti(records)
    pairs = pd.DataFrame({"model": ["sft-think-seed0", "sft-think-seed1", "grpo-seed0", "grpo-seed1"], "base": "base"})
    expected = transferability_index(transfer.percent_scores(records), pairs, GROUPS)
    assert ours["TI_non"].tolist() == pytest.approx(expected["TI_non"].tolist())
    assert list(ours.columns[-2:]) == ["method", "seed"] and ours.loc["grpo-seed1", "method"] == "grpo"
    assert transfer.percent_scores(records).loc["grpo-seed1", "o1"] == pytest.approx(60)


def test_bootstrap_runs_table_has_the_runs_then_the_arm_means():
    records = _runs_records()
    table, per_arm = transfer.bootstrap_runs(records, n_resamples=20, seed=0, fixed_sigma=SIGMA)
    # the columns of reports/results/transfer.csv
    readings = ["change_math", "change_other", "change_non", "TI_other", "TI_non", "TI_fixed_other", "TI_fixed_non",
                "TI_v1_other", "TI_v1_non"]
    assert list(table.columns) == ["model"] + [c + s for c in readings for s in ("", "_low", "_high")] + [
        "undefined_share", "method", "seed"]
    assert table.model.tolist() == ["sft-think-seed0", "sft-think-seed1", "grpo-seed0", "grpo-seed1"] + ["mean of seeds"] * 2
    assert table.method.tolist()[-2:] == list(per_arm.index) and table.seed.isna().sum() == 2
    ours = transfer.run_ti(records)
    assert per_arm.loc["sft-think", "TI_non"] == pytest.approx(ours.loc[["sft-think-seed0", "sft-think-seed1"], "TI_non"].mean())
    assert per_arm.loc["sft-think", "TI_non_high"] < 0  # it forgot non-reasoning in every resample
    assert transfer.arm_order(per_arm) == ["sft-think", "grpo"]
    again, _ = transfer.bootstrap_runs(records, n_resamples=20, seed=0, fixed_sigma=SIGMA)
    assert again.equals(table)


def _per_arm(rows):
    """arm -> (TI_other, low, high, TI_non, low, high)."""
    columns = ["TI_other", "TI_other_low", "TI_other_high", "TI_non", "TI_non_low", "TI_non_high"]
    return pd.DataFrame(rows, index=columns).T.assign(undefined_share=0.0)


def test_grpo_sentences_name_every_verdict():
    per_arm = _per_arm({"grpo": [5, -5, 15, -10, -20, 0], "sft-think": [-50, -60, -40, -15, -25, -5],
                        "rft": [10, 0, 20, float("nan"), float("nan"), float("nan")]})
    assert transfer.grpo_sentences(per_arm) == [
        "TI_other: grpo +5.0 [-5.0, +15.0] exceeds, with non-overlapping intervals sft-think -50.0 [-60.0, -40.0]",
        "TI_non: grpo -10.0 [-20.0, +0.0] exceeds, but the intervals overlap sft-think -15.0 [-25.0, -5.0]",
        "TI_other: grpo +5.0 [-5.0, +15.0] does NOT exceed rft +10.0 [+0.0, +20.0]",
        "TI_non: grpo -10.0 [-20.0, +0.0] cannot be compared with (TI undefined: no math gain) rft undefined"]
    assert transfer.grpo_sentences(per_arm.drop(index="grpo")) == []


def test_metrics_round_and_leave_undefined_values_empty():
    per_arm = _per_arm({"grpo": [5.123, -5, 15, -10, -20, 0], "rft": [10, 0, 20, float("nan"), 1, 2]})
    metrics = transfer.metrics(per_arm)
    assert list(metrics) == ["rft", "grpo"]  # schema.ARMS order
    assert metrics["grpo"]["TI_other"] == 5.12 and metrics["rft"]["TI_non"] is None
    assert list(metrics["grpo"]) == list(per_arm.columns)


def test_live_zoo_ti_keeps_the_scored_pairs_only():
    records = _runs_records()
    empty = transfer.live_zoo_ti(records, [])
    assert empty.empty and empty.index.name == "model" and list(empty.columns) == ["TI_other", "TI_non"]
    zoo_ti = [{"name": "org/tuned", "base": "org/base"}, {"name": "org/unscored", "base": "org/base"}]
    live = transfer.live_zoo_ti(records, zoo_ti)
    assert list(live.index) == ["org/tuned"] and live.loc["org/tuned", "TI_non"] == 0  # a math gain only


def test_ti_points_label_the_zoo_and_our_arms():
    zoo_ti = pd.DataFrame({"TI_other": [1.0], "TI_non": [2.0], "base": ["b"], "method": ["RL"]},
                       index=pd.Index(["z"], name="model"))
    per_arm = _per_arm({"grpo": [5, -5, 15, -10, -20, 0]})
    points = zoo.ti_points(zoo_ti, per_arm)
    assert points.model.tolist() == ["z", "grpo"] and points.method.tolist() == ["zoo RL", "mini-world grpo"]
    assert points.loc[points.model == "grpo", "TI_non_high"].item() == 0


def test_published_zoo_tis_are_set_beside_the_recomputed_ones():
    from conftest import ROOT

    folder = os.path.join(ROOT, "data", "paper")
    zoo_ti = zoo.zoo_table(*zoo.read_zoo(folder))
    table = zoo.reported_vs_recomputed(zoo_ti, zoo.read_reported(folder))
    assert len(table) == 2 * len(zoo_ti) and set(table.group) == {"other", "non"}
    assert (table.difference == table.recomputed - table.reported).all()
    assert (table.reproduced == (table.difference.abs() <= zoo.REPRODUCED)).all()
    assert table.reproduced.sum() == 30  # of 36: the six that do not are named in the sentence
    sentence = zoo.reproduction_sentence(table)
    assert sentence.startswith("30 of 36 published TI values reproduce within 1.1 points; not: ")
    assert sentence.count(" published vs ") == 6 and "Llama3.1-8B-SimpleRL TI_other +72.6 published vs" in sentence


def test_a_fixed_sigma_makes_a_pairs_ti_independent_of_the_other_pairs():
    scores = _scores({"B": [50] * 6, "T1": [60, 60, 55, 55, 40, 40], "T2": [70, 70, 50, 50, 50, 50],
                      "T3": [90, 90, 20, 20, 10, 10]})
    one = pd.DataFrame({"model": ["T1"], "base": ["B"]})
    three = pd.DataFrame({"model": ["T1", "T2", "T3"], "base": ["B"] * 3})
    pooled_one, pooled_three = (transferability_index(scores, p, GROUPS) for p in (one, three))
    assert pooled_one.loc["T1", "TI_non"] != pytest.approx(pooled_three.loc["T1", "TI_non"])
    fixed_one, fixed_three = (transferability_index(scores, p, GROUPS, sigma=SIGMA) for p in (one, three))
    assert fixed_one.loc["T1", "TI_non"] == pytest.approx(fixed_three.loc["T1", "TI_non"])
    # sigma 10 everywhere: math delta 1 -> DI 1; non delta -1 -> DI -1; other delta 0.5 -> sqrt(0.5)
    assert fixed_one.loc["T1", "TI_non"] == pytest.approx(-100)
    assert fixed_one.loc["T1", "TI_other"] == pytest.approx(100 * math.sqrt(0.5))
    assert ti.pooled_sigma(scores, three, GROUPS)["math"] == pytest.approx(pd.Series([10, 10, 20, 20, 40, 40]).std(ddof=0))
    with pytest.raises(ValueError, match="sigma: expected a value for each group"):
        transferability_index(scores, one, GROUPS, sigma={"math": 1.0})


def test_variants_set_the_change_in_points_beside_the_three_indices():
    scores = _scores({"B": [50] * 6, "T1": [60, 60, 55, 55, 40, 40], "T2": [70, 70, 50, 50, 50, 50]})
    pairs = pd.DataFrame({"model": ["T1", "T2"], "base": ["B", "B"]})
    out = ti.variants(scores, pairs, GROUPS, SIGMA)
    assert out.loc["T1", ["change_math", "change_other", "change_non"]].tolist() == [10, 5, -10]
    assert out.loc["T1", "TI_non"] == pytest.approx(-100) and out.loc["T1", "TI_fixed_non"] == pytest.approx(-100)
    assert out.loc["T1", "TI_v1_non"] == pytest.approx(-100)  # -0.2 relative vs +0.2 on math


def test_arm_intervals_also_resample_the_seeds():
    records = _runs_records()
    runs = transfer.arm_runs(records)
    pairs, labels = runs.assign(base="base")[["model", "base"]], dict(zip(runs.model, runs.method))
    with_seeds = transfer.bootstrap_ti(records, pairs, GROUPS, labels=labels, n_resamples=120, seed=1)
    items_only = transfer.bootstrap_ti(records, pairs, GROUPS, labels=labels, n_resamples=120, seed=1,
                                       resample_labels=False)
    assert with_seeds["TI_other"].tolist() == pytest.approx(items_only["TI_other"].tolist())  # same point
    # grpo's seeds differ on o1 (+10 points in one, 0 in the other): drawing seeds widens its interval
    width = lambda t: t.loc["grpo", "TI_other_high"] - t.loc["grpo", "TI_other_low"]  # noqa: E731
    assert width(with_seeds) > width(items_only)


def test_one_item_moves_a_tis_most_near_no_change():
    records = _runs_records()
    moves = transfer.one_item_moves(records, SIGMA).set_index(["arm", "group"])
    assert list(moves.columns) == ["change", "TI", "TI_fixed", "TI_v1"]
    # 20 items a task: one item is 5 points on one of two tasks -> the group mean moves 2.5 points
    assert moves["change"].tolist() == pytest.approx([2.5] * 4)
    # grpo-seed0 (math +25 on m1, nothing else): fixed sigma 10, an item on o1 -> delta 0.5 with
    # weight 1/2 over DI_math (delta 2.5 on m1, weight 1/2) -> 100 * sqrt(0.5) / sqrt(2.5)
    records0 = records[records.model.isin(["base", "grpo-seed0"])]
    alone = transfer.one_item_moves(records0, SIGMA).set_index(["arm", "group"])
    assert alone.loc[("grpo", "other"), "TI_fixed"] == pytest.approx(100 * math.sqrt(0.5) / math.sqrt(2.5))


def test_directions_are_stated_only_where_the_interval_excludes_zero():
    row = pd.Series({"x": 5.0, "x_low": 1.0, "x_high": 9.0, "y": -1.0, "y_low": -3.0, "y_high": 2.0,
                     "z": float("nan"), "z_low": float("nan"), "z_high": float("nan")})
    assert [transfer.direction(row, c) for c in "xyz"] == ["above 0", "no direction (the interval spans 0)", "undefined"]
    records = _runs_records()
    _, per_arm = transfer.bootstrap_runs(records, n_resamples=20, seed=0, fixed_sigma=SIGMA)
    lines = transfer.direction_sentences(per_arm)
    assert len(lines) == 4 and lines[0].startswith("sft-think, other: change (points) ")
    assert "TI v2 (zoo sigma)" in lines[0] and lines[1].count(": below 0") >= 1

"""The Transferability Index on cases small enough to compute by hand."""
import math
import os

import pandas as pd
import pytest

from mathtransfer.transfer import transferability_index

GROUPS = {"math": ["m1", "m2"], "other": ["o1", "o2"], "non": ["n1", "n2"]}


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
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    scores = pd.read_csv(os.path.join(root, "data/paper/zoo_scores.tsv"), sep="\t", index_col="Model")
    pairs = pd.read_csv(os.path.join(root, "data/paper/zoo_pairs.tsv"), sep="\t")
    groups = {"math": ["AIME24", "AIME25", "MATH500", "Olympiad"],
              "other": ["GPQA", "LiveCodeBench2", "ACPBench", "HeadQA"],
              "non": ["CoQA", "MC-TACO", "IFEval", "HaluEval"]}
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

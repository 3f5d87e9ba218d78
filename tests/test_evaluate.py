"""Evaluation: sampled tasks average n answers, intervals bracket the accuracy, runs are seeded;
the models the stage scores; Table 1 / Figure 1 tables and the metrics on hand-made accuracies."""
import json

import pandas as pd
import pytest

from mathtransfer import config, evaluate, generation, models
from mathtransfer.models import Run


def test_sampled_tasks_score_the_mean_of_their_samples(tiny_data, monkeypatch):
    test = tiny_data["test"]
    gold = dict(zip(test["prompt"], test["answer"]))
    calls = []

    def fake_generate(model, tokenizer, prompts, batch_size, max_new_tokens, do_sample=False, temperature=1.0, top_p=1.0):
        calls.append((len(prompts), do_sample, temperature, top_p))
        if not do_sample:
            return ["Answer: nonsense"] * len(prompts)
        # of every 3 samples of a prompt, the first is right
        return [f"Answer: {gold[p]}" if i % 3 == 0 else "Answer: nonsense" for i, p in enumerate(prompts)]

    monkeypatch.setattr(generation, "generate", fake_generate)
    records = generation.records(None, None, test, 2, 8, 4, sampled_tasks=["arith"], n_samples=3,
                                 temperature=0.6, top_p=0.95)
    arith = records[records.task == "arith"]
    assert (arith.samples == 3).all() and arith.score.tolist() == pytest.approx([1 / 3, 1 / 3])
    assert (records[records.task != "arith"].samples == 1).all()
    assert calls == [(22, False, 1.0, 1.0), (6, True, 0.6, 0.95)]  # 11 greedy tasks x 2, arith 2 x 3 samples
    assert list(records.columns[:2]) == ["id", "task"] and len(records) == 24
    assert list(records.columns[-4:]) == ["parsed", "score", "lenient", "samples"]
    assert records.lenient.tolist() == records.score.tolist()  # every answer marked: lenient is strict


def test_records_score_an_unmarked_answer_leniently_only(tiny_data, monkeypatch):
    test = tiny_data["test"]
    gold = dict(zip(test["prompt"], test["answer"]))
    monkeypatch.setattr(generation, "generate", lambda model, tok, prompts, *args, **kwargs: [
        f"so it is\n{gold[p]}" for p in prompts])
    records = generation.records(None, None, test, 1, 8, 4).set_index("task")
    assert records.loc["arith", "score"] == 0.0 and records.loc["arith", "lenient"] == 1.0
    assert records.loc["passage_qa", "lenient"] == 1.0


def test_sampled_evaluation_is_seeded(tiny_data, tiny_model_dir):
    model, tok = models.load_model(tiny_model_dir)
    run = [generation.records(model, tok, tiny_data["test"], 1, 16, 6, sampled_tasks=["word", "blocks"],
                              n_samples=2, seed=7) for _ in range(2)]
    assert run[0]["output"].tolist() == run[1]["output"].tolist()


def test_accuracy_intervals_bracket_the_mean_and_collapse_when_every_item_agrees():
    records = pd.DataFrame({"task": ["arith"] * 40 + ["format"] * 10, "benchmark": ["MATH500"] * 40 + ["IFEval"] * 10,
                            "group": ["math"] * 40 + ["non"] * 10,
                            "score": [1.0, 0.0, 1.0, 1.0] * 10 + [1.0] * 10})
    acc = evaluate.accuracy(records, "m", "base", 0, n_resamples=200).set_index("task")
    assert acc.loc["arith", "accuracy"] == 0.75 and acc.loc["arith", "n"] == 40
    assert acc.loc["arith", "ci_low"] < 0.75 < acc.loc["arith", "ci_high"]
    assert 0.5 < acc.loc["arith", "ci_low"] and acc.loc["arith", "ci_high"] < 0.95  # about +-0.13 at n=40
    assert acc.loc["format", ["accuracy", "ci_low", "ci_high"]].tolist() == [1.0, 1.0, 1.0]
    again = evaluate.accuracy(records, "m", "base", 0, n_resamples=200)
    assert again.ci_low.tolist() == acc.ci_low.tolist()  # seeded
    # records without the lenient column (written before it existed): lenient accuracy is strict
    assert acc.accuracy_lenient.tolist() == acc.accuracy.tolist()
    lenient = evaluate.accuracy(records.assign(lenient=1.0), "m", "base", 0, n_resamples=200).set_index("task")
    assert lenient.loc["arith", "accuracy_lenient"] == 1.0 and lenient.loc["arith", "accuracy"] == 0.75


def test_models_to_evaluate_lists_the_base_the_runs_then_each_zoo_pair_once():
    runs = [Run("grpo-seed0", "grpo", 0, "models/arms/grpo-seed0", "models/base")]
    zoo = [{"name": "org/tuned-a", "base": "org/base"}, {"name": "org/tuned-b", "base": "org/base"},
           {"name": "grpo-seed0", "base": "org/base"}]  # a name already listed is not scored twice
    listed = evaluate.models_to_evaluate("models/base", runs, zoo, seed=3)
    assert [(r.name, r.method, r.seed) for r in listed] == [
        ("base", "base", 3), ("grpo-seed0", "grpo", 0), ("org/tuned-a", "zoo", -1), ("org/base", "zoo-base", -1),
        ("org/tuned-b", "zoo", -1)]
    assert listed[0].path == "models/base" and listed[2].path == "org/tuned-a" and listed[2].base == "org/base"
    assert evaluate.models_to_evaluate("b", [], [], 0) == [Run("base", "base", 0, "b", "b")]


def test_evaluate_models_scores_every_run_on_the_same_items(tiny_data, tiny_model_dir):
    ecfg = config.EvalConfig(n_per_task=1, batch_size=16, max_new_tokens=4, bootstrap_resamples=100)
    runs = [Run("base", "base", 0, tiny_model_dir, tiny_model_dir),
            Run("grpo-seed1", "grpo", 1, tiny_model_dir, tiny_model_dir)]
    records, acc, timings = evaluate.evaluate_models(runs, tiny_data["test"], ecfg, seed=0)
    assert len(records) == 24 and list(records.columns[-3:]) == ["model", "method", "seed"]
    assert records.groupby("model").id.apply(tuple).nunique() == 1  # the same items for every model
    assert acc.groupby("model").size().tolist() == [12, 12]
    assert acc[acc.model == "grpo-seed1"][["method", "seed"]].drop_duplicates().values.tolist() == [["grpo", 1]]
    # the same weights answer alike: equal scores for both runs
    assert acc[acc.model == "base"].accuracy.tolist() == acc[acc.model == "grpo-seed1"].accuracy.tolist()
    assert set(timings) == {"seconds_per_model", "total_seconds", "items_per_model"}
    assert list(timings["seconds_per_model"]) == ["base", "grpo-seed1"] and timings["items_per_model"] == 12


# hand-made accuracies: two tasks per group; the base, two arms with two seeds, a released model
TASKS = {"m1": "math", "m2": "math", "o1": "other", "o2": "other", "n1": "non", "n2": "non"}


def _acc(models_scores):
    """(model, method, seed) -> accuracy per task (0-1, in TASKS order) -> a tidy accuracy table."""
    rows = []
    for (model, method, seed), scores in models_scores.items():
        for (task, group), a in zip(TASKS.items(), scores):
            rows.append(dict(model=model, method=method, seed=seed, task=task, benchmark=task.upper(), group=group,
                             accuracy=a, ci_low=a - 0.05, ci_high=a + 0.05, n=100, chance=0.0))
    return pd.DataFrame(rows)


ACC = _acc({
    ("base", "base", 0): [0.2, 0.4, 0.5, 0.7, 0.8, 0.6],
    ("sft-think-seed0", "sft-think", 0): [0.5, 0.5, 0.3, 0.5, 0.6, 0.6],
    ("sft-think-seed1", "sft-think", 1): [0.7, 0.5, 0.3, 0.3, 0.4, 0.6],
    ("grpo-seed0", "grpo", 0): [0.3, 0.5, 0.5, 0.7, 0.8, 0.6],
    ("grpo-seed1", "grpo", 1): [0.4, 0.4, 0.6, 0.7, 0.8, 0.7],
    ("org/tuned", "zoo", -1): [0.9, 0.9, 0.1, 0.1, 0.1, 0.1],
})


def test_table1_rows_are_the_base_and_the_arms_with_seed_means_and_group_means():
    table = evaluate.table1(ACC)
    assert list(table.index) == ["base", "sft-think", "grpo"]  # schema.ARMS order; released models left out
    assert list(table.columns) == list(TASKS) + ["[math]", "[other]", "[non]"]
    assert table.loc["sft-think", "m1"] == pytest.approx(60) and table.loc["grpo", "n2"] == pytest.approx(65)
    assert table.loc["base", "[math]"] == pytest.approx(30) and table.loc["sft-think", "[other]"] == pytest.approx(35)
    for group in ("math", "other", "non"):  # a group column is the mean of its task columns
        tasks = [t for t, g in TASKS.items() if g == group]
        assert table[f"[{group}]"].tolist() == pytest.approx(table[tasks].mean(axis=1).tolist())
    spread = evaluate.seed_spread(ACC)
    assert list(spread.index) == ["sft-think", "grpo"] and spread.loc["sft-think", "m1"] == pytest.approx(2 ** 0.5 * 10)
    assert spread.loc["sft-think", "m2"] == 0


def test_first_seed_intervals_show_each_method_s_first_seed():
    text = evaluate.first_seed_intervals(ACC)
    assert list(text.index) == ["base", "sft-think", "grpo"] and list(text.columns) == list(TASKS)
    assert text.loc["sft-think", "m1"] == "50 [45, 55]" and text.loc["grpo", "o1"] == "50 [45, 55]"


def test_group_gains_are_each_run_s_group_mean_minus_the_base_s():
    gains = evaluate.group_gains(ACC)
    assert list(gains.columns) == ["arm", "seed", "group", "score", "change"]
    assert set(gains.arm) == {"sft-think", "grpo"} and len(gains) == 2 * 2 * 3  # the zoo model is not an arm
    assert list(gains.arm) == sorted(gains.arm)  # sorted by arm, seed, group
    row = gains.set_index(["arm", "seed", "group"])
    assert row.loc[("sft-think", 1, "math"), "score"] == pytest.approx(60)
    assert row.loc[("sft-think", 1, "math"), "change"] == pytest.approx(30)
    assert row.loc[("grpo", 0, "non"), "change"] == pytest.approx(0)
    base = evaluate.base_scores(ACC)
    assert (gains.score - gains.change).tolist() == pytest.approx(gains.group.map(base).tolist())
    summary = evaluate.gain_summary(gains)
    assert summary.loc[("sft-think", "math")].tolist() == pytest.approx([25, 7.1, 20, 30])


def test_gain_sentences_and_metrics_state_the_seed_means():
    gains = evaluate.group_gains(ACC)
    assert evaluate.gain_sentences(gains) == [
        "sft-think: math +25.0 (seeds +20.0 to +30.0), other -25.0, non-reasoning -15.0 points",
        "grpo: math +10.0 (seeds +10.0 to +10.0), other +2.5, non-reasoning +2.5 points"]
    metrics = evaluate.metrics(gains, ACC)
    assert list(metrics) == ["sft-think", "grpo", "base"]
    assert metrics["sft-think"] == {"math": 25.0, "other": -25.0, "non": -15.0}
    assert metrics["base"] == {"math": 30.0, "other": 60.0, "non": 70.0}
    json.dumps(metrics)  # plain floats: the notebook writes it as it is


def test_format_vs_content_splits_each_change_into_content_and_marker():
    lenient = ACC.accuracy.copy()
    lenient[(ACC.method == "sft-think") & (ACC.group == "other")] += 0.1  # sft-think's other answers lost their marker
    lenient[(ACC.method == "base") & (ACC.task == "n1")] = 0.9  # the base's too, on one non task
    table = evaluate.format_vs_content(ACC.assign(accuracy_lenient=lenient))
    assert list(table.columns) == ["arm", "group", "strict", "lenient", "format"]
    groups = ("math", "other", "non")
    assert list(zip(table.arm, table.group)) == [(a, g) for a in ("sft-think", "grpo") for g in groups]
    row = table.set_index(["arm", "group"])
    # other: strict 35 - 60 = -25; lenient 45 - 60 = -15; so -10 of it is the marker
    assert row.loc[("sft-think", "other")].tolist() == pytest.approx([-25, -15, -10])
    # non: base lenient (0.9 + 0.6) / 2 = 75; sft-think 55 -> -20 lenient, -15 strict
    assert row.loc[("sft-think", "non")].tolist() == pytest.approx([-15, -20, 5])
    assert row.loc[("grpo", "non")].tolist() == pytest.approx([2.5, -2.5, 5])
    assert row.loc[("grpo", "math")].tolist() == pytest.approx([10, 10, 0])
    assert evaluate.format_sentences(table) == [
        "sft-think: other -25.0 points strict, -15.0 lenient: -10.0 of it the missing answer marker; "
        "non-reasoning -15.0 points strict, -20.0 lenient: +5.0 of it the missing answer marker",
        "grpo: other +2.5 points strict, +2.5 lenient: +0.0 of it the missing answer marker; "
        "non-reasoning +2.5 points strict, -2.5 lenient: +5.0 of it the missing answer marker"]


def test_two_base_models_are_refused():
    twice = pd.concat([ACC, ACC[ACC.model == "base"].assign(model="base-2")])
    with pytest.raises(ValueError, match="expected one model with method 'base'"):
        evaluate.group_gains(twice)


def test_step_split_separates_the_shared_step_tasks_from_the_controls():
    from mathtransfer.registry import TASKS

    rows = []
    non_math = [t for t, spec in TASKS.items() if spec.group != "math"]
    for method, seed in (("base", 0), ("grpo", 0), ("grpo", 1)):
        for task in non_math:
            for i in range(20):
                right = i < 10  # the base: half right on every task
                if method == "grpo" and TASKS[task].shares:
                    right = i < 10 + 5 * (seed + 1)  # +25 points (seed 0), +50 (seed 1) on the shared-step tasks
                rows.append(dict(method=method, seed=seed, task=task, id=f"{task}-{i}", score=float(right)))
    split = evaluate.step_split(pd.DataFrame(rows), n_resamples=200)
    got = split.set_index(["seed", "split"])
    assert got.loc[(0, "shared step"), "change"] == pytest.approx(25)
    assert got.loc[(1, "shared step"), "change"] == pytest.approx(50)
    assert got.loc[(-1, "shared step"), "change"] == pytest.approx(37.5)
    assert (got.xs("control", level="split").change == 0).all()
    assert (got.xs("control", level="split")[["low", "high"]] == 0).all().all()  # nothing changed: no spread
    shared = got.xs("shared step", level="split")
    assert (shared.low <= shared.change).all() and (shared.change <= shared.high).all() and (shared.low > 0).all()
    assert set(got.loc[(0, "shared step"), "tasks"].split(", ")) == {t for t in non_math if TASKS[t].shares}

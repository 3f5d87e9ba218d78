"""Evaluation: sampled tasks average n answers, intervals bracket the accuracy, runs are seeded."""
import pandas as pd
import pytest

from mathtransfer import evaluate, models


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

    monkeypatch.setattr(evaluate, "generate", fake_generate)
    records = evaluate.evaluate(None, None, test, 2, 8, 4, sampled_tasks=["arith"], n_samples=3,
                                temperature=0.6, top_p=0.95)
    arith = records[records.task == "arith"]
    assert (arith.samples == 3).all() and arith.score.tolist() == pytest.approx([1 / 3, 1 / 3])
    assert (records[records.task != "arith"].samples == 1).all()
    assert calls == [(22, False, 1.0, 1.0), (6, True, 0.6, 0.95)]  # 11 greedy tasks x 2, arith 2 x 3 samples
    assert list(records.columns[:2]) == ["id", "task"] and len(records) == 24


def test_sampled_evaluation_is_seeded(tiny_data, tiny_model_dir):
    model, tok = models.load_model(tiny_model_dir)
    run = [evaluate.evaluate(model, tok, tiny_data["test"], 1, 16, 6, sampled_tasks=["word", "blocks"],
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

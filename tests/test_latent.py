"""Hidden-state PCA shift: zero for identical models, positive for a perturbed one, the paper's
and the mask-aware pooling, and the PCA arithmetic on constructed features."""
import numpy as np
import pandas as pd
import pytest
import torch

from mathtransfer import latent


@pytest.fixture(scope="module")
def texts(model_pair, tiny_data):
    test = tiny_data["test"]
    return latent.texts(model_pair[2], test["prompt"][:8], test["target"][:8])


def test_features_have_every_layer_and_text(model_pair, texts):
    base, _, tokenizer = model_pair
    feats = latent.features(base, tokenizer, texts, max_tokens=24, batch_size=3)
    assert set(feats) == {"paper", "mask"}
    for array in feats.values():
        assert array.shape == (base.config.num_hidden_layers + 1, len(texts), base.config.hidden_size)
        assert np.isfinite(array).all()


def test_identical_models_give_zero_shift(model_pair, texts):
    base, _, tokenizer = model_pair
    a = latent.features(base, tokenizer, texts)
    b = latent.features(base, tokenizer, texts)
    summary, layers = latent.shift({"t": a}, {"t": b})
    assert (summary[["d", "d_layers"]] == 0).all().all()
    assert (layers["pc1_shift"] == 0).all()


def test_perturbed_model_gives_positive_shift(model_pair, texts):
    base, perturbed, tokenizer = model_pair
    summary, layers = latent.shift({"t": latent.features(base, tokenizer, texts)},
                                   {"t": latent.features(perturbed, tokenizer, texts)})
    assert (summary["d"] > 0).all() and (summary["d_layers"] > 0).all()
    assert set(summary["pooling"]) == {"paper", "mask"}
    assert len(layers) == 2 * (base.config.num_hidden_layers + 1)


def test_mask_pooling_ignores_padding_and_paper_pooling_does_not(model_pair, texts):
    base, _, tokenizer = model_pair
    short, long = texts[0], texts[0] + " and some more words to lengthen the batch"
    alone = latent.features(base, tokenizer, [short], max_tokens=64)
    padded = latent.features(base, tokenizer, [short, long], max_tokens=64)
    np.testing.assert_allclose(padded["mask"][:, 0], alone["mask"][:, 0], atol=1e-5)
    assert np.abs(padded["paper"][:, 0] - alone["paper"][:, 0]).max() > 1e-3
    # mask pooling = the plain mean over the text's own positions of an unpadded forward
    ids = torch.tensor([tokenizer(short, add_special_tokens=False)["input_ids"][:64]])
    with torch.no_grad():
        hidden = base(input_ids=ids, output_hidden_states=True).hidden_states
    manual = torch.stack(hidden)[:, 0].mean(1).numpy()
    np.testing.assert_allclose(alone["mask"][:, 0], manual, atol=1e-5)


def test_results_do_not_depend_on_batch_size(model_pair, texts):
    base, _, tokenizer = model_pair
    one = latent.features(base, tokenizer, texts, batch_size=len(texts))
    many = latent.features(base, tokenizer, texts, batch_size=3)
    for pooling in one:
        np.testing.assert_allclose(one[pooling], many[pooling], atol=1e-5)


def test_pca_shift_on_constructed_features():
    rng = np.random.default_rng(0)
    # two layers of 50 points whose variance lies along the first two coordinates
    base = rng.normal(size=(2, 50, 4)) * np.array([5.0, 2.0, 0.01, 0.01])
    orthogonal = base + np.array([0, 0, 0, 3.0])  # off both principal axes: no shift
    table, result = latent.pca_shift(base, orthogonal)
    assert result["d"] == pytest.approx(0, abs=1e-2)
    along_pc1 = base + np.array([1.5, 0, 0, 0])  # along PC1: a shift of 1.5 (sign is PCA's)
    table, result = latent.pca_shift(base, along_pc1)
    # (the fitted PC1 is only close to the first axis: 50 noisy points)
    np.testing.assert_allclose(np.abs(table["pc1_shift"]), 1.5, atol=0.02)
    np.testing.assert_allclose(table["pc2_tuned"], 0, atol=0.1)
    assert result["d_layers"] == pytest.approx(1.5, abs=1e-3)  # u lies in the plane of the two PCs
    assert result["d"] <= result["d_layers"] + 1e-9  # averaging across layers can only cancel


def test_bad_pooling_and_shapes_are_refused(model_pair, texts):
    base, _, tokenizer = model_pair
    with pytest.raises(ValueError, match="pooling"):
        latent.features(base, tokenizer, texts, poolings=("max",))
    with pytest.raises(ValueError, match="shape"):
        latent.pca_shift(np.zeros((2, 5, 3)), np.zeros((2, 6, 3)))


# --- the whole analysis over runs (latent.shift_table) and its condensed tables ---

SUMMARY_COLUMNS = ["model", "arm", "seed", "task", "group", "pooling", "d", "d_layers"]
LAYER_COLUMNS = ["layer", "pc1_base", "pc2_base", "pc1_tuned", "pc2_tuned", "pc1_shift", "distance", "task",
                 "pooling", "model", "arm", "seed", "group"]


@pytest.fixture(scope="module")
def items(tiny_data):
    return latent.probe_items(tiny_data["test"].to_pandas(), 3)


def runs_of(tiny_model_dir, perturbed_dir):
    from mathtransfer.models import Run

    return [Run("same-seed0", "sft-think", 0, tiny_model_dir, tiny_model_dir),
            Run("perturbed-seed0", "grpo", 0, perturbed_dir, tiny_model_dir)]


def test_shift_table_zero_for_identical_positive_for_perturbed(tiny_model_dir, perturbed_dir, items, model_pair):
    from mathtransfer.config import LatentConfig

    summary, layers = latent.shift_table(runs_of(tiny_model_dir, perturbed_dir), items, LatentConfig(max_tokens=32))
    n_tasks, n_layers = items["task"].nunique(), model_pair[0].config.num_hidden_layers + 1
    assert list(summary.columns) == SUMMARY_COLUMNS and list(layers.columns) == LAYER_COLUMNS
    assert len(summary) == 2 * n_tasks * 2 and len(layers) == len(summary) * n_layers
    same, moved = summary[summary.model == "same-seed0"], summary[summary.model == "perturbed-seed0"]
    assert (same[["d", "d_layers"]] == 0).all().all()
    assert (moved["d"] > 0).all() and (moved["d_layers"] >= moved["d"] - 1e-12).all()
    assert set(moved.arm) == {"grpo"} and set(moved.seed) == {0}
    assert dict(zip(summary.task, summary.group)) == dict(zip(items.task, items.group))
    # the summary's d_layers is the mean of the layer table's distances
    per_layer = layers.groupby(["model", "task", "pooling"]).distance.mean()
    np.testing.assert_allclose(summary.set_index(["model", "task", "pooling"]).d_layers, per_layer.loc[
        list(summary.set_index(["model", "task", "pooling"]).index)], rtol=1e-12)


def test_shift_table_does_not_depend_on_batch_size(tiny_model_dir, perturbed_dir, items):
    from mathtransfer.config import LatentConfig

    runs = runs_of(tiny_model_dir, perturbed_dir)[1:]
    one, _ = latent.shift_table(runs, items, LatentConfig(max_tokens=32, batch_size=1))
    all_at_once, _ = latent.shift_table(runs, items, LatentConfig(max_tokens=32, batch_size=50))
    np.testing.assert_allclose(one[["d", "d_layers"]], all_at_once[["d", "d_layers"]], rtol=1e-4, atol=1e-6)


def test_shift_table_reads_each_base_once_and_uses_answers_without_target(tiny_model_dir, perturbed_dir, tiny_data,
                                                                          monkeypatch):
    from mathtransfer.config import LatentConfig

    loaded, seen_texts = [], []
    load, features = latent.load_model, latent.features
    monkeypatch.setattr(latent, "load_model", lambda path, mode: loaded.append(path) or load(path, mode))
    monkeypatch.setattr(latent, "features", lambda m, t, texts, *a: seen_texts.extend(texts) or features(m, t, texts, *a))
    test = tiny_data["test"].to_pandas()
    hub_like = test.assign(target=test.target.where(test.task != "arith", ""))  # hub items have no target
    items = latent.probe_items(hub_like, 3)
    runs = runs_of(tiny_model_dir, perturbed_dir) + runs_of(tiny_model_dir, perturbed_dir)[1:]
    summary, _ = latent.shift_table(runs, items, LatentConfig(max_tokens=32, poolings=["mask"]))
    assert loaded == [tiny_model_dir, tiny_model_dir, perturbed_dir, perturbed_dir]  # the base once, each run once
    assert set(summary.pooling) == {"mask"} and len(summary) == 3 * items.task.nunique()
    arith = items[items.task == "arith"]
    assert (arith.reference == "Answer: " + arith.answer).all()
    assert all(any(r in t for t in seen_texts) for r in arith.reference)
    word = items[items.task == "word"]
    assert all(any(r in t for t in seen_texts) for r in word.reference)


def test_probe_texts_carry_a_correct_reference_answer(tiny_data):
    from mathtransfer.scorers import score

    test = tiny_data["test"].to_pandas()
    wrong = [score(k, t, a, m) < 1 for k, t, a, m in zip(test.task, test.target, test.answer, test.meta)]
    assert any(wrong)  # the world writes wrong base-style targets at a share
    items = latent.probe_items(test, 3)
    assert (items.groupby("task").size() == 3).all() and set(items.task) == set(test.task)
    assert all(score(k, r, a, m) == 1 for k, r, a, m in zip(items.task, items.reference, items.answer, items.meta))
    right = ~pd.Series(wrong, index=test.id)
    kept = items.set_index("id")
    # a right target is the reference; a wrong one is replaced by the gold answer
    assert (kept.reference[right[kept.index].to_numpy()] == kept.target[right[kept.index].to_numpy()]).all()
    replaced = kept[~right[kept.index].to_numpy()]
    assert len(replaced) and all(r in (f"Answer: {a}", a) for r, a in zip(replaced.reference, replaced.answer))


def constructed_summary():
    """Two arms x two seeds x three groups (one task each), two poolings: sft-think moves further
    than grpo on math and other, less on non."""
    rows = []
    d_of = {("sft-think", "math"): 1.0, ("sft-think", "other"): 0.5, ("sft-think", "non"): 0.1,
            ("grpo", "math"): 0.2, ("grpo", "other"): 0.2, ("grpo", "non"): 0.2}
    for arm in ("sft-think", "grpo"):
        for seed in (0, 1):
            for task, group in (("arith", "math"), ("kb_chain", "other"), ("passage_qa", "non")):
                for pooling in ("paper", "mask"):
                    d = d_of[(arm, group)] + 0.1 * seed  # seeds differ: their mean is checked
                    rows.append(dict(model=f"{arm}-seed{seed}", arm=arm, seed=seed, task=task, group=group,
                                     pooling=pooling, d=d, d_layers=2 * d))
    return pd.DataFrame(rows)


def test_group_distances_versus_grpo_and_metrics():
    import json

    summary = constructed_summary()
    extra_task = summary[summary.group == "math"].assign(task="word", d=lambda f: f.d + 1, d_layers=lambda f: f.d_layers)
    per_seed = latent.group_distances(pd.concat([summary, extra_task], ignore_index=True))
    assert len(per_seed) == 2 * 2 * 2 * 3
    row = per_seed[(per_seed.pooling == "paper") & (per_seed.arm == "grpo") & (per_seed.seed == 1)
                   & (per_seed.group == "math")].iloc[0]
    assert row.d == pytest.approx((0.3 + 1.3) / 2)  # the mean over the group's two tasks
    comparison = latent.versus_grpo(per_seed)
    assert list(comparison[["pooling", "measure", "arm"]].itertuples(index=False, name=None)) == [
        ("paper", "d", "sft-think"), ("paper", "d_layers", "sft-think"),
        ("mask", "d", "sft-think"), ("mask", "d_layers", "sft-think")]
    first = comparison.iloc[0]
    assert first.groups_larger == 2 and first.larger == "math, other"
    assert first.math == pytest.approx(1.05 + 0.5) and first.grpo_non == pytest.approx(0.25)
    result = latent.metrics(per_seed)
    assert json.loads(json.dumps(result)) == result
    assert list(result) == ["paper", "mask"] and list(result["paper"]) == ["sft-think", "grpo"]
    assert list(result["paper"]["sft-think"]) == ["d_groups_larger_than_grpo", "d_layers_groups_larger_than_grpo",
                                                  "d_math", "d_non", "d_other"]
    assert result["mask"]["sft-think"]["d_groups_larger_than_grpo"] == 2
    assert result["paper"]["grpo"] == {"d_math": 0.75, "d_non": 0.25, "d_other": 0.25}


def test_without_grpo_there_is_no_comparison():
    per_seed = latent.group_distances(constructed_summary().query("arm != 'grpo'"))
    assert latent.versus_grpo(per_seed).empty
    result = latent.metrics(per_seed)
    assert set(result) == {"paper", "mask"} and set(result["mask"]["sft-think"]) == {"d_math", "d_non", "d_other"}

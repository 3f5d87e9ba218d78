"""Hidden-state PCA shift: zero for identical models, positive for a perturbed one, the paper's
and the mask-aware pooling, and the PCA arithmetic on constructed features."""
import numpy as np
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

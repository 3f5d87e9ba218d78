"""What predicts forgetting (forgetting.py): transitions, sparsity, rank and the quadratic fits,
on constructed inputs with known answers."""
import numpy as np
import pandas as pd
import pytest
import torch

from mathtransfer import dynamics, forgetting


def _records():
    """The base and two seeds of grpo on one task of four items."""
    rows = []
    scores = {"base": [1, 1, 0, 0], "grpo-seed0": [1, 0, 1, 0], "grpo-seed1": [1, 1, 1, 1]}
    for model, items in scores.items():
        method, seed = ("base", 0) if model == "base" else ("grpo", int(model[-1]))
        rows += [dict(model=model, method=method, seed=seed, task="t", group="other", id=f"t-{i}", score=float(s))
                 for i, s in enumerate(items)]
    return pd.DataFrame(rows)


def test_transitions_count_forgotten_and_gained_items_separately():
    table = forgetting.transitions(_records(), n_resamples=200)
    row = table.set_index("arm").loc["grpo"]
    # seed 0: item 1 forgotten, item 2 gained; seed 1: items 2 and 3 gained, nothing forgotten
    assert row.forgotten == pytest.approx((1 / 4 + 0) / 2) and row.gained == pytest.approx((1 / 4 + 2 / 4) / 2)
    assert row.forgotten_low <= row.forgotten <= row.forgotten_high and row.n == 4 and row.group == "other"
    again = forgetting.transitions(_records(), n_resamples=200)
    assert again.equals(table)


def test_a_change_below_bf16_resolution_does_not_count_as_an_update():
    base = {"model.embed_tokens.weight": torch.ones(4, 2), "model.layers.0.self_attn.q_proj.weight": torch.ones(2, 2),
            "model.layers.0.input_layernorm.weight": torch.ones(2)}
    tuned = {k: v.clone() for k, v in base.items()}
    tuned["model.embed_tokens.weight"][0, 0] += 1e-4  # below bf16's resolution at 1.0 (2^-7)
    tuned["model.embed_tokens.weight"][1, 0] += 0.1
    tuned["model.layers.0.self_attn.q_proj.weight"][:] = 2.0
    table = forgetting.update_sparsity(base, tuned).set_index("kind")
    assert table.loc["embedding", "changed"] == pytest.approx(1 / 8)
    assert table.loc["attention q", "changed"] == 1.0 and table.loc["norm", "changed"] == 0.0
    assert table.loc["all", "parameters"] == 14 and table.loc["all", "changed"] == pytest.approx(5 / 14)


def test_update_rank_counts_singular_values_above_the_stated_share():
    base = {"w": torch.zeros(4, 3), "bias": torch.zeros(3)}
    rank_one = {"w": torch.outer(torch.arange(1.0, 5.0), torch.tensor([1.0, 2.0, 3.0])), "bias": torch.ones(3)}
    table = forgetting.update_rank(base, rank_one)
    assert table.name.tolist() == ["w"] and table.rank_share.iloc[0] == pytest.approx(1 / 3)
    assert forgetting.update_rank(base, base).rank_share.iloc[0] == 0.0
    full = {"w": torch.eye(4, 3), "bias": torch.zeros(3)}
    assert forgetting.update_rank(base, full).rank_share.iloc[0] == 1.0


def test_the_quadratic_fit_recovers_a_known_curve():
    x = np.linspace(0, 2, 20)
    a, b, r2 = forgetting.quadratic_fit(x, 0.5 * x + 0.25 * x ** 2)
    assert (a, b, r2) == (pytest.approx(0.5), pytest.approx(0.25), pytest.approx(1.0))
    rng = np.random.default_rng(0)
    noise = forgetting.quadratic_fit(x, rng.normal(size=20))[2]
    assert noise < 0.5  # no relation: little explained
    assert np.isnan(forgetting.quadratic_fit(x, np.ones(20) * 3)[2])  # nothing to explain


def _checkpoints():
    rows = []
    # every checkpoint on one line: drop = 0.2 * KL, the SFT arm far out, grpo near the base
    for arm, scale in (("sft-think", 1.0), ("grpo", 0.1)):
        for step, kl in ((0, 0.0), (25, 1.0 * scale), (50, 2.0 * scale)):
            for task, group, base in (("m", "math", 0.5), ("o", "other", 0.6), ("n", "non", 0.7)):
                change = -0.2 * kl if group != "math" else 0.1 * step / 25
                rows.append(dict(arm=arm, seed=0, step=step, task=task, group=group, accuracy=base + change,
                                 kl_math=kl, kl_math_tokens=kl / 2, param_distance=kl * 3))
    return pd.DataFrame(rows)


def test_the_distance_path_carries_every_distance_and_fits_rank_the_predictors():
    path = dynamics.distance_path(_checkpoints())
    assert (path.query("step == 0")[["kl", "kl_tokens", "param_distance"]] == 0).all().all() and len(path) == 6
    points = path.query("step > 0")
    assert len(points) == 4
    row = points.set_index(["arm", "step"]).loc[("sft-think", 50)]
    assert (row.kl, row.kl_tokens, row.param_distance) == (2.0, 1.0, 6.0)
    assert row.other == pytest.approx(-0.4) and row.math == pytest.approx(0.2)
    fits = forgetting.predictor_fits(points, list(forgetting.PREDICTORS), n_resamples=50)
    assert len(fits) == 6 and set(fits.group) == {"other", "non"}
    kl_other = fits.set_index(["predictor", "group"]).loc[("kl", "other")]
    assert kl_other.a == pytest.approx(0.2) and kl_other.b == pytest.approx(0.0, abs=1e-12)
    assert kl_other.r2 == pytest.approx(1.0) and kl_other.points == 4
    lines = forgetting.best_predictors(fits)
    assert len(lines) == 2 and lines[0].startswith("other: ") and "no clear winner" in lines[0]  # all fit exactly


def test_the_ablation_table_sets_each_recipe_beside_its_changes():
    gains = pd.DataFrame([dict(arm=a, seed=s, group=g, change=c) for a, c in (("sft-think", -50.0), ("grpo", 1.0))
                          for s in (0, 1) for g in ("math", "other", "non")])
    ti = pd.DataFrame({"TI_other": [-40.0, 2.0], "TI_non": [-45.0, 3.0]}, index=["sft-think", "grpo"])
    table = forgetting.ablation_table(gains, ti, beta=0.04).set_index("arm")
    assert list(table.index) == ["sft-think", "grpo"]
    assert table.loc["grpo", "beta"] == 0.04 and table.loc["sft-think", "beta"] == 0.0
    assert table.loc["sft-think", "change_other"] == -50.0 and table.loc["grpo", "TI_non"] == 3.0
    assert "off-policy" in table.loc["sft-think", "q"] and "advantage" in table.loc["grpo", "w"]


def _ablation(rows):
    """An ablation table from (arm, {group: (change, low, high)})."""
    return pd.DataFrame([dict(arm=arm, **{f"change_{g}{end}": v for g, (c, lo, hi) in groups.items()
                                          for end, v in (("", c), ("_low", lo), ("_high", hi))})
                         for arm, groups in rows])


def test_an_ordering_is_stated_only_where_the_intervals_do_not_overlap():
    table = _ablation([("rft", {"other": (0.0, -1.0, 1.0), "non": (0.5, -0.5, 1.5)}),
                       ("sft-think", {"other": (-50.0, -53.0, -47.0), "non": (0.0, -1.0, 1.0)}),
                       ("grpo", {"other": (1.0, 0.0, 2.0), "non": (3.0, 2.0, 4.0)}),
                       ("grpo-kl", {"other": (1.5, 0.5, 2.5), "non": (-1.0, -2.0, -0.5)})])
    lines = forgetting.ordering_sentences(table)
    assert len(lines) == 2  # the orderings whose arms both ran
    assert lines[0].startswith("on-policy SFT vs off-policy SFT") and "rft vs sft-think" in lines[0]
    assert "other +0.0 [-1.0, +1.0] vs -50.0 [-53.0, -47.0]: higher, as found there" in lines[0]
    assert "non +0.5 [-0.5, +1.5] vs +0.0 [-1.0, +1.0]: not separated, NOT as found there" in lines[0]
    # the KL term: the paper found the two similar; overlapping intervals agree, separated ones do not
    assert "other +1.0 [+0.0, +2.0] vs +1.5 [+0.5, +2.5]: not separated, as found there" in lines[1]
    assert "non +3.0 [+2.0, +4.0] vs -1.0 [-2.0, -0.5]: higher, NOT as found there" in lines[1]


def test_the_random_reward_sentence_reads_the_intervals():
    table = _ablation([("grpo-random", {"math": (-5.0, -8.0, -2.0), "other": (-0.5, -2.0, 1.0),
                                        "non": (-3.0, -5.0, -1.0)})])
    assert forgetting.random_reward_sentence(table) == (
        "grpo-random lost math (-5.0 [-8.0, -2.0] points) and kept other "
        "(other -0.5 [-2.0, +1.0], non -3.0 [-5.0, -1.0]).")
    assert forgetting.random_reward_sentence(table.assign(arm="grpo")) == "grpo-random did not run."


def test_the_figures_have_a_panel_per_group_and_predictor():
    from mathtransfer import plots

    points = dynamics.distance_path(_checkpoints()).query("step > 0")
    fits = forgetting.predictor_fits(points, list(forgetting.PREDICTORS), n_resamples=10)
    fig = plots.forgetting_fits(points, fits, forgetting.PREDICTORS)
    assert len(fig.axes) == 6 and fig.axes[0].get_title().startswith("other reasoning: R^2 1.00")
    moves = forgetting.transitions(_records(), n_resamples=10)
    assert len(plots.transitions(moves).axes) == 3


def test_a_lora_run_is_compared_with_its_adapters_merged(tmp_path, tiny_data, tiny_model_dir):
    from mathtransfer import arms
    from mathtransfer.config import TrainConfig
    from mathtransfer.models import Run

    cfg = TrainConfig(sft_steps=2, sft_batch_size=4, save_steps=2, sft_lr=1e-2, out_dir=str(tmp_path / "arms"),
                      checkpoint_dir=str(tmp_path / "ckpt"))
    arms.run("sft-think-lora", cfg, tiny_model_dir, tiny_data["train"], 0)
    run = Run("sft-think-lora-seed0", "sft-think-lora", 0, str(tmp_path / "arms" / "sft-think-lora-seed0"), tiny_model_dir)
    sparsity, rank = forgetting.run_updates([run])
    by_kind = sparsity.set_index("kind")["changed"]
    assert by_kind["attention q"] > 0 and by_kind["embedding"] == 0  # LoRA adapts attention, not the embeddings
    adapted = rank[rank.kind == "attention q"]
    assert (adapted.rank_share > 0).all() and (adapted.rank_share * adapted[["rows", "columns"]].min(axis=1) <= 16).all()


def test_math_traces_tell_a_wrong_strategy_from_wrong_arithmetic():
    from mathtransfer.tasks.traces import trace_check

    assert trace_check("7+1=8. 8+2=10. Answer: 10", 3) == dict(steps=2, full=False, arithmetic_error=False)
    assert trace_check("Step 1: 7+1=8\nStep 2: 8+2=10\nStep 3: 10+3=22", 3) == dict(steps=3, full=True,
                                                                                   arithmetic_error=True)
    assert trace_check("Step 1: 49/7=7", 1)["arithmetic_error"] is False and trace_check("9/0=3", 1)["arithmetic_error"]
    assert trace_check(None, 2) == dict(steps=0, full=False, arithmetic_error=False)
    records = pd.DataFrame(dict(
        id=["a", "b", "a", "b", "c"], group=["math", "math", "math", "math", "other"], method=["base", "base", "grpo", "grpo", "grpo"],
        seed=[0, 0, 0, 0, 0], score=[0.0, 1.0, 1.0, 0.0, 1.0],
        output=["1+2=3. Answer: 3", "2+2=4. 4+1=5. Answer: 5", "1+2=3. 3+3=6. Answer: 6", "2+2=5. 5+1=6. Answer: 6", "x"]))
    items = dict(id=["a", "b", "c"], group=["math", "math", "other"],
                 meta=['{"steps": 2}', '{"steps": 2}', "{}"])
    table = forgetting.math_traces(records, forgetting.item_steps(items)).set_index("arm")
    assert list(table.index) == ["base", "grpo"]
    assert table.loc["base"].tolist()[:3] == [0.5, 0.5, 0.0]  # one right; one stopped early
    assert table.loc["grpo"].tolist()[:3] == [0.5, 1.0, 0.5]  # every step taken; one with 2+2=5
    assert forgetting.math_traces(records, {}).empty  # hub data: no steps, no table

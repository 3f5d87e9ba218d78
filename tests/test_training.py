"""Math-only post-training building blocks: rewards, rejection sampling, SFT and GRPO through TRL."""
import json

import pytest
import torch
from safetensors.torch import load_file

from mathtransfer import models, rewards, sft
from mathtransfer.config import TrainConfig

CONV = lambda text: [{"role": "assistant", "content": text}]  # noqa: E731  TRL's conversational form


def test_correctness_reward_on_right_wrong_unparsable_and_adversarial():
    completions = [CONV("2+3=5. Answer: 5"), CONV("\\boxed{5}"), "Answer: 6", CONV("no answer"),
                   CONV(""), CONV("Answer: 9^{9^{9}}"), CONV("x" * 100_000 + "Answer: 5"), None, [{"bad": 1}]]
    n = len(completions)
    got = rewards.correctness_reward(completions, task=["arith"] * n, answer=["5"] * n)
    assert got == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]


def test_reward_is_never_one_when_the_gold_cannot_be_parsed():
    assert rewards.correctness_reward([CONV("Answer: ???")], task=["arith"], answer=["???"]) == [0.0]
    assert rewards.correctness_reward([CONV("Answer: 5")], task=["arith"], answer=[""]) == [0.0]


def test_format_reward_only_checks_for_a_parsable_answer():
    assert rewards.format_reward([CONV("Answer: 7"), CONV("\\boxed{x}"), CONV("seven")]) == [1.0, 1.0, 0.0]


def test_rejection_sampling_keeps_only_correct_samples(monkeypatch, tiny_data):
    rows = tiny_data["train"].filter(lambda r: r["task"] == "arith").select(range(3))
    answers = rows["answer"]
    fake = []
    for gold in answers:  # per prompt: one right, one wrong, one unparsable
        fake += [f"Answer: {gold}", f"Answer: {int(gold) + 1}", "no idea"]
    monkeypatch.setattr(sft, "generate", lambda *a, **k: fake)
    kept = sft.rejection_sample(None, None, rows, k=3, max_new_tokens=8, batch_size=4, seed=0)
    assert kept.num_rows == 3
    assert kept["target"] == [f"Answer: {a}" for a in answers]
    assert kept["prompt"] == rows["prompt"]


def _weights(path):
    return load_file(f"{path}/model.safetensors")


TINY = TrainConfig(sft_steps=2, sft_batch_size=4, rl_steps=1, rl_steps_per_rollout=1, rl_prompts_per_step=2, num_generations=2,
                   max_completion_length=8, save_steps=1, sft_lr=1e-2, rl_lr=1e-2, lora_r=4, lora_alpha=8)


def test_sft_full_trains_saves_and_reloads(tmp_path, tiny_data, tiny_model_dir):
    rows = tiny_data["train"].filter(lambda r: r["group"] == "math").select(range(8))
    out = str(tmp_path / "sft")
    cfg = TrainConfig(**{**TINY.__dict__, "sft_steps": 4, "save_steps": 2, "sft_warmup_ratio": 0.25})
    log = sft.train_sft(cfg, tiny_model_dir, rows, "teacher_think", out, seed=0, lr=2e-2)
    losses = [entry["loss"] for entry in log if "loss" in entry]
    # lr (not cfg's 1e-2) at each step: one warmup step (0.25 x 4) from 0, then cosine decay over
    # the other three: 0.02 x (1 + cos(pi k / 3)) / 2 for k = 0, 1, 2
    assert [round(entry["learning_rate"], 6) for entry in log if "loss" in entry] == [0.0, 0.02, 0.015, 0.005]
    assert losses and all(torch.isfinite(torch.tensor(losses)))
    before, after = _weights(tiny_model_dir), _weights(out)
    assert any(not torch.equal(before[k], after[k]) for k in before)
    model, _ = models.load_model(out)
    assert model.config.model_type == "qwen3"
    assert sorted(p.name for p in (tmp_path / "sft-checkpoints").glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]


@pytest.mark.parametrize("mode", ["lora", "qlora"])
def test_sft_adapters_train_and_reload_onto_the_base(tmp_path, tiny_data, tiny_model_dir, qlora_model_dir, mode):
    base = qlora_model_dir if mode == "qlora" else tiny_model_dir  # 4-bit CPU kernels need 64-wide layers
    cfg = TrainConfig(**{**TINY.__dict__, "mode": mode})
    rows = tiny_data["train"].filter(lambda r: r["group"] == "math").select(range(8))
    out = str(tmp_path / mode)
    sft.train_sft(cfg, base, rows, "teacher_nothink", out, seed=0)
    adapter = json.load(open(f"{out}/adapter_config.json"))
    assert adapter["base_model_name_or_path"] == base
    weights = load_file(f"{out}/adapter_model.safetensors")
    assert any(w.abs().sum() > 0 for k, w in weights.items() if "lora_B" in k)  # B starts at zero
    model, _ = models.load_model(out)
    assert type(model).__name__ == "PeftModelForCausalLM"


def test_grpo_runs_logs_rewards_and_moves_the_weights(tmp_path, tiny_data, tiny_model_dir, monkeypatch):
    from mathtransfer import grpo

    # A random tiny model never answers right: every correctness reward would be 0, every group
    # advantage 0 and the update empty. A reward that differs within a group (longer completions
    # score higher) makes the policy gradient non-zero, so the step must change the weights.
    def length_reward(completions, **_):
        return [min(1.0, len(rewards._text(c)) / 20) for c in completions]

    monkeypatch.setattr(grpo, "correctness_reward", length_reward)
    rows = tiny_data["train"].filter(lambda r: r["group"] == "math").select(range(4))
    out = str(tmp_path / "grpo")
    cfg = TrainConfig(**{**TINY.__dict__, "num_generations": 4})
    log = grpo.train_grpo(cfg, tiny_model_dir, rows, out, seed=0)
    logged = [entry for entry in log if "reward" in entry]
    assert logged and all(0.0 <= entry["reward"] <= 1.0 for entry in logged)
    assert any(entry["reward_std"] > 0 for entry in logged)  # the groups' rewards differed
    before, after = _weights(tiny_model_dir), _weights(out)
    assert set(after) == set(before)
    assert any(not torch.equal(before[k], after[k]) for k in before)
    models.load_model(out)


def test_the_coin_reward_is_seeded_and_blind_to_what_was_written():
    from types import SimpleNamespace

    from mathtransfer.rewards import coin_reward

    right, wrong = ["Answer: 7"] * 64, ["Answer: 8"] * 64
    state = SimpleNamespace(global_step=3)
    flips = coin_reward(0)(right, trainer_state=state)
    assert flips == coin_reward(0)(wrong, trainer_state=state)  # the same coins whatever the text
    assert set(flips) == {0.0, 1.0} and 16 < sum(flips) < 48  # a fair coin over 64 rollouts
    assert flips != coin_reward(1)(right, trainer_state=state)  # seeded by the run's seed
    assert flips != coin_reward(0)(right, trainer_state=SimpleNamespace(global_step=4))  # fresh coins each step
    split = coin_reward(0)  # a step's rollouts in two calls (train.generation_batch_size): fresh coins for each
    first, second = split(right[:32], trainer_state=state), split(right[:32], trainer_state=state)
    assert first == flips[:32] and second != first


def test_the_ablation_arms_train_with_their_kl_term_coin_and_adapters(tmp_path, tiny_data, tiny_model_dir):
    from mathtransfer import arms

    cfg = TrainConfig(**{**TINY.__dict__, "num_generations": 4, "kl_beta": 0.5, "out_dir": str(tmp_path / "arms"),
                         "checkpoint_dir": str(tmp_path / "ckpt")})
    # the coin gives every group rewards that differ, even for a model that never answers right
    curve, _, _ = arms.run("grpo-random", cfg, tiny_model_dir, tiny_data["train"], 0, sample_batch_size=16)
    assert curve["reward_std"].dropna().gt(0).any() and curve["kl"].isna().all()  # beta 0: no KL logged
    after = _weights(str(tmp_path / "arms" / "grpo-random-seed0"))
    assert any(not torch.equal(_weights(tiny_model_dir)[k], after[k]) for k in after)
    curve, _, _ = arms.run("grpo-kl", cfg, tiny_model_dir, tiny_data["train"], 0, sample_batch_size=16)
    assert curve["kl"].notna().any()  # TRL logs the KL term when beta > 0
    arms.run("sft-think-lora", cfg, tiny_model_dir, tiny_data["train"], 0, sample_batch_size=16)
    assert (tmp_path / "arms" / "sft-think-lora-seed0" / "adapter_config.json").is_file()


def test_the_off_policy_arm_trains_through_trl_on_its_groups(tmp_path, tiny_data, tiny_model_dir, monkeypatch):
    from mathtransfer import arms, offpolicy

    batches = []  # every batch's advantages, as the collator hands them to the loss
    collate = offpolicy.AdvantageCollator.__call__
    monkeypatch.setattr(offpolicy.AdvantageCollator, "__call__",
                        lambda self, examples: batches.append([e["advantage"] for e in examples]) or collate(self, examples))

    cfg = TrainConfig(**{**TINY.__dict__, "num_generations": 4, "out_dir": str(tmp_path / "arms"),
                         "checkpoint_dir": str(tmp_path / "ckpt")})
    curve, facts, _ = arms.run("rl-offpolicy", cfg, tiny_model_dir, tiny_data["train"], 0)
    assert facts["final_step"] == cfg.sft_steps and curve["loss"].notna().all()
    # batches of 4 = one whole group of 4 each, in order: its advantages sum to 0, and they differ
    assert facts["responses"] == cfg.sft_steps * cfg.sft_batch_size and len(batches) == cfg.sft_steps
    assert all(len(b) == 4 and abs(sum(b)) < 1e-5 for b in batches) and any(max(b) > 0 for b in batches)
    assert curve["tokens"].iloc[-1] > 0  # TRL's token count is kept
    after = _weights(str(tmp_path / "arms" / "rl-offpolicy-seed0"))  # the advantages reached the loss
    assert any(not torch.equal(_weights(tiny_model_dir)[k], after[k]) for k in after)


def test_self_sft_draws_its_samples_again_from_the_current_policy(tmp_path, tiny_data, tiny_model_dir, monkeypatch):
    from mathtransfer import arms

    drawn = []  # (the policy's path, the prompts) of every draw
    real = sft.rejection_sample

    def spy(model, tokenizer, rows, *args, **kwargs):
        drawn.append((model.name_or_path, list(rows["prompt"])))
        kept = real(model, tokenizer, rows, *args, **kwargs)
        # a tiny model is rarely right: keep its samples as if they were, so that every round trains
        return kept if len(kept) else rows.map(lambda r: {"target": "1+1=2. Answer: 2"})

    monkeypatch.setattr(sft, "rejection_sample", spy)
    cfg = TrainConfig(**{**TINY.__dict__, "sft_steps": 4, "save_steps": 2, "self_every": 2, "rft_prompts": 8,
                         "rft_samples": 2, "out_dir": str(tmp_path / "arms"), "checkpoint_dir": str(tmp_path / "ckpt")})
    curve, facts, _ = arms.run("sft-self", cfg, tiny_model_dir, tiny_data["train"], 0, sample_batch_size=16)
    assert facts["final_step"] == 4 and list(curve["step"]) == [1, 2, 3, 4] and len(facts["kept_per_round"]) == 2
    assert drawn[0][0] == tiny_model_dir and drawn[1][0].endswith("checkpoint-2")  # step 2's policy, not the base
    assert not set(drawn[0][1]) & set(drawn[1][1])  # fresh prompts each round
    assert curve["learning_rate"].iloc[1:].is_monotonic_decreasing  # one schedule through the rounds (warmup: step 1)
    assert curve["tokens"].is_monotonic_increasing  # the token count carries over the resume
    # a rerun finds every round done and redraws nothing
    drawn.clear()
    arms.run("sft-self", cfg, tiny_model_dir, tiny_data["train"], 0, sample_batch_size=16)
    assert drawn == []

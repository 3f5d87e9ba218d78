"""One run of one arm: fingerprinted checkpoints, curves, rft data, checkpoint evaluation."""
import json
import os

import pytest
import torch
from datasets import Dataset
from safetensors.torch import load_file

from mathtransfer import arms, checkpoints, sft
from mathtransfer.schema import ARMS
from mathtransfer.config import TrainConfig

TINY = TrainConfig(sft_steps=4, sft_batch_size=4, rl_steps=2, rl_prompts_per_step=2, num_generations=2,
                   max_completion_length=8, save_steps=2, sft_lr=1e-2, rl_lr=1e-2, rft_prompts=4, rft_samples=2)


def test_curves_keep_one_row_per_logged_step_and_name_trl_keys():
    history = [{"loss": 2.0, "grad_norm": 1.0, "step": 1}, {"loss": 1.5, "grad_norm": 0.5, "step": 2},
               {"reward": 0.25, "reward_std": 0.1, "completions/mean_length": 9.0, "loss": 0.0,
                "grad_norm": 0.2, "step": 3},
               {"train_runtime": 3.2, "train_loss": 1.2, "step": 3}]  # the end-of-training summary
    curve = arms.curves(history)
    assert curve["step"].tolist() == [1, 2, 3]
    assert curve.loc[2, "reward"] == 0.25 and curve.loc[2, "completion_length"] == 9.0
    assert curve["loss"].tolist() == [2.0, 1.5, 0.0] and curve.loc[:1, "reward"].isna().all()


def test_the_fingerprint_holds_what_the_arm_reads_and_nothing_else(tiny_model_dir):
    def fingerprint(arm, seed, cfg, data):
        return checkpoints.fingerprint(arm, seed, arms.settings(arm, cfg), tiny_model_dir, data)

    fp = fingerprint("sft-think", 0, TINY, "data1")
    same = TrainConfig(**{**TINY.__dict__, "checkpoint_items": 7, "seeds": [5], "rl_lr": 0.1})
    assert fingerprint("sft-think", 0, same, "data1") == fp  # not read by sft-think
    for changed in [("sft-think", 0, TrainConfig(**{**TINY.__dict__, "sft_lr": 3e-4}), "data1"),
                    ("sft-think", 1, TINY, "data1"), ("sft-think", 0, TINY, "data2")]:
        assert fingerprint(*changed) != fp
    assert len(fp["base"]) == 16 and len(fp["code"]) == 16  # a local base: by its weights, not its path
    assert set(fp["train"]) == set(arms.ARM_KEYS["sft-think"]) and fp["libraries"]["trl"]


def test_checkpoints_are_resumed_only_onto_the_same_settings(tmp_path):
    ckpt = tmp_path / "run-checkpoints"
    fp, other = {"arm": "grpo", "train": {"rl_lr": 1e-5}}, {"arm": "grpo", "train": {"rl_lr": 2e-5}}
    checkpoints.prepare_checkpoints(str(ckpt), fp)
    assert json.load(open(ckpt / "run.json")) == fp
    (ckpt / "checkpoint-2").mkdir()
    checkpoints.prepare_checkpoints(str(ckpt), fp)
    assert (ckpt / "checkpoint-2").exists()  # same settings: kept for the resume
    checkpoints.prepare_checkpoints(str(ckpt), other)  # other settings: emptied
    assert not (ckpt / "checkpoint-2").exists() and json.load(open(ckpt / "run.json")) == other
    (ckpt / "checkpoint-2").mkdir()
    (ckpt / "run.json").write_text('{"arm": "gr')  # a marker cut short by a kill
    checkpoints.prepare_checkpoints(str(ckpt), other)
    assert not (ckpt / "checkpoint-2").exists() and json.load(open(ckpt / "run.json")) == other


def test_a_folder_that_is_not_a_checkpoint_folder_is_never_deleted(tmp_path):
    folder = tmp_path / "mine-checkpoints"
    folder.mkdir()
    (folder / "thesis.tex").write_text("precious")
    with pytest.raises(FileExistsError, match="not a checkpoint folder"):
        checkpoints.prepare_checkpoints(str(folder), {"arm": "rft"})
    assert (folder / "thesis.tex").read_text() == "precious"


def test_a_checkpoint_cut_short_is_removed_not_resumed(tmp_path):
    for step, state in [(2, '{"global_step": 2}'), (4, '{"global_st'), (6, None)]:
        (tmp_path / f"checkpoint-{step}").mkdir()
        if state:
            (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text(state)
    assert checkpoints.last_complete_checkpoint(str(tmp_path)) == str(tmp_path / "checkpoint-2")
    assert not (tmp_path / "checkpoint-4").exists() and not (tmp_path / "checkpoint-6").exists()
    assert checkpoints.checkpoint_step(str(tmp_path / "checkpoint-2")) == 2 and checkpoints.checkpoint_step(None) == 0
    assert checkpoints.last_complete_checkpoint(str(tmp_path / "none")) is None


def test_unknown_arm_is_refused(tiny_data, tiny_model_dir):
    with pytest.raises(ValueError, match="arm: expected one of sft-think, sft-nothink, rft, grpo"):
        arms.run("dpo", TINY, tiny_model_dir, tiny_data["train"], 0)


def test_rft_data_is_the_base_s_correct_samples_cached_for_a_resume(tmp_path, tiny_data, tiny_model_dir, monkeypatch):
    rows = arms.math_split(tiny_data["train"], 0)
    calls = []

    def fake_sampler(model, tokenizer, prompts, k, max_new_tokens, batch_size, seed):
        calls.append(len(prompts))
        return Dataset.from_list([{**prompts[0], "target": f"Answer: {prompts[0]['answer']}"}])

    monkeypatch.setattr(sft, "rejection_sample", fake_sampler)
    cache = str(tmp_path / "rft_data")
    kept = arms.rft_rows(TINY, tiny_model_dir, rows, 0, 8, cache)
    assert len(kept) == 1 and calls == [TINY.rft_prompts]
    assert json.loads(kept.info.description) == {"prompts": 4, "samples": 8}
    again = arms.rft_rows(TINY, tiny_model_dir, rows, 0, 8, cache)
    assert calls == [TINY.rft_prompts] and again["target"] == kept["target"]  # read back, not resampled

    monkeypatch.setattr(sft, "rejection_sample", lambda *a, **k: rows.select([]))
    with pytest.raises(ValueError, match="rft: none of the 8 samples"):
        arms.rft_rows(TINY, tiny_model_dir, rows, 0, 8, str(tmp_path / "empty"))
    assert not os.path.exists(tmp_path / "empty")


def test_a_run_trains_on_math_only_and_its_checkpoints_are_scored(tmp_path, tiny_data, tiny_model_dir):
    cfg = TrainConfig(**{**TINY.__dict__, "out_dir": str(tmp_path / "arms"), "checkpoint_dir": str(tmp_path / "ckpt")})
    curve, info, timing = arms.run("sft-nothink", cfg, tiny_model_dir, tiny_data["train"], 0, sample_batch_size=16)
    out, ckpt = str(tmp_path / "arms" / "sft-nothink-seed0"), str(tmp_path / "ckpt" / "sft-nothink-seed0")
    assert (info["out_dir"], info["checkpoint_dir"]) == (out, ckpt)
    assert info["math_rows"] == sum(g == "math" for g in tiny_data["train"]["group"])
    assert timing["resumed_from_step"] == 0 and info["final_step"] == 4 and timing["steps_trained"] == 4
    assert curve["step"].tolist() == [1, 2, 3, 4] and curve["loss"].notna().all()
    assert [s for s, _ in checkpoints.checkpoint_folders(ckpt)] == [2, 4]
    scores = arms.score_checkpoints(tiny_model_dir, out, ckpt, 4, tiny_data["test"], 2, 32, 6)
    assert sorted(set(scores.step)) == [0, 2, 4]
    assert not any(f.startswith("optimizer") for f in os.listdir(f"{ckpt}/checkpoint-2"))  # pruned once scored
    assert any(f.startswith("optimizer") for f in os.listdir(f"{ckpt}/checkpoint-4"))  # the newest is resumable
    assert arms.group_change(scores).index.tolist() == [0, 2, 4]
    assert (scores.n == 2).all() and scores.accuracy.between(0, 1).all()
    assert len(scores) == 3 * 12 and set(scores.group) == {"math", "other", "non"}
    kl = scores.groupby("step").kl_math.agg(["min", "max"])
    assert (kl["min"] == kl["max"]).all()  # one value per checkpoint
    assert kl.loc[0, "min"] == 0.0 and (kl.loc[[2, 4], "min"] > 0).all()  # lr 1e-2 moves the model
    for distance in ("kl_math_tokens", "param_distance"):
        per_step = scores.groupby("step")[distance].agg(["min", "max"])
        assert (per_step["min"] == per_step["max"]).all() and per_step.loc[0, "min"] == 0.0
        assert (per_step.loc[[2, 4], "min"] > 0).all(), distance
    final, base = load_file(f"{out}/model.safetensors"), load_file(f"{tiny_model_dir}/model.safetensors")
    by_hand = sum(float(((final[k].double() - base[k].double()) ** 2).sum()) for k in base) ** 0.5
    assert scores.query("step == 4").param_distance.iloc[0] == pytest.approx(by_hand, rel=1e-6)
    assert curve["tokens"].is_monotonic_increasing and curve["tokens"].iloc[0] > 0  # TRL's count of tokens seen
    # a rerun of a finished run trains nothing more: same curve, same weights, no extra checkpoint
    before = load_file(f"{out}/model.safetensors")
    curve2, again, timing2 = arms.run("sft-nothink", cfg, tiny_model_dir, tiny_data["train"], 0, sample_batch_size=16)
    assert timing2["resumed_from_step"] == 4 and curve2["step"].tolist() == [1, 2, 3, 4]
    assert again == info  # what the run is does not depend on how often it was started
    assert [s for s, _ in checkpoints.checkpoint_folders(ckpt)] == [2, 4]
    after = load_file(f"{out}/model.safetensors")
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_pruning_keeps_weights_everywhere_and_the_newest_checkpoint_whole(tmp_path):
    for step in (2, 4, 6):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        for name in ("model.safetensors", "optimizer.pt", "scheduler.pt", "rng_state.pth", "trainer_state.json"):
            (folder / name).write_bytes(b"x" * 10)
    assert checkpoints.prune_checkpoints(str(tmp_path)) == 2 * 3 * 10
    for step in (2, 4):
        assert sorted(p.name for p in (tmp_path / f"checkpoint-{step}").iterdir()) == ["model.safetensors", "trainer_state.json"]
    assert len(list((tmp_path / "checkpoint-6").iterdir())) == 5


def test_dvc_stages_list_exactly_the_train_keys_their_arm_reads():
    import yaml

    from conftest import ROOT

    stages = yaml.safe_load(open(os.path.join(ROOT, "dvc.yaml")))["stages"]
    for stage, arm in (("sft", "sft-think"), ("sft", "sft-think-lora"), ("rft", "rft"), ("grpo", "grpo"),
                       ("grpo-kl", "grpo-kl"), ("grpo-random", "grpo-random"), ("rl-offpolicy", "rl-offpolicy"),
                       ("sft-self", "sft-self")):
        block = stages[stage].get("do", stages[stage])
        keys = {p.split(".", 1)[1] for p in block["params"] if isinstance(p, str) and p.startswith("train.")}
        assert keys == set(arms.ARM_KEYS[arm]) | {"checkpoint_items", "out_dir", "checkpoint_dir"}, stage


def test_the_sweep_trains_each_rate_from_the_base_and_the_rule_reads_its_scores(tmp_path, tiny_data, tiny_model_dir,
                                                                                  monkeypatch):
    from mathtransfer import dynamics, storage, sweep

    monkeypatch.chdir(tmp_path)
    os.symlink(tiny_model_dir, "base")
    monkeypatch.setattr(storage, "load_dataset", lambda folder: tiny_data)
    train = {k: v for k, v in TINY.__dict__.items() if k not in ("out_dir", "checkpoint_dir")}
    params = {"train": {**train, "checkpoint_items": 2}, "evaluation": {"batch_size": 32, "max_new_tokens": 6},
              "base": {"out_dir": "base"}, "data": {"out_dir": "data"},
              "sweep": {"lrs": {"sft-nothink": [1e-3, 1e-2]}, "out_dir": "sweep"}}
    scores = sweep.run_arm("sft-nothink", params)
    assert set(scores.lr) == {1e-3, 1e-2} and set(scores.arm) == {"sft-nothink"} and sorted(set(scores.step)) == [0, 2, 4]
    start = scores[scores.step == 0].pivot(index="task", columns="lr", values="accuracy")
    assert (start[1e-3] == start[1e-2]).all()  # both from the same base
    weights = [load_file(f"sweep/sft-nothink-lr{lr:g}/model/sft-nothink-seed0/model.safetensors") for lr in (1e-3, 1e-2)]
    assert any(not torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert json.load(open("sweep/sft-nothink-lr0.01/checkpoints/sft-nothink-seed0/run.json"))["train"]["lr_by_arm"] == {
        "sft-nothink": 1e-2}
    choice = dynamics.choose_lr(scores, 0.10)
    assert len(choice) == 2 and choice.chosen.sum() == 1
    # widened: the two finished rates keep their scores (read back, not recomputed), the new one trains
    scored = []
    monkeypatch.setattr(arms, "score_checkpoints", lambda *a, **k: scored.append(a[1]) or scores[scores.lr == 1e-3]
                        .drop(columns=["arm", "lr", "seed"]))
    params["sweep"]["lrs"]["sft-nothink"] = [1e-3, 1e-2, 3e-2]
    wider = sweep.run_arm("sft-nothink", params)
    assert scored == ["sweep/sft-nothink-lr0.03/model/sft-nothink-seed0"]
    assert wider[wider.lr != 3e-2].reset_index(drop=True).equals(scores.reset_index(drop=True))


def test_the_sweep_command_refuses_bad_arguments_in_one_line(capsys, tmp_path):
    from mathtransfer import sweep

    assert sweep.main(["dpo"]) == 2
    assert capsys.readouterr().err.strip().endswith("unknown arm 'dpo', valid: " + ", ".join(ARMS))
    params = tmp_path / "params.yaml"
    params.write_text("sweep:\n  lrs: {grpo: [0.0001]}\n")
    assert sweep.main(["rft", "--params", str(params)]) == 2
    assert capsys.readouterr().err.strip() == f"{params}: sweep.lrs: no rates for 'rft'; it lists grpo"

"""The world's own checks: headroom tables of a base, the channel check's guard rails, and the
pretrained-base case (nothing to check, empty tables)."""
import dataclasses

import pytest

from mathtransfer import config, models, worldcheck
from mathtransfer.registry import HEADROOM_BAND, STEP_TASKS, TASKS


def test_headroom_has_every_task_and_samples_the_step_tasks(tiny_model_dir, tiny_data):
    model, tokenizer = models.load_model(tiny_model_dir, "full")
    ecfg = config.EvalConfig(n_per_task=3, batch_size=64, max_new_tokens=8, pass_k=2, pass_k_items=2)
    table = worldcheck.headroom(model, tokenizer, tiny_data["test"], ecfg, seed=0)
    assert list(table.task) == list(TASKS) and (table.n == 3).all()
    assert table.greedy.between(0, 1).all()
    assert (table.in_band == table.greedy.between(*HEADROOM_BAND)).all()
    sampled = table.dropna(subset=["passk"])
    assert set(sampled.task) == set(STEP_TASKS)
    assert (sampled.passk >= sampled.pass1 - 1e-9).all()  # at least one right sample is at least the mean


@pytest.mark.parametrize("task", ["arith", "kb_chain", "duration", "nonsense"])
def test_the_channel_task_must_be_a_non_math_task_that_shares_the_step(task, tmp_path, tiny_data):
    with pytest.raises(ValueError, match="world_check.channel_task: expected a non-math task that shares"):
        worldcheck.channel(task, config.TrainConfig(), "unused", tiny_data, config.EvalConfig(),
                           str(tmp_path / "out"), str(tmp_path / "ckpt"), seed=0)
    with pytest.raises(config.ConfigError, match="world_check.channel_task"):
        config.parse(config.WorldCheckConfig, {"channel_task": task}, "world_check")


def test_a_pretrained_base_has_nothing_to_check(tiny_data, tmp_path):
    bcfg = dataclasses.replace(config.BaseConfig(), model="Qwen/Qwen3-0.6B-Base")
    wcfg = dataclasses.replace(config.WorldCheckConfig(), out_dir=str(tmp_path / "wc"))
    bases, channel, log = worldcheck.run(bcfg, config.TrainConfig(), config.EvalConfig(), wcfg, tiny_data, seed=0)
    assert bases.empty and channel.empty and log.empty
    assert list(bases.columns) == worldcheck.BASES_COLUMNS and list(channel.columns) == worldcheck.CHANNEL_COLUMNS
    assert not (tmp_path / "wc").exists()  # nothing pretrained, nothing trained

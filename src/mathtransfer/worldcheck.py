"""Checks on the mini-world itself: its headroom on a second base, and an open shared-skill channel.

Two measurements made before any arm's result is read (notebook 01_world_check, stage
world_check), so that the world's properties are not those of one lucky run:
- `headroom` / `both_bases`: a base's greedy accuracy per task and, on every task that shares
  math's step (registry.STEP_TASKS), pass@1 and pass@k of sampled answers, for the default base
  and a second one pretrained from another seed (`pretrain.build_base`).
- `channel`: GRPO with the math arm's own settings, trained on one non-math task that shares the
  step instead of on math; its greedy accuracy on that task before and after. If the shared error
  can be rewarded away where it lives, "math RL does not transfer" is a finding, not a world in
  which nothing could have moved.
Left out: the arms and every analysis of them (arms.py, evaluate.py and later).
"""
from __future__ import annotations

import pandas as pd
from datasets import Dataset

from . import checkpoints, generation, grpo, models, pretrain
from .arms import curves, settings
from .config import BaseConfig, EvalConfig, TrainConfig, WorldCheckConfig
from .registry import HEADROOM_BAND, STEP_TASKS, TASKS


def headroom(model, tokenizer, test: Dataset, ecfg: EvalConfig, seed: int) -> pd.DataFrame:
    """Per task (registry order): group, greedy accuracy on the first ecfg.n_per_task test items,
    n, in_band (registry.HEADROOM_BAND), and for STEP_TASKS pass1 and passk (ecfg.pass_k samples at temperature 1 on
    ecfg.pass_k_items items)."""
    records = generation.records(model, tokenizer, test, ecfg.n_per_task, ecfg.batch_size, ecfg.max_new_tokens)
    table = (records.groupby("task", sort=False).score.agg(["mean", "size"])
             .rename(columns={"mean": "greedy", "size": "n"}).reindex(list(TASKS)).reset_index())
    table.insert(1, "group", [TASKS[t].group for t in table.task])
    table["in_band"] = table.greedy.between(*HEADROOM_BAND)
    sampled = generation.pass_at_k(model, tokenizer, test, list(STEP_TASKS), ecfg.pass_k_items, ecfg.pass_k,
                                   ecfg.batch_size, ecfg.max_new_tokens, seed)
    return table.merge(sampled[["task", "pass1", "passk"]], on="task", how="left")


def both_bases(first: str, second: str, first_seed: int, second_seed: int, test: Dataset, ecfg: EvalConfig
               ) -> pd.DataFrame:
    """headroom of two bases (folders), one loaded at a time: its columns plus base_seed."""
    tables = []
    for path, base_seed in ((first, first_seed), (second, second_seed)):
        model, tokenizer = models.load_model(path, "full")
        tables.append(headroom(model, tokenizer, test, ecfg, first_seed).assign(base_seed=base_seed))
        del model
        models.free_memory()
    return pd.concat(tables, ignore_index=True)


def channel(task: str, cfg: TrainConfig, base_path: str, dataset, ecfg: EvalConfig, out_dir: str,
            ckpt_dir: str, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """GRPO (cfg's grpo settings) from base_path on `task`'s training items alone, saved to out_dir,
    checkpoints in ckpt_dir (resumed only by the same settings, as an arm's). Returns (the task's
    greedy accuracy before and after: task, base, trained, change, n; the GRPO log: step, reward, ...)."""
    if task not in STEP_TASKS or TASKS[task].group == "math":
        raise ValueError(f"world_check.channel_task: expected a non-math task that shares math's step "
                         f"({', '.join(t for t in STEP_TASKS if TASKS[t].group != 'math')}), got {task!r}")
    rows = dataset["train"].filter(lambda name: name == task, input_columns="task").shuffle(seed=seed)
    checkpoints.prepare_checkpoints(ckpt_dir, checkpoints.fingerprint(f"grpo on {task}", seed, settings("grpo", cfg),
                                                                      base_path, rows._fingerprint))
    history = grpo.train_grpo(cfg, base_path, rows, out_dir, seed, checkpoints=ckpt_dir)
    test = dataset["test"].filter(lambda name: name == task, input_columns="task")
    scores = {}
    for name, path in (("base", base_path), ("trained", out_dir)):
        model, tokenizer = models.load_model(path, "full")
        scores[name] = generation.records(model, tokenizer, test, ecfg.n_per_task, ecfg.batch_size,
                                          ecfg.max_new_tokens).score
        del model
        models.free_memory()
    result = pd.DataFrame([dict(task=task, base=scores["base"].mean(), trained=scores["trained"].mean(),
                                change=scores["trained"].mean() - scores["base"].mean(), n=len(scores["base"]))])
    return result, curves(history)


BASES_COLUMNS = ["task", "group", "greedy", "n", "in_band", "pass1", "passk", "base_seed"]
CHANNEL_COLUMNS = ["task", "base", "trained", "change", "n"]


def run(base_cfg: BaseConfig, train_cfg: TrainConfig, ecfg: EvalConfig, wcfg: WorldCheckConfig, dataset,
        seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Both checks: (both_bases' table, channel's result, channel's GRPO log). A pretrained base
    (base.model: the GPU profile) has no pretraining seed and no synthetic channel: empty tables."""
    if base_cfg.model:
        return pd.DataFrame(columns=BASES_COLUMNS), pd.DataFrame(columns=CHANNEL_COLUMNS), pd.DataFrame()
    second = f"{wcfg.out_dir}/base-seed{wcfg.base_seed}"
    pretrain.build_base(base_cfg, dataset["train"], wcfg.base_seed, second)
    bases = both_bases(base_cfg.out_dir, second, seed, wcfg.base_seed, dataset["test"], ecfg)
    result, log = channel(wcfg.channel_task, train_cfg, base_cfg.out_dir, dataset, ecfg,
                          f"{wcfg.out_dir}/channel-{wcfg.channel_task}",
                          f"{train_cfg.checkpoint_dir}/channel-{wcfg.channel_task}", seed)
    return bases[BASES_COLUMNS], result, log

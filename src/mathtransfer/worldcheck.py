"""Checks on the mini-world itself: its headroom on a second base, and an open shared-skill channel.

Two measurements made before any arm's result is read (notebook 01_world_check, stage
world_check), so that the world's properties are not those of one lucky run:
- `headroom`: a base's greedy accuracy per task and, on every task that shares math's step
  (registry.STEP_TASKS), pass@1 and pass@k of sampled answers: what notebook 01_base_eval shows
  for the default base, here for any base (a second pretraining seed: `pretrain.build_base`).
- `channel`: GRPO with the math arm's own settings, trained on one non-math task that shares the
  step instead of on math; its greedy accuracy on that task before and after. If the shared error
  can be rewarded away where it lives, "math RL does not transfer" is a finding, not a world in
  which nothing could have moved.
Left out: the arms and every analysis of them (arms.py, evaluate.py and later).
"""
from __future__ import annotations

import pandas as pd
from datasets import Dataset

from . import generation, grpo, models
from .checkpoints import default_checkpoint_dir
from .config import EvalConfig, TrainConfig
from .registry import STEP_TASKS, TASKS

BAND = (0.25, 0.85)  # every task's greedy accuracy on a base: a gain and a loss can both show


def headroom(model, tokenizer, test: Dataset, ecfg: EvalConfig, seed: int) -> pd.DataFrame:
    """Per task (registry order): group, greedy accuracy on the first ecfg.n_per_task test items,
    n, in_band (BAND), and for STEP_TASKS pass1 and passk (ecfg.pass_k samples at temperature 1 on
    ecfg.pass_k_items items)."""
    records = generation.records(model, tokenizer, test, ecfg.n_per_task, ecfg.batch_size, ecfg.max_new_tokens)
    table = (records.groupby("task", sort=False).score.agg(["mean", "size"])
             .rename(columns={"mean": "greedy", "size": "n"}).reindex(list(TASKS)).reset_index())
    table.insert(1, "group", [TASKS[t].group for t in table.task])
    table["in_band"] = table.greedy.between(*BAND)
    sampled = generation.pass_at_k(model, tokenizer, test, list(STEP_TASKS), ecfg.pass_k_items, ecfg.pass_k,
                                   ecfg.batch_size, ecfg.max_new_tokens, seed)
    return table.merge(sampled[["task", "pass1", "passk"]], on="task", how="left")


def channel(task: str, cfg: TrainConfig, base_path: str, dataset, ecfg: EvalConfig, out_dir: str,
            seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """GRPO (cfg's grpo settings) from base_path on `task`'s training items alone, saved to out_dir.
    Returns (the task's greedy accuracy before and after: task, base, trained, change, n; the
    GRPO log as arms.curves would show it: step, reward, ...)."""
    if task not in STEP_TASKS or TASKS[task].group == "math":
        raise ValueError(f"world_check.channel_task: expected a non-math task that shares math's step "
                         f"({', '.join(t for t in STEP_TASKS if TASKS[t].group != 'math')}), got {task!r}")
    rows = dataset["train"].filter(lambda name: name == task, input_columns="task").shuffle(seed=seed)
    history = grpo.train_grpo(cfg, base_path, rows, out_dir, seed, checkpoints=default_checkpoint_dir(out_dir))
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
    log = pd.DataFrame([h for h in history if "reward" in h])
    return result, log

"""The mini-world data: generate every task's train and test split from a seed, save, load.

Generation is bit-identical for a seed: each (task, split) has its own `random.Random` seeded
with a string (hashed with SHA-512 by Python, so not subject to hash randomisation). Test items
are drawn first, with unique prompts; training items whose prompt occurs in the test split are
rejected, so no test prompt is ever trained on. Training prompts may repeat: some tasks have
small prompt spaces (a repeat is one more epoch on that item, never a leak).
Saved as a `datasets.DatasetDict` (Arrow) with splits `train` and `test`, atomically
(storage.save_dataset; every later stage reads it with storage.load_dataset).
Left out: the hub benchmarks of the GPU profile (a later loader fills the same columns).
"""
from __future__ import annotations

import hashlib
import json
import os
import random

import pandas as pd
from datasets import Dataset, DatasetDict

from .config import DataConfig
from .registry import BENCHMARKS, STEP_TASKS, TASKS
from .scorers import score
from .schema import COLUMNS, RL_SET

MAX_TRIES_PER_ITEM = 50


def _draw(task: str, n: int, rng: random.Random, wrong_share: float, split: str,
          exclude: set[str], unique: bool) -> list[dict]:
    spec = TASKS[task]
    items, seen = [], set(exclude)
    for _ in range(n * MAX_TRIES_PER_ITEM):
        if len(items) == n:
            break
        item = spec.make(rng, wrong_share, split)
        if item["prompt"] in seen:
            continue
        if unique:
            seen.add(item["prompt"])
        row = dict(id=f"{task}-{split}-{len(items):05d}", task=task, group=spec.group,
                   benchmark=spec.benchmark, teacher_think="", teacher_nothink="")
        row.update(item)
        items.append(row)
    if len(items) < n:
        raise ValueError(f"params.yaml: data.n_{split}: task {task} yielded only {len(items)} "
                         f"usable prompts of the {n} asked; ask for fewer")
    return items


def generate(cfg: DataConfig, seed: int) -> dict[str, list[dict]]:
    """Every task's items: {"train": [...], "test": [...]}, deterministic in (cfg, seed)."""
    splits = {"train": [], "test": []}
    for task in TASKS:
        share = cfg.wrong_share.get(task, (0.0, 0.0))
        test = _draw(task, cfg.n_test, random.Random(f"{seed}/{task}/test"), share, "test", set(),
                     unique=True)
        train = _draw(task, cfg.n_train, random.Random(f"{seed}/{task}/train"), share, "train",
                      {row["prompt"] for row in test}, unique=False)
        splits["test"] += test
        splits["train"] += train
    return splits


def build(cfg: DataConfig, seed: int) -> DatasetDict:
    """The data as a DatasetDict with splits train and test: the mini-world, or with
    data.source: hub the paper's training sets and benchmarks (build_hub)."""
    if cfg.source == "hub":
        return build_hub(cfg, seed)
    splits = generate(cfg, seed)
    # A content hash as fingerprint (datasets would pick a random one), so that the saved files
    # are bit-identical for a seed and DVC sees an unchanged output as unchanged.
    return DatasetDict({
        name: Dataset.from_list(rows).select_columns(
            COLUMNS, new_fingerprint=hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()[:16])
        for name, rows in splits.items()})


def build_hub(cfg: DataConfig, seed: int) -> DatasetDict:
    """The GPU profile's data (mathtransfer.hub): train = n_train rows of each math training set
    (benchmark SFT_SET or RL_SET) minus any whose problem is a test prompt's; test = n_test items of
    each benchmark in cfg.benchmarks (all twelve if empty). The RL set's prompts are its questions
    followed by cfg.rl_prompt_suffix (empty: the math prompt). Benchmarks that cannot be had are
    left out and listed, with their reasons, in the test split's info (see `missing`); fallbacks
    the loaders took (a guessed SFT column absent, MC-TACO's Parquet export) are printed, one line
    each, and listed there too (see `fallbacks`)."""
    from datasets import concatenate_datasets

    from . import hub

    sft = hub.load_math_sft(cfg.hub_sft, cfg.sft_columns, cfg.n_train, seed)
    rl = hub.load_math_rl(cfg.hub_rl, cfg.rl_columns, cfg.n_train, seed, prompt_suffix=cfg.rl_prompt_suffix)
    available, missing = hub.load_benchmarks(cfg.benchmarks or None, cfg.n_test, seed, cfg.benchmark_sources)
    if not available:
        raise ValueError("data.benchmarks: none of the benchmarks could be loaded: " + "; ".join(missing.values()))
    notes = {name: lines for ds in (sft, *available.values()) for name, lines in hub.fallbacks(ds).items()}
    for line in (line for lines in notes.values() for line in lines):
        print(f"FALLBACK {line}")
    test = concatenate_datasets(list(available.values()))
    test_prompts = set(test["prompt"])
    suffix = cfg.rl_prompt_suffix

    def leaks(prompt: str, benchmark: str) -> bool:
        """Whether a training problem is a test item (an RL prompt as the math prompt it would be)."""
        if suffix and benchmark == RL_SET and prompt.endswith(suffix):
            prompt = hub.math_prompt(prompt[:-len(suffix)])
        return prompt in test_prompts

    train = concatenate_datasets([sft, rl]).filter(lambda p, b: not leaks(p, b), input_columns=["prompt", "benchmark"])
    test.info.description = json.dumps({"missing": missing, "fallbacks": notes})
    return DatasetDict({"train": train.flatten_indices(), "test": test})


def _info(dataset: DatasetDict, key: str) -> dict:
    try:
        return json.loads(dataset["test"].info.description or "{}").get(key, {})
    except ValueError:
        return {}


def missing(dataset: DatasetDict) -> dict[str, str]:
    """Benchmarks the hub source could not load -> why (empty for the mini-world)."""
    return _info(dataset, "missing")


def fallbacks(dataset: DatasetDict) -> dict[str, list[str]]:
    """Sets the hub source read through a fallback -> one-line notes on which (empty for the
    mini-world): a guessed math_sft_40K column absent, MC-TACO read from the Hub's Parquet export."""
    return _info(dataset, "fallbacks")


def summary(dataset: DatasetDict) -> pd.DataFrame:
    """Items and mean prompt/target length (characters) per task and split; benchmarks the hub
    source could not load are listed with 0 items and the reason (column `missing`), the fallbacks
    its loaders took on their set's rows (column `fallback`, only when there are any)."""
    frames = []
    for split, ds in dataset.items():
        df = ds.select_columns(["task", "group", "benchmark", "prompt", "target"]).to_pandas()
        df["split"] = split
        frames.append(df)
    df = pd.concat(frames)
    df["prompt_chars"] = df["prompt"].str.len()
    df["target_chars"] = df["target"].str.len()
    table = (df.groupby(["group", "task", "benchmark", "split"], sort=False)
               .agg(items=("prompt", "size"), prompt_chars=("prompt_chars", "mean"),
                    target_chars=("target_chars", "mean"))
               .round(1).reset_index())
    gone = [dict(benchmark=name, split="test", items=0, missing=why) for name, why in missing(dataset).items()]
    table = pd.concat([table, pd.DataFrame(gone)], ignore_index=True) if gone else table
    notes = fallbacks(dataset)
    if notes:
        table["fallback"] = [" | ".join(notes.get(b, [])) or pd.NA for b in table["benchmark"]]
    unique = dataset["train"].to_pandas().groupby("task")["prompt"].nunique().rename("unique_train_prompts")
    table = table.merge(unique, left_on="task", right_index=True, how="left")
    table.loc[table.split == "test", "unique_train_prompts"] = pd.NA
    return table


def task_table(source: str) -> pd.DataFrame:
    """The registry's tasks of a source (miniworld: the twelve synthetic tasks, with what each
    shares with math; hub: the paper's benchmarks, with their Hub ids): task, group, benchmark,
    scorer, chance."""
    if source == "hub":
        from .hub import SOURCES

        rows = [dict(task=t.name, group=t.group, benchmark=t.benchmark, hub_id=SOURCES[t.benchmark].hub_id,
                     scorer=t.scorer, chance=t.chance) for t in BENCHMARKS.values()]
    else:
        rows = [dict(task=t.name, group=t.group, mirrors=t.benchmark, scorer=t.scorer, chance=t.chance,
                     shares_with_math=t.shares or "nothing (a control)") for t in TASKS.values()]
    return pd.DataFrame(rows)


def checks(dataset: DatasetDict, wrong_share: dict[str, float]) -> dict:
    """Checks on generated data, by the scorers that evaluate models: test prompts found in train
    (should be 0); share of teacher traces scored correct per style (should be 1); for the
    mini-world, the share of correct base targets of the control tasks (should be 1) and, per task
    that shares math's step, the measured share of wrong base-style targets against `wrong_share`."""
    train, test = dataset["train"].to_pandas(), dataset["test"].to_pandas()

    def correct(frame: pd.DataFrame, column: str) -> pd.Series:
        return pd.Series([score(t, r, a, m) for t, r, a, m in zip(frame.task, frame[column], frame.answer, frame.meta)],
                         index=frame.index, dtype=float)

    math = train[train.group == "math"]
    result = dict(test_prompts_in_train=len(set(test.prompt) & set(train.prompt)),
                  teacher_correct={style: round(float(correct(math[math[style] != ""], style).mean()), 4)
                                   for style in ("teacher_think", "teacher_nothink") if (math[style] != "").any()})
    if (train.target != "").all() and set(train.task) <= set(TASKS):  # base-style targets: mini-world only
        controls = train[~train.task.isin(STEP_TASKS)]
        result["control_targets_correct"] = round(float(correct(controls, "target").mean()), 4)
        stepped = train[train.task.isin(STEP_TASKS)]
        chain = pd.Series(["long" if json.loads(m)["long"] else "short" for m in stepped.meta], index=stepped.index)
        wrong = (correct(stepped, "target") < 1).groupby([stepped.task, chain], sort=False).mean()
        result["wrong_share"] = pd.DataFrame({
            "measured": wrong.round(4),
            "param": [wrong_share[task][chain == "long"] for task, chain in wrong.index]}).rename_axis(["task", "chain"])
    return result

"""Evaluation: which models the evaluate stage scores, their per-item records and per-task
accuracy (bootstrap interval over the test items, scipy.stats.bootstrap), and the paper's
Table 1 / Figure 1 analogues built from the tidy accuracy table: per-arm task means, the seed
spread, each arm's change over the base per group, the same change scored strictly and with the
answer marker optional (format or content?), and the headline metrics.

Accuracy tables have one row per model and task (columns of `accuracy` below); "arms" are the
trained methods of schema.ARMS, compared with the one model whose method is "base".
Left out: generation and scoring of a response (generation.py, scorers.py), the Transferability
Index (transfer.py), figures (plots.py), and writing files (the notebook writes what these return).
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch
from scipy import stats
from datasets import Dataset

from . import generation
from .config import EvalConfig
from .generation import first_per_task, generate
from .models import Run, free_memory, load_model
from .registry import TASKS, chance
from .schema import ARMS, GROUPS
from .scorers import score

BASE = "base"  # the method (and model name) of the shared base
ZOO, ZOO_BASE = "zoo", "zoo-base"  # methods of released models and of their bases


def models_to_evaluate(base_path: str, runs: list[Run], zoo: list[dict], seed: int) -> list[Run]:
    """The base (named "base", with the stage's seed), the trained runs (models.trained_runs), then
    each released pair of `evaluation.zoo` ({name, base}: hub ids or paths) as a "zoo" model and
    its "zoo-base" (seed -1: neither was trained here); a model already listed is not added twice."""
    listed = [Run(BASE, BASE, seed, base_path, base_path), *runs]
    for entry in zoo:
        for name, method, base in ((entry["name"], ZOO, entry["base"]), (entry["base"], ZOO_BASE, entry["base"])):
            if name not in {r.name for r in listed}:
                listed.append(Run(name, method, -1, name, base))
    return listed


def evaluate_models(runs: list[Run], test: Dataset, ecfg: EvalConfig, seed: int
                    ) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Every run loaded in turn (models.load_model, full weights) answers the test split
    (generation.records) and is scored per task (accuracy). Returns (records, accuracy, timings):
    records and accuracy carry model, method and seed; timings holds seconds_per_model,
    total_seconds and items_per_model (wall times: for storage.write_timing, never a committed file)."""
    records, accuracies, seconds = [], [], {}
    for run in runs:
        start = time.perf_counter()
        model, tokenizer = load_model(run.path, "full")
        rec = generation.records(model, tokenizer, test, ecfg.n_per_task, ecfg.batch_size, ecfg.max_new_tokens,
                                 ecfg.sampled_tasks, ecfg.n_samples, ecfg.sample_temperature, ecfg.top_p, seed)
        records.append(rec.assign(model=run.name, method=run.method, seed=run.seed))
        accuracies.append(accuracy(rec, run.name, run.method, run.seed, n_resamples=ecfg.bootstrap_resamples,
                                   rng_seed=seed))
        del model  # one model in memory at a time (the GPU profile's models are GBs)
        free_memory()
        seconds[run.name] = round(time.perf_counter() - start, 1)
    records = pd.concat(records, ignore_index=True)
    timings = dict(seconds_per_model=seconds, total_seconds=round(sum(seconds.values()), 1),
                   items_per_model=len(records) // max(len(runs), 1))
    return records, pd.concat(accuracies, ignore_index=True), timings


def accuracy(records: pd.DataFrame, model: str, method: str, seed: int, confidence: float = 0.95,
             n_resamples: int = 1000, rng_seed: int = 0) -> pd.DataFrame:
    """Tidy per-task accuracy with a bootstrap interval over test items (scipy.stats.bootstrap,
    percentile method): model, method, seed, task, benchmark, group, accuracy, ci_low, ci_high,
    n, chance, accuracy_lenient (the mean of the records' lenient scores; of score for records
    written before that column existed)."""
    rows = []
    lenient_column = "lenient" if "lenient" in records else "score"
    for (task, benchmark, group), items in records.groupby(["task", "benchmark", "group"], sort=False):
        scores = items["score"].to_numpy(float)
        if len(scores) > 1 and scores.min() < scores.max():
            ci = stats.bootstrap((scores,), np.mean, confidence_level=confidence, n_resamples=n_resamples,
                                 method="percentile", random_state=rng_seed).confidence_interval
            low, high = float(ci.low), float(ci.high)
        else:  # every item scored alike: the resamples cannot vary
            low = high = float(scores.mean())
        rows.append(dict(model=model, method=method, seed=seed, task=task, benchmark=benchmark, group=group,
                         accuracy=float(scores.mean()), ci_low=low, ci_high=high, n=len(scores),
                         chance=chance(task), accuracy_lenient=float(items[lenient_column].mean())))
    return pd.DataFrame(rows)


def group_means(acc: pd.DataFrame) -> pd.DataFrame:
    """Mean accuracy per model, method, seed and group (each task weighs the same)."""
    return (acc.groupby(["model", "method", "seed", "group"], sort=False)["accuracy"].mean()
               .unstack("group").reset_index())


def arms_in(acc: pd.DataFrame) -> list[str]:
    """The trained arms present in a tidy table (column method or arm), in schema.ARMS order."""
    present = set(acc["method"] if "method" in acc else acc["arm"])
    return [arm for arm in ARMS if arm in present]


def _percent_by_method(acc: pd.DataFrame, aggfunc: str, methods: list[str]) -> pd.DataFrame:
    return (acc.assign(accuracy=100 * acc["accuracy"])
               .pivot_table(index="method", columns="task", values="accuracy", aggfunc=aggfunc)
               .reindex(index=methods, columns=list(dict.fromkeys(acc["task"]))))


def table1(acc: pd.DataFrame) -> pd.DataFrame:
    """Table 1 analogue: accuracy (%) per task of the base and of each arm (mean over its seeds),
    then one [group] column per group: the mean of that group's task columns."""
    table = _percent_by_method(acc, "mean", [BASE] + arms_in(acc))
    group_of = acc.drop_duplicates("task").set_index("task")["group"]
    for group in GROUPS:
        table[f"[{group}]"] = table[[t for t in table.columns if group_of.get(t) == group]].mean(axis=1)
    return table


def seed_spread(acc: pd.DataFrame) -> pd.DataFrame:
    """Each arm's standard deviation over seeds of its task accuracies (%)."""
    return _percent_by_method(acc, "std", arms_in(acc))


def first_seed_intervals(acc: pd.DataFrame) -> pd.DataFrame:
    """"accuracy [low, high]" (%, whole points) per task for the first seed of the base and each arm."""
    first = acc[acc["seed"] == acc.groupby("method")["seed"].transform("min")]
    text = [f"{100 * a:.0f} [{100 * lo:.0f}, {100 * hi:.0f}]"
            for a, lo, hi in zip(first["accuracy"], first["ci_low"], first["ci_high"])]
    return (first.assign(interval=text).pivot(index="method", columns="task", values="interval")
                 .reindex(index=[BASE] + arms_in(acc), columns=list(dict.fromkeys(acc["task"]))))


def base_scores(acc: pd.DataFrame) -> pd.Series:
    """The base's mean accuracy (points, 0-100) per group."""
    base = acc[acc["method"] == BASE]
    if base["model"].nunique() != 1:
        raise ValueError(f"accuracy: expected one model with method {BASE!r}, got {sorted(set(base['model']))}")
    return base.groupby("group")["accuracy"].mean().mul(100)


def group_gains(acc: pd.DataFrame) -> pd.DataFrame:
    """Figure 1 analogue, tidy: per arm, seed and group, the group's mean accuracy (score, points)
    and its change over the base's; sorted by arm, seed, group."""
    arms = acc[acc["method"].isin(list(ARMS))]  # released models (zoo) are compared in notebook 05
    gains = (arms.groupby(["method", "seed", "group"])["accuracy"].mean().mul(100).rename("score")
                 .reset_index().rename(columns={"method": "arm"}))
    gains["change"] = gains["score"] - gains["group"].map(base_scores(acc))
    return gains


def gain_summary(gains: pd.DataFrame) -> pd.DataFrame:
    """Mean, std, min and max over seeds of each arm's change per group (points, 1 decimal)."""
    return gains.groupby(["arm", "group"])["change"].agg(["mean", "std", "min", "max"]).round(1)


def gain_sentences(gains: pd.DataFrame) -> list[str]:
    """One sentence per arm: its mean change per group, with the seed range on math."""
    lines = []
    for arm in arms_in(gains):
        change = gains[gains["arm"] == arm].groupby("group")["change"]
        mean, low, high = change.mean(), change.min(), change.max()
        lines.append(f"{arm}: math {mean['math']:+.1f} (seeds {low['math']:+.1f} to {high['math']:+.1f}), "
                     f"other {mean['other']:+.1f}, non-reasoning {mean['non']:+.1f} points")
    return lines


def format_vs_content(acc: pd.DataFrame) -> pd.DataFrame:
    """Is a change knowledge or format? Per arm and group (seed means of the group's task means,
    points): the change over the base scored strictly (`strict`) and with the answer marker
    optional (`lenient`: the content change), and `format` = strict - lenient, the part of the
    strict change that is the lost marker. Sorted by arm (schema.ARMS order), then group."""
    rows = []
    for column, name in (("accuracy", "strict"), ("accuracy_lenient", "lenient")):
        change = group_gains(acc.assign(accuracy=acc[column]))
        rows.append(change.groupby(["arm", "group"])["change"].mean().rename(name))
    table = pd.concat(rows, axis=1).reset_index()
    table["format"] = table["strict"] - table["lenient"]
    order = {arm: i for i, arm in enumerate(ARMS)} | {g: i for i, g in enumerate(GROUPS)}
    return table.sort_values(["arm", "group"], key=lambda c: c.map(order)).reset_index(drop=True)


def format_sentences(table: pd.DataFrame) -> list[str]:
    """One sentence per arm (format_vs_content's table): its other and non-reasoning changes,
    strict and lenient, and how much of the strict change is the missing answer marker."""
    lines = []
    for arm in arms_in(table):
        row = table[table["arm"] == arm].set_index("group")
        parts = [f"{label} {row.loc[group, 'strict']:+.1f} points strict, {row.loc[group, 'lenient']:+.1f} lenient: "
                 f"{round(row.loc[group, 'format'], 1) + 0:+.1f} of it the missing answer marker"  # + 0: no "-0.0"
                 for group, label in (("other", "other"), ("non", "non-reasoning")) if group in row.index]
        lines.append(f"{arm}: " + "; ".join(parts))
    return lines


def metrics(gains: pd.DataFrame, acc: pd.DataFrame, split: pd.DataFrame | None = None) -> dict:
    """reports/metrics/evaluate.json: each arm's mean change per group over seeds, then the base's
    group scores (points, 2 decimals); with step_split's table, each arm's seed-mean change on the
    shared-step and the control tasks."""
    out = {arm: {g: round(float(gains.loc[(gains["arm"] == arm) & (gains["group"] == g), "change"].mean()), 2)
                 for g in GROUPS} for arm in arms_in(gains)}
    if split is not None and len(split):
        for row in split[split["seed"] == -1].itertuples():
            out[row.arm][row.split] = round(float(row.change), 2)
    base = base_scores(acc)
    out[BASE] = {g: round(float(base[g]), 2) for g in GROUPS}
    return out


def step_split(records: pd.DataFrame, n_resamples: int = 1000, rng_seed: int = 0) -> pd.DataFrame:
    """Does math training carry the shared step over? Per trained model (arm, seed) and split of
    the non-math tasks (registry.TASKS' `shares`: "shared step" or "control"), the change over the
    base in accuracy points, as the mean over the split's tasks of (model - base) on the same test
    items, with a 95% paired bootstrap interval (items resampled within each task, the same
    resample for model and base). Then one "mean of seeds" row per arm and split (interval: the
    percentiles of the mean over seeds of the same resamples). Mini-world tasks only."""
    non_math = records[records["task"].isin([t for t, spec in TASKS.items() if spec.group != "math"])]
    if non_math.empty:  # hub benchmarks: no split defined
        return pd.DataFrame(columns=["arm", "seed", "split", "tasks", "change", "low", "high"])
    base = non_math[non_math["method"] == BASE].set_index(["task", "id"])["score"]
    rng = np.random.default_rng(rng_seed)
    draws = {task: rng.integers(0, len(items), size=(n_resamples, len(items)))
             for task, items in base.groupby(level="task", sort=False)}
    rows, resampled = [], {}
    for (arm, seed), frame in non_math[non_math["method"].isin(ARMS)].groupby(["method", "seed"], sort=False):
        scored = frame.set_index(["task", "id"])["score"]
        for split, tasks in (("shared step", [t for t in draws if TASKS[t].shares]),
                             ("control", [t for t in draws if not TASKS[t].shares])):
            diffs = [(scored.loc[t] - base.loc[t].reindex(scored.loc[t].index)).to_numpy(float) for t in tasks]
            boot = np.mean([d[draws[t]].mean(axis=1) for d, t in zip(diffs, tasks)], axis=0)
            resampled[(arm, split, seed)] = boot
            rows.append(dict(arm=arm, seed=seed, split=split, tasks=", ".join(tasks),
                             change=100 * np.mean([d.mean() for d in diffs]),
                             low=100 * np.percentile(boot, 2.5), high=100 * np.percentile(boot, 97.5)))
    table = pd.DataFrame(rows)
    for (arm, split), group in table.groupby(["arm", "split"], sort=False):
        boot = np.mean([resampled[(arm, split, s)] for s in group.seed], axis=0)
        rows.append(dict(arm=arm, seed=-1, split=split, tasks=group.tasks.iloc[0], change=group.change.mean(),
                         low=100 * np.percentile(boot, 2.5), high=100 * np.percentile(boot, 97.5)))
    return pd.DataFrame(rows)

"""Transfer of our runs: the Transferability Index of every trained run and arm against the base,
with intervals, in four readings side by side, and the sentences that state what they support.

Readings (ti.variants), per group g: change_g (the mean change over g's tasks, in points; math
too), TI_g (v2, sigma pooled over all our runs: the paper's reading, which depends on the set of
arms compared), TI_fixed_g (v2 with the zoo's sigma, declared: independent of the other arms) and
TI_v1_g (relative gains). Tasks play the benchmarks' part (task_groups).
Intervals (bootstrap_ti): 95% percentiles from resampling test items (paired: every model gets
the same resampled items of a task); an arm's interval also resamples its training seeds (the
seeds' values drawn with replacement in every resample), so it covers seed variation as well.
one_item_moves says how many points one test item moves each reading of a run: the signed square
root in v2 has an infinite slope at zero, so near no change one item moves TI_v2 a lot.
Left out: the index itself (ti.py), the paper's zoo (zoo.py), scoring (evaluate.py), figures (plots.py).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from .schema import ARMS, GROUPS
from .ti import pooled_sigma, transferability_index, variants, with_interval

BASE = "base"  # the shared base's model name and method in notebook 04's records
Measure = Callable[[pd.DataFrame, pd.DataFrame, dict], pd.DataFrame]  # (scores, pairs, groups) -> per model


def _v2(scores: pd.DataFrame, pairs: pd.DataFrame, groups: dict) -> pd.DataFrame:
    return transferability_index(scores, pairs, groups, "v2")


def _label_means(frame: pd.DataFrame, members: dict[str, list[str]], rng: np.random.Generator | None) -> pd.DataFrame:
    """Per label: the mean of its models' rows; with rng, of its models drawn with replacement."""
    rows = {label: frame.loc[models if rng is None else list(rng.choice(models, len(models)))].mean()
            for label, models in members.items()}
    return pd.DataFrame(rows).T


def bootstrap_ti(records: pd.DataFrame, pairs: pd.DataFrame, groups: dict[str, list[str]],
                 labels: dict[str, str] | None = None, n_resamples: int = 1000, confidence: float = 0.95,
                 seed: int = 0, measure: Measure = _v2, resample_labels: bool = True) -> pd.DataFrame:
    """A measure (default TI v2, pooled sigma) with percentile intervals from resampling test items.

    records: columns model, task, id, score (0-1), one row per model and item; groups name tasks.
    labels (model -> label, e.g. its arm) averages the values of the models sharing a label; with
    resample_labels those models (its seeds) are also drawn with replacement in every resample.
    Returns, per model (or label): every TI_ and change_ column of the measure with _low and
    _high, and undefined_share: the share of resamples in which the first TI was undefined (math
    term not > 0; for a label, for all of its models)."""
    tasks = [t for ts in groups.values() for t in ts]
    models = sorted(set(pairs["model"]) | set(pairs["base"]))
    arrays = {}
    for task in tasks:
        wide = records[records["task"] == task].pivot(index="id", columns="model", values="score")
        missing = [m for m in models if m not in wide.columns]
        if missing or wide[models].isna().any().any():
            raise ValueError(f"records: task {task!r} lacks items for model {(missing or models)[0]!r}; "
                             "every model must be scored on the same items")
        arrays[task] = wide[models].to_numpy(float)
    members = {}
    for model, label in (labels or {}).items():
        members.setdefault(label, []).append(model)
    rng = np.random.default_rng(seed)
    key = (lambda frame, r: _label_means(frame, members, r)) if labels else (lambda frame, r: frame)
    point = key(measure(_scores(arrays, models), pairs, groups), None)
    draws = []
    for _ in range(n_resamples):
        picks = {t: a[rng.integers(0, len(a), len(a))] for t, a in arrays.items()}
        draws.append(key(measure(_scores(picks, models), pairs, groups), rng if resample_labels else None))
    stacked = pd.concat(draws)
    out = pd.DataFrame(index=point.index)
    alpha = (1 - confidence) / 2
    for column in [c for c in point.columns if c.startswith(("TI_", "change_"))]:
        by = stacked[column].astype(float).groupby(level=0)
        out[column] = point[column]
        out[column + "_low"] = by.quantile(alpha)
        out[column + "_high"] = by.quantile(1 - alpha)
    out["undefined_share"] = stacked.filter(like="TI_").iloc[:, 0].isna().groupby(level=0).mean()
    return out


def _scores(arrays: dict[str, np.ndarray], models: list[str]) -> pd.DataFrame:
    """Per-task accuracy in percent (models x tasks) from item-score arrays (items x models)."""
    return pd.DataFrame({t: 100 * a.mean(axis=0) for t, a in arrays.items()}, index=models)


# --- our runs, from notebook 04's per-item records (columns model, method, seed, task, group, id, score)


def task_groups(records: pd.DataFrame) -> dict[str, list[str]]:
    """Group -> its tasks, in the records' order: tasks play the benchmarks' part."""
    return {g: list(dict.fromkeys(records["task"][records["group"] == g])) for g in GROUPS}


def arm_runs(records: pd.DataFrame) -> pd.DataFrame:
    """The trained runs in the records (method one of schema.ARMS): model, method, seed."""
    trained = records[records["method"].isin(list(ARMS))]
    return trained.drop_duplicates("model")[["model", "method", "seed"]]


def percent_scores(records: pd.DataFrame) -> pd.DataFrame:
    """Per model (rows) and task (columns): the mean item score in percent."""
    return records.pivot_table(index="model", columns="task", values="score", aggfunc="mean") * 100


def run_ti(records: pd.DataFrame) -> pd.DataFrame:
    """TI v2 of every trained run against the base, sigma pooled over all runs; with method, seed."""
    runs = arm_runs(records)
    pairs = runs.assign(base=BASE)[["model", "base"]]
    return transferability_index(percent_scores(records), pairs, task_groups(records)).join(runs.set_index("model"))


def bootstrap_runs(records: pd.DataFrame, n_resamples: int, seed: int,
                   fixed_sigma: dict[str, float]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per run and arm, per arm): the readings of ti.variants (fixed_sigma: group -> sigma, e.g.
    zoo.zoo_sigma) with 95% intervals; per run over items, per arm (the mean of its seeds) over
    items and seeds. The first is the tidy table of transfer.csv: the runs (model, method, seed),
    then each arm as model "mean of seeds"."""
    runs = arm_runs(records)
    pairs, groups = runs.assign(base=BASE)[["model", "base"]], task_groups(records)
    measure = lambda scores, p, g: variants(scores, p, g, fixed_sigma)  # noqa: E731
    per_run = bootstrap_ti(records, pairs, groups, n_resamples=n_resamples, seed=seed, measure=measure)
    per_arm = bootstrap_ti(records, pairs, groups, labels=dict(zip(runs["model"], runs["method"])),
                           n_resamples=n_resamples, seed=seed, measure=measure)
    table = pd.concat([per_run.join(runs.set_index("model")).rename_axis("model").reset_index(),
                       per_arm.rename_axis("method").reset_index().assign(model="mean of seeds", seed=pd.NA)])
    return table, per_arm


def one_item_moves(records: pd.DataFrame, fixed_sigma: dict[str, float]) -> pd.DataFrame:
    """Per arm and group (other, non): by how many points one test item (one more or one fewer
    right on a task of the group, whichever is possible, the largest over the group's tasks)
    moves one run's reading, averaged over the arm's runs. Sigma is held at its value (pooled or
    fixed), so this is the index's own sensitivity. Columns: arm, group, change, TI, TI_fixed, TI_v1."""
    runs, groups, scores = arm_runs(records), task_groups(records), percent_scores(records)
    pairs = runs.assign(base=BASE)[["model", "base"]]
    pooled = pooled_sigma(scores, pairs, groups)
    items = records.groupby(["model", "task"]).size()

    def readings(table: pd.DataFrame, model: str) -> dict[str, float]:
        one = pairs[pairs["model"] == model]
        v2 = transferability_index(table, one, groups, "v2", sigma=pooled).loc[model]
        fixed = transferability_index(table, one, groups, "v2", sigma=fixed_sigma).loc[model]
        v1 = transferability_index(table, one, groups, "v1").loc[model]
        return {g: dict(change=table.loc[model, groups[g]].mean() - table.loc[BASE, groups[g]].mean(),
                        TI=v2[f"TI_{g}"], TI_fixed=fixed[f"TI_{g}"], TI_v1=v1[f"TI_{g}"]) for g in ("other", "non")}

    rows = []
    for model, arm in zip(runs["model"], runs["method"]):
        now = readings(scores, model)
        for g in ("other", "non"):
            moves = []
            for task in groups[g]:
                step = 100 / items[(model, task)]
                for sign in (1, -1):
                    if 0 <= scores.loc[model, task] + sign * step <= 100:
                        moved = scores.copy()
                        moved.loc[model, task] += sign * step
                        after = readings(moved, model)[g]
                        moves.append({k: abs(after[k] - now[g][k]) for k in after})
            rows.append(dict(arm=arm, group=g, **pd.DataFrame(moves).max().to_dict()))
    return pd.DataFrame(rows).groupby(["arm", "group"], sort=False).mean().reset_index()


def arm_order(per_arm: pd.DataFrame) -> list[str]:
    """The arms of a per-arm table, in schema.ARMS order."""
    return [arm for arm in ARMS if arm in per_arm.index]


READINGS = {"change": "change (points)", "TI": "TI v2 (pooled sigma)", "TI_fixed": "TI v2 (zoo sigma)",
            "TI_v1": "TI v1"}


def direction(row: pd.Series, column: str) -> str:
    """"above 0", "below 0" or "no direction (the interval spans 0)" for a column with _low/_high,
    "undefined" when it is."""
    value, low, high = row[column], row[column + "_low"], row[column + "_high"]
    if pd.isna(value):
        return "undefined"
    return "above 0" if low > 0 else "below 0" if high < 0 else "no direction (the interval spans 0)"


def direction_sentences(per_arm: pd.DataFrame) -> list[str]:
    """Per arm and group: every reading with its interval and the direction the interval supports."""
    lines = []
    for arm in arm_order(per_arm):
        row = per_arm.loc[arm]
        for g in ("other", "non"):
            parts = [f"{label} {with_interval(row, f'{name}_{g}')}: {direction(row, f'{name}_{g}')}"
                     for name, label in READINGS.items()]
            lines.append(f"{arm}, {g}: " + "; ".join(parts))
    return lines


def grpo_sentences(per_arm: pd.DataFrame, rl: str = "grpo") -> list[str]:
    """For every other arm and group: whether the RL arm's TI exceeds it, and whether their
    intervals overlap (none without an RL arm)."""
    if rl not in per_arm.index:
        return []
    lines, r = [], per_arm.loc[rl]
    for arm in [a for a in arm_order(per_arm) if a != rl]:
        a = per_arm.loc[arm]
        for g in ("other", "non"):
            verdict = ("cannot be compared with (TI undefined: no math gain)" if pd.isna(r[f"TI_{g}"]) or pd.isna(a[f"TI_{g}"]) else
                       "exceeds, with non-overlapping intervals" if a[f"TI_{g}_high"] < r[f"TI_{g}_low"] else
                       "exceeds, but the intervals overlap" if r[f"TI_{g}"] > a[f"TI_{g}"] else
                       "does NOT exceed")
            lines.append(f"TI_{g}: {rl} {with_interval(r, f'TI_{g}')} {verdict} {arm} {with_interval(a, f'TI_{g}')}")
    return lines


def live_zoo_ti(records: pd.DataFrame, zoo: list[dict]) -> pd.DataFrame:
    """TI of the released pairs of evaluation.zoo ({name, base}) that notebook 04 scored (both
    models in the records), sigma pooled over these pairs; no rows when there are none."""
    live = pd.DataFrame(zoo, columns=["name", "base"]).rename(columns={"name": "model"})
    live = live[live["model"].isin(records["model"]) & live["base"].isin(records["model"])]
    if not len(live):
        return pd.DataFrame(columns=["TI_other", "TI_non"]).rename_axis("model")
    return transferability_index(percent_scores(records), live, task_groups(records))


def metrics(per_arm: pd.DataFrame) -> dict:
    """reports/metrics/transfer.json: each arm's readings, intervals and undefined share (2
    decimals; None where undefined)."""
    return {arm: {k: (None if pd.isna(v) else round(float(v), 2)) for k, v in per_arm.loc[arm].items()}
            for arm in arm_order(per_arm)}

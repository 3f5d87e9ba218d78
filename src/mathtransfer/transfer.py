"""The Transferability Index (TI): how much of a model's math gain carries over to other groups.

v2 (the paper's definition; ../shared/paper/README.md), for group g and benchmark b in g, scores
R in percent (0-100):
    dR_b = R_b(tuned) - R_b(base);  delta_b = dR_b / sigma_g
    s_b = sign(delta_b) * sqrt(|delta_b|);  w_b = (100 - R_b(base)), normalised to sum 1 within g
    DI_g = sum_b w_b s_b;  TI_g = 100 * DI_g / DI_math   for g in {other, non}
sigma_g is the standard deviation of dR pooled over ALL pairs given and g's benchmarks (the
reading that reproduces the published values), so a model's TI depends on the set it is
compared within: pass the comparison set you mean. With no spread at all (every change in the
group equal) the scaling is undefined and so is TI, unless nothing changed.
v1 (simpler): dR_g = mean_b (R_tuned - R_base) / R_base;  TI_g = 100 * dR_g / dR_math; a benchmark
whose base score is 0 has no relative gain and is left out of its group's mean.
TI > 0: positive transfer, TI < 0: forgetting. TI is undefined (NaN) unless the math term is > 0:
a model that lost on math has no gain to transfer (a ratio of two losses would read as transfer).
Left out: confidence intervals (the notebooks bootstrap over test items and seeds).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

VERSIONS = ("v1", "v2")


def _check(scores: pd.DataFrame, pairs: pd.DataFrame, groups: dict) -> None:
    for column in ("model", "base"):
        if column not in pairs:
            raise ValueError(f"pairs: needs columns model and base, got {list(pairs.columns)}")
        missing = sorted(set(pairs[column]) - set(scores.index))
        if missing:
            raise ValueError(f"scores: no row for {column} {missing[0]!r}; rows are the models scored")
    if "math" not in groups:
        raise ValueError(f"groups: needs a 'math' group (TI is relative to it), got {sorted(groups)}")
    for name, benchmarks in groups.items():
        absent = [b for b in benchmarks if b not in scores.columns]
        if not benchmarks or absent:
            raise ValueError(f"groups[{name!r}]: benchmark {absent[0] if absent else None!r} is not a column of scores")
    values = scores[[b for bs in groups.values() for b in bs]]
    if values.isna().any().any() or not values.apply(lambda c: c.between(0, 100)).all().all():
        raise ValueError("scores: expected accuracies in percent, 0 to 100, without gaps")


def _v2_terms(tuned: pd.DataFrame, base: pd.DataFrame, benchmarks: list[str]) -> np.ndarray:
    d = (tuned[benchmarks].to_numpy(float) - base[benchmarks].to_numpy(float))
    sigma = d.std()  # pooled over every pair and benchmark of the group (population std)
    # no spread: unchanged scores are 0, equal non-zero changes cannot be scaled (undefined)
    delta = d / sigma if sigma > 0 else np.where(d == 0, 0.0, np.nan)
    w = 100.0 - base[benchmarks].to_numpy(float)
    w_sum = w.sum(axis=1, keepdims=True)
    w = np.divide(w, w_sum, out=np.full_like(w, 1.0 / w.shape[1]), where=w_sum > 0)
    return (w * np.sign(delta) * np.sqrt(np.abs(delta))).sum(axis=1)


def _v1_terms(tuned: pd.DataFrame, base: pd.DataFrame, benchmarks: list[str]) -> np.ndarray:
    b = base[benchmarks].to_numpy(float)
    rel = np.divide(tuned[benchmarks].to_numpy(float) - b, b, out=np.full_like(b, np.nan), where=b > 0)
    with np.errstate(all="ignore"):
        return np.nanmean(rel, axis=1)


def transferability_index(scores: pd.DataFrame, pairs: pd.DataFrame, groups: dict[str, list[str]],
                          version: str = "v2") -> pd.DataFrame:
    """TI_other and TI_non (and the per-group terms) for every (model, base) pair.

    scores: indexed by model, one column per benchmark (0-100). pairs: columns model and base.
    groups: group name (math, other, non) -> benchmark columns. Returns a DataFrame indexed by
    model with TI_<group> for every group but math, and DI_<group> (v2) or dR_<group> (v1)."""
    if version not in VERSIONS:
        raise ValueError(f"version: expected one of {', '.join(VERSIONS)}, got {version!r}")
    _check(scores, pairs, groups)
    tuned, base = scores.loc[pairs["model"]], scores.loc[pairs["base"]]
    terms = _v2_terms if version == "v2" else _v1_terms
    name = "DI" if version == "v2" else "dR"
    out = pd.DataFrame(index=pd.Index(pairs["model"], name="model"))
    for group, benchmarks in groups.items():
        out[f"{name}_{group}"] = terms(tuned, base, list(benchmarks))
    math = out[f"{name}_math"].where(out[f"{name}_math"] > 0)  # no math gain: TI undefined
    for group in groups:
        if group != "math":
            out[f"TI_{group}"] = 100 * out[f"{name}_{group}"] / math
    ti = [c for c in out.columns if c.startswith("TI_")]
    return out[ti + [c for c in out.columns if c not in ti]]


def bootstrap_ti(records: pd.DataFrame, pairs: pd.DataFrame, groups: dict[str, list[str]],
                 labels: dict[str, str] | None = None, n_resamples: int = 1000, confidence: float = 0.95,
                 seed: int = 0, version: str = "v2") -> pd.DataFrame:
    """TI with percentile intervals from resampling test items (paired: every model gets the
    same resampled items of a task). records: columns model, task, id, score (0-1), one row per
    model and item; groups name tasks. labels (model -> label, e.g. its arm) averages the TIs of
    the models sharing a label within each resample, which gives a seed-averaged arm interval.
    Returns, per model (or label): TI_<g>, TI_<g>_low, TI_<g>_high for g in groups but math, and
    undefined_share: the share of resamples in which TI was undefined (math term not > 0; for a
    label, for all of its models)."""
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
    rng = np.random.default_rng(seed)
    key = (lambda ti: ti.groupby(labels).mean()) if labels else (lambda ti: ti)
    point = key(transferability_index(_scores(arrays, models), pairs, groups, version))
    draws = []
    for _ in range(n_resamples):
        picks = {t: a[rng.integers(0, len(a), len(a))] for t, a in arrays.items()}
        draws.append(key(transferability_index(_scores(picks, models), pairs, groups, version)))
    stacked = pd.concat(draws)
    out = pd.DataFrame(index=point.index)
    alpha = (1 - confidence) / 2
    for column in [c for c in point.columns if c.startswith("TI_")]:
        by = stacked[column].groupby(level=0)
        out[column] = point[column]
        out[column + "_low"] = by.quantile(alpha)
        out[column + "_high"] = by.quantile(1 - alpha)
    out["undefined_share"] = stacked.filter(like="TI_").iloc[:, 0].isna().groupby(level=0).mean()
    return out


def _scores(arrays: dict[str, np.ndarray], models: list[str]) -> pd.DataFrame:
    """Per-task accuracy in percent (models x tasks) from item-score arrays (items x models)."""
    return pd.DataFrame({t: 100 * a.mean(axis=0) for t, a in arrays.items()}, index=models)

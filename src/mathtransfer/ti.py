"""The Transferability Index (TI): how much of a model's math gain carries over to other groups.

v2 (the paper's definition; ../shared/paper/README.md), for group g and benchmark b in g, scores
R in percent (0-100):
    dR_b = R_b(tuned) - R_b(base);  delta_b = dR_b / sigma_g
    s_b = sign(delta_b) * sqrt(|delta_b|);  w_b = (100 - R_b(base)), normalised to sum 1 within g
    DI_g = sum_b w_b s_b;  TI_g = 100 * DI_g / DI_math   for g in {other, non}
sigma_g is, by default, the standard deviation of dR pooled over ALL pairs given and g's
benchmarks (the reading that reproduces the published values), so a model's TI depends on the
set it is compared within. A fixed sigma per group (e.g. the paper zoo's, pooled_sigma of its
pairs) removes that dependence. With no spread at all (every change in the group equal) the
scaling is undefined and so is TI, unless nothing changed. The signed square root has an
infinite slope at zero: near no change, one item moves TI_v2 a lot (transfer.one_item_moves).
v1 (simpler): dR_g = mean_b (R_tuned - R_base) / R_base;  TI_g = 100 * dR_g / dR_math; a benchmark
whose base score is 0 has no relative gain and is left out of its group's mean.
TI > 0: positive transfer, TI < 0: forgetting. TI is undefined (NaN) unless the math term is > 0:
a model that lost on math has no gain to transfer (a ratio of two losses would read as transfer).
`variants` sets the raw change in points beside v1, v2 pooled and v2 with a fixed sigma.
Also here: `with_interval`, how the analyses write a change or TI with its interval ("+1.5 [+0.0, +2.9]").
Left out: computing intervals and our runs (transfer.py), the paper's zoo (zoo.py), scoring (evaluate.py).
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
    values = scores[[b for bs in groups.values() for b in bs]].to_numpy(float)
    if np.isnan(values).any() or (values < 0).any() or (values > 100).any():
        raise ValueError("scores: expected accuracies in percent, 0 to 100, without gaps")


def _changes(scores: pd.DataFrame, pairs: pd.DataFrame, benchmarks: list[str]) -> np.ndarray:
    """dR (pairs x benchmarks), in points."""
    return scores.loc[pairs["model"], benchmarks].to_numpy(float) - scores.loc[pairs["base"], benchmarks].to_numpy(float)


def pooled_sigma(scores: pd.DataFrame, pairs: pd.DataFrame, groups: dict[str, list[str]]) -> dict[str, float]:
    """Per group: the population std of dR pooled over every pair and benchmark of the group."""
    _check(scores, pairs, groups)
    return {g: float(_changes(scores, pairs, list(bs)).std()) for g, bs in groups.items()}


def _v2_terms(tuned: pd.DataFrame, base: pd.DataFrame, benchmarks: list[str], sigma: float | None) -> np.ndarray:
    d = (tuned[benchmarks].to_numpy(float) - base[benchmarks].to_numpy(float))
    sigma = d.std() if sigma is None else sigma  # pooled over every pair and benchmark of the group
    # no spread: unchanged scores are 0, equal non-zero changes cannot be scaled (undefined)
    delta = d / sigma if sigma > 0 else np.where(d == 0, 0.0, np.nan)
    w = 100.0 - base[benchmarks].to_numpy(float)
    w_sum = w.sum(axis=1, keepdims=True)
    w = np.divide(w, w_sum, out=np.full_like(w, 1.0 / w.shape[1]), where=w_sum > 0)
    return (w * np.sign(delta) * np.sqrt(np.abs(delta))).sum(axis=1)


def _v1_terms(tuned: pd.DataFrame, base: pd.DataFrame, benchmarks: list[str], sigma=None) -> np.ndarray:
    b = base[benchmarks].to_numpy(float)
    rel = np.divide(tuned[benchmarks].to_numpy(float) - b, b, out=np.full_like(b, np.nan), where=b > 0)
    with np.errstate(all="ignore"):
        return np.nanmean(rel, axis=1)


def transferability_index(scores: pd.DataFrame, pairs: pd.DataFrame, groups: dict[str, list[str]],
                          version: str = "v2", sigma: dict[str, float] | None = None) -> pd.DataFrame:
    """TI_other and TI_non (and the per-group terms) for every (model, base) pair.

    scores: indexed by model, one column per benchmark (0-100). pairs: columns model and base.
    groups: group name (math, other, non) -> benchmark columns. sigma (v2 only): group -> a fixed
    sigma instead of the one pooled over the pairs given. Returns a DataFrame indexed by model
    with TI_<group> for every group but math, and DI_<group> (v2) or dR_<group> (v1)."""
    if version not in VERSIONS:
        raise ValueError(f"version: expected one of {', '.join(VERSIONS)}, got {version!r}")
    _check(scores, pairs, groups)
    if sigma is not None and (set(sigma) != set(groups) or version != "v2"):
        raise ValueError(f"sigma: expected a value for each group {sorted(groups)} (v2 only), got {sorted(sigma)}")
    tuned, base = scores.loc[pairs["model"]], scores.loc[pairs["base"]]
    terms = _v2_terms if version == "v2" else _v1_terms
    name = "DI" if version == "v2" else "dR"
    out = pd.DataFrame(index=pd.Index(pairs["model"], name="model"))
    for group, benchmarks in groups.items():
        out[f"{name}_{group}"] = terms(tuned, base, list(benchmarks), None if sigma is None else sigma[group])
    math = out[f"{name}_math"].where(out[f"{name}_math"] > 0)  # no math gain: TI undefined
    for group in groups:
        if group != "math":
            out[f"TI_{group}"] = 100 * out[f"{name}_{group}"] / math
    ti = [c for c in out.columns if c.startswith("TI_")]
    return out[ti + [c for c in out.columns if c not in ti]]


def variants(scores: pd.DataFrame, pairs: pd.DataFrame, groups: dict[str, list[str]],
             fixed_sigma: dict[str, float]) -> pd.DataFrame:
    """Per model: change_<g> (the mean change over g's benchmarks, in points, every group),
    TI_<g> (v2, sigma pooled over the pairs given), TI_fixed_<g> (v2, fixed_sigma) and TI_v1_<g>."""
    others = [g for g in groups if g != "math"]
    out = pd.DataFrame(index=pd.Index(pairs["model"], name="model"))
    for g, benchmarks in groups.items():
        out[f"change_{g}"] = _changes(scores, pairs, list(benchmarks)).mean(axis=1)
    pooled = transferability_index(scores, pairs, groups, "v2")
    fixed = transferability_index(scores, pairs, groups, "v2", sigma=fixed_sigma)
    v1 = transferability_index(scores, pairs, groups, "v1")
    for name, table in (("TI", pooled), ("TI_fixed", fixed), ("TI_v1", v1)):
        for g in others:
            out[f"{name}_{g}"] = table[f"TI_{g}"]
    return out


def with_interval(row: pd.Series, column: str) -> str:
    """row[column] with its interval (columns <column>_low and _high), one decimal: "+1.5 [+0.0, +2.9]";
    "undefined" when the value is missing (transfer.py's and forgetting.py's sentences)."""
    value, low, high = row[column], row[column + "_low"], row[column + "_high"]
    return "undefined" if pd.isna(value) else f"{value:+.1f} [{low:+.1f}, {high:+.1f}]"

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
Besides the index itself (transferability_index, bootstrap_ti), the tables notebook 05 shows and
writes: the paper's zoo (data/paper/), our arms from notebook 04's per-item records (per run and
per arm, with intervals), the released models of evaluation.zoo scored here, and the headline
metrics; and the sentences that state its conclusions from those numbers.
Left out: scoring models (evaluate.py writes the records read here), figures (plots.py).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .schema import ARMS, GROUPS

VERSIONS = ("v1", "v2")
BASE = "base"  # the shared base's model name and method in notebook 04's records
# the paper's Table 1 columns (data/paper/zoo_scores.tsv) by group
ZOO_GROUPS = {"math": ["AIME24", "AIME25", "MATH500", "Olympiad"],
              "other": ["GPQA", "LiveCodeBench2", "ACPBench", "HeadQA"],
              "non": ["CoQA", "MC-TACO", "IFEval", "HaluEval"]}


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


# --- the paper's model zoo (section 2.1): scores copied from the paper into data/paper/


def read_zoo(folder: str = "data/paper") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scores indexed by model, one column per benchmark in percent; pairs: model, base, method)."""
    scores = pd.read_csv(f"{folder}/zoo_scores.tsv", sep="\t", index_col="Model")
    return scores, pd.read_csv(f"{folder}/zoo_pairs.tsv", sep="\t")


def zoo_table(scores: pd.DataFrame, pairs: pd.DataFrame, groups: dict[str, list[str]] = ZOO_GROUPS) -> pd.DataFrame:
    """TI v2 (and its DI terms) of every zoo pair, sigma pooled over all pairs, with v1's TIs
    (suffix _v1), the base and the method (RL or SFT) beside it."""
    v2 = transferability_index(scores, pairs, groups, "v2")
    v1 = transferability_index(scores, pairs, groups, "v1")
    ti_v1 = [f"TI_{g}" for g in groups if g != "math"]
    return v2.join(v1[ti_v1].add_suffix("_v1")).join(pairs.set_index("model")[["base", "method"]])


def zoo_by_method(zoo: pd.DataFrame) -> pd.DataFrame:
    """Per method: the median TI_other and TI_non, how many pairs have each above 0, and the pairs."""
    ti = zoo[["TI_other", "TI_non"]]
    positive = (ti > 0).groupby(zoo["method"]).sum().add_suffix(" > 0")
    return (ti.groupby(zoo["method"]).median().add_suffix(" median").join(positive)
              .join(zoo["method"].value_counts().rename("pairs")))


def zoo_sentences(zoo: pd.DataFrame) -> list[str]:
    """Per group: the median TI of the RL and of the SFT pairs, and how many of each are positive."""
    rl, sft = zoo[zoo["method"] == "RL"], zoo[zoo["method"] == "SFT"]
    return [f"TI_{g}: median RL {rl[f'TI_{g}'].median():+.1f} ({(rl[f'TI_{g}'] > 0).sum()} of {len(rl)} positive), "
            f"median SFT {sft[f'TI_{g}'].median():+.1f} ({(sft[f'TI_{g}'] > 0).sum()} of {len(sft)} positive)"
            for g in ("other", "non")]


REPRODUCED = 1.1  # TI points: a recomputed zoo TI this close to the published one counts as reproduced


def read_reported(folder: str = "data/paper") -> pd.DataFrame:
    """The TI values the paper publishes for its zoo (ti_reported.tsv: model, base, method, TI_other,
    TI_non), indexed by model."""
    return pd.read_csv(f"{folder}/ti_reported.tsv", sep="\t", index_col="model")


def reported_vs_recomputed(zoo: pd.DataFrame, reported: pd.DataFrame, tolerance: float = REPRODUCED) -> pd.DataFrame:
    """Per zoo pair and group: the published TI, ours recomputed from the published per-benchmark
    scores (zoo_table), their difference and whether it is within `tolerance`."""
    rows = []
    for model in zoo.index:
        for group in ("other", "non"):
            published, ours = reported.loc[model, f"TI_{group}"], zoo.loc[model, f"TI_{group}"]
            rows.append(dict(model=model, method=zoo.loc[model, "method"], group=group, reported=published,
                             recomputed=ours, difference=ours - published,
                             reproduced=bool(abs(ours - published) <= tolerance)))
    return pd.DataFrame(rows)


def reproduction_sentence(table: pd.DataFrame, tolerance: float = REPRODUCED) -> str:
    """How many published TI values reproduce, and which do not (with both values)."""
    missed = table[~table["reproduced"]]
    listed = "; ".join(f"{r.model} TI_{r.group} {r.reported:+.1f} published vs {r.recomputed:+.1f} recomputed"
                       for r in missed.itertuples())
    return (f"{int(table['reproduced'].sum())} of {len(table)} published TI values reproduce within {tolerance} "
            f"points" + (f"; not: {listed}" if listed else ""))


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


def bootstrap_runs(records: pd.DataFrame, n_resamples: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per run and arm, per arm): TI with 95% intervals from resampling test items (bootstrap_ti),
    per run and per arm (the mean of its seeds' TIs in each resample). The first is the tidy
    table of transfer.csv: the runs (model, method, seed), then each arm as model "mean of seeds"."""
    runs = arm_runs(records)
    pairs, groups = runs.assign(base=BASE)[["model", "base"]], task_groups(records)
    per_run = bootstrap_ti(records, pairs, groups, n_resamples=n_resamples, seed=seed)
    per_arm = bootstrap_ti(records, pairs, groups, labels=dict(zip(runs["model"], runs["method"])),
                           n_resamples=n_resamples, seed=seed)
    table = pd.concat([per_run.join(runs.set_index("model")).rename_axis("model").reset_index(),
                       per_arm.rename_axis("method").reset_index().assign(model="mean of seeds", seed=pd.NA)])
    return table, per_arm


def arm_order(per_arm: pd.DataFrame) -> list[str]:
    """The arms of a per-arm table, in schema.ARMS order."""
    return [arm for arm in ARMS if arm in per_arm.index]


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
            lines.append(f"TI_{g}: {rl} {_with_interval(r, g)} {verdict} {arm} {_with_interval(a, g)}")
    return lines


def _with_interval(row: pd.Series, group: str) -> str:
    ti, low, high = row[f"TI_{group}"], row[f"TI_{group}_low"], row[f"TI_{group}_high"]
    return "undefined" if pd.isna(ti) else f"{ti:+.1f} [{low:+.1f}, {high:+.1f}]"


def live_zoo_ti(records: pd.DataFrame, zoo: list[dict]) -> pd.DataFrame:
    """TI of the released pairs of evaluation.zoo ({name, base}) that notebook 04 scored (both
    models in the records), sigma pooled over these pairs; no rows when there are none."""
    live = pd.DataFrame(zoo, columns=["name", "base"]).rename(columns={"name": "model"})
    live = live[live["model"].isin(records["model"]) & live["base"].isin(records["model"])]
    if not len(live):
        return pd.DataFrame(columns=["TI_other", "TI_non"]).rename_axis("model")
    return transferability_index(percent_scores(records), live, task_groups(records))


def ti_points(zoo: pd.DataFrame, per_arm: pd.DataFrame) -> pd.DataFrame:
    """The zoo pairs ("zoo RL", "zoo SFT") and our arms ("mini-world <arm>", with intervals) as
    one table of points for plots.ti_scatter."""
    zoo_points = zoo.rename_axis("model").reset_index()[["model", "method", "TI_other", "TI_non"]]
    arm_points = per_arm.rename_axis("model").reset_index()
    return pd.concat([zoo_points.assign(method="zoo " + zoo_points["method"]),
                      arm_points.assign(method="mini-world " + arm_points["model"])])


def metrics(per_arm: pd.DataFrame) -> dict:
    """reports/metrics/transfer.json: each arm's TIs, intervals and undefined share (2 decimals;
    None where undefined)."""
    return {arm: {k: (None if pd.isna(v) else round(float(v), 2)) for k, v in per_arm.loc[arm].items()}
            for arm in arm_order(per_arm)}

"""Training dynamics: the paper's gradient-norm indicators and the matched-gain comparison.

The paper (its Table 7) contrasts the first 100 steps of RL and SFT: RL's gradient norm decays
slowly and smoothly, SFT's fast and oscillating. It names the indicators but not their formulas;
ours, over the first `window` logged steps of one run (all of them if the run is shorter):
- early_slope: least-squares slope of the grad norm over the first 10% of the window (>= 5 steps);
- half_life: first step at which the grad norm is <= half its initial value (the mean of the
  first 3 steps); NaN when it never gets there within the window;
- total: sum of the grad norms over the window;
- late_mean, late_var: mean and variance over the second half of the window;
- decay_rate: minus the least-squares slope of log(grad norm) per step (> 0: decaying);
- oscillation: mean |change between consecutive steps| divided by the mean grad norm.
Matched gain: arms reach different math gains, so comparing end points mixes "how much was
learned" with "what it cost". `gains` puts every checkpoint's change on each group (vs the same
run's step 0, the base) side by side; `at_math_gain` reads each run's other and non-reasoning
change where its math gain first reaches a target, interpolating linearly between checkpoints.
`read_runs`, `final_gains`, `matched_level` and the sentence helpers serve notebook 03.
Left out: the plots (plots.py).
"""
from __future__ import annotations

import glob
import json
import math
import os

import numpy as np
import pandas as pd

INDICATORS = ["early_slope", "half_life", "total", "late_mean", "late_var", "decay_rate", "oscillation"]


# the paper's main comparison, set at equal math gain, KL and tokens (notebook 03); the other arms
# are the ablation's (notebook 08), some of which barely move and would pull every common level down
# to where nothing has happened yet
MAIN_ARMS = ("sft-think", "sft-nothink", "rft", "grpo")


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.polyfit(x, y, 1)[0]) if len(x) >= 2 else float("nan")


def grad_norm_indicators(steps, norms, window: int = 100) -> dict[str, float]:
    """The seven indicators (module docstring) of one run's gradient norms."""
    frame = pd.DataFrame({"step": steps, "g": norms}).dropna().sort_values("step").head(window)
    step, g = frame["step"].to_numpy(float), frame["g"].to_numpy(float)
    if len(g) < 4:
        return {name: float("nan") for name in INDICATORS}
    early = max(5, len(g) // 10)
    initial = g[:3].mean()
    below = np.nonzero(g <= initial / 2)[0]
    late = g[len(g) // 2:]
    positive = g > 0
    return dict(
        early_slope=_slope(step[:early], g[:early]),
        half_life=float(step[below[0]]) if len(below) else float("nan"),
        total=float(g.sum()),
        late_mean=float(late.mean()),
        late_var=float(late.var()),
        decay_rate=-_slope(step[positive], np.log(g[positive])),
        oscillation=float(np.abs(np.diff(g)).mean() / g.mean()),
    )


def indicator_table(curves: pd.DataFrame, window: int = 100) -> pd.DataFrame:
    """Indicators per run: curves has columns arm, seed, step, grad_norm."""
    rows = [dict(arm=arm, seed=seed, **grad_norm_indicators(run["step"], run["grad_norm"], window))
            for (arm, seed), run in curves.groupby(["arm", "seed"], sort=False)]
    return pd.DataFrame(rows)


def gains(checkpoints: pd.DataFrame) -> pd.DataFrame:
    """Per run and checkpoint, each group's mean task accuracy minus the run's step 0.
    checkpoints has columns arm, seed, step, task, group, accuracy; returns arm, seed, step,
    math, other, non (changes, in accuracy points of 0-1)."""
    groups = (checkpoints.groupby(["arm", "seed", "step", "group"])["accuracy"].mean()
              .unstack("group").reset_index())
    start = groups[groups["step"] == 0].set_index(["arm", "seed"])
    out = groups.set_index(["arm", "seed"])
    cols = [c for c in ("math", "other", "non") if c in out]
    out[cols] = out[cols] - start[cols].reindex(out.index).to_numpy()
    return out.reset_index()[["arm", "seed", "step"] + cols]


def at_math_gain(run_gains: pd.DataFrame, target: float) -> pd.DataFrame:
    """Per run: the step (fractional) and the other / non-reasoning change where the math gain
    first reaches `target` (linear between checkpoints); NaN for a run that never reaches it."""
    return at_level(run_gains, "math", target)


def at_level(runs: pd.DataFrame, column: str, target: float) -> pd.DataFrame:
    """Per run (arm, seed): every other numeric column, read where `column` first reaches `target`
    along the run's checkpoints (linear between the two checkpoints around it); NaN for a run that
    never reaches it. first_segment: the level lies between step 0 and the first checkpoint, so the
    reading is an interpolation from the base, not a measurement."""
    values = [c for c in ("step", "kl", "tokens", "math", "other", "non") if c in runs and c != column]
    rows = []
    for (arm, seed), run in runs.groupby(["arm", "seed"], sort=False):
        run = run.sort_values("step")
        row = dict(arm=arm, seed=seed, **{column: target}, **{c: np.nan for c in values}, first_segment=False)
        m = run[column].to_numpy()
        hit = np.nonzero(m >= target)[0]
        if len(hit):
            i = hit[0]
            t = 0.0 if i == 0 or m[i] == m[i - 1] else (target - m[i - 1]) / (m[i] - m[i - 1])
            prev, cur = run.iloc[max(i - 1, 0)], run.iloc[i]
            for key in values:
                row[key] = float(prev[key] + t * (cur[key] - prev[key])) if i else float(cur[key])
            row["first_segment"] = bool(i == 1 and t < 1)
        rows.append(row)
    return pd.DataFrame(rows)


# arms.score_checkpoints' distances from the base -> their columns here
DISTANCES = {"kl_math": "kl", "kl_math_tokens": "kl_tokens", "param_distance": "param_distance"}


def distance_path(checkpoints: pd.DataFrame) -> pd.DataFrame:
    """gains() with each checkpoint's distances from the base that the checkpoints carry (DISTANCES:
    kl, the forward KL on math; kl_tokens, the paper's token estimate; param_distance): columns
    arm, seed, step, the distances, math, other, non."""
    present = [c for c in DISTANCES if c in checkpoints]
    distances = checkpoints.groupby(["arm", "seed", "step"])[present].first().rename(columns=DISTANCES).reset_index()
    return distances.merge(gains(checkpoints), on=["arm", "seed", "step"])


def token_path(curves: pd.DataFrame, checkpoints: pd.DataFrame) -> pd.DataFrame:
    """gains() with the training tokens each checkpoint had seen (column tokens: TRL's cumulative
    num_tokens, prompt + response, padding excluded, read at the last logged step at or before the
    checkpoint; 0 at step 0). GRPO counts a rollout batch when it is generated, so a checkpoint
    inside a batch's steps_per_generation steps counts the whole batch; rft counts the tokens it
    trains on, not those it sampled to build its data. Columns arm, seed, step, tokens, math, other, non."""
    logged = curves.dropna(subset=["tokens"])[["arm", "seed", "step", "tokens"]].sort_values("step")
    path = pd.merge_asof(gains(checkpoints).sort_values("step"), logged, on="step", by=["arm", "seed"])
    path["tokens"] = path["tokens"].where(path["step"] > 0, 0.0).fillna(0.0)
    columns = ["arm", "seed", "step", "tokens", "math", "other", "non"]
    return path[columns].sort_values(["arm", "seed", "step"], kind="stable").reset_index(drop=True)


def reached_level(runs: pd.DataFrame, column: str) -> float:
    """The largest level of `column` that every run reaches (the smallest of the runs' largest),
    rounded down to 3 significant digits: where all runs can be read at equal footing."""
    reached = float(runs.groupby(["arm", "seed"])[column].max().min())
    if not reached > 0:
        return 0.0
    digits = 2 - math.floor(math.log10(reached))
    return round(math.floor(reached * 10 ** digits) / 10 ** digits, digits)


def matched_kl(run_kl: pd.DataFrame) -> float:
    """The matched-KL level: the largest forward KL that every run reaches (reached_level)."""
    return reached_level(run_kl, "kl")


def read_runs(folder: str, seeds: list[int]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(curves, checkpoint scores, run facts) of every run in folder (the training stages'
    <run>_curve.csv, <run>_checkpoints.csv, <run>_run.json), for the seeds asked only (files of
    seeds dropped from params stay on disk until removed)."""
    def read(pattern, reader):
        files = sorted(glob.glob(os.path.join(folder, pattern)))
        if not files:
            raise FileNotFoundError(f"{folder}: no {pattern} files; run the training stages first (dvc repro)")
        return reader(files)

    curves = read("*_curve.csv", lambda fs: pd.concat([pd.read_csv(f) for f in fs]))
    scores = read("*_checkpoints.csv", lambda fs: pd.concat([pd.read_csv(f) for f in fs]))
    facts = read("*_run.json", lambda fs: pd.DataFrame([json.load(open(f)) for f in fs]))
    return tuple(t[t.seed.isin(seeds)].reset_index(drop=True) for t in (curves, scores, facts))


def final_gains(run_gains: pd.DataFrame, arm_order: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(final, spread): each run's change per group at its last step, and per arm the mean, std,
    min and max of those over seeds."""
    final = run_gains.loc[run_gains.groupby(["arm", "seed"]).step.idxmax()].reset_index(drop=True)
    spread = final.groupby("arm")[["math", "other", "non"]].agg(["mean", "std", "min", "max"]).reindex(arm_order)
    return final, spread


def aim_verdicts(spread: pd.DataFrame, aim: float) -> list[str]:
    """One sentence per arm: its math gain with seed range, and whether every seed reaches `aim`."""
    return [f"{arm}: math gain {row[('math', 'mean')]:+.3f} (seeds {row[('math', 'min')]:+.3f} to "
            f"{row[('math', 'max')]:+.3f}); {'every seed reaches' if row[('math', 'min')] >= aim else 'NOT every seed reaches'}"
            f" the +{aim:.2f} aim" for arm, row in spread.iterrows()]


def indicator_summary(indicators: pd.DataFrame, arm_order: list[str]) -> pd.DataFrame:
    """Table 7 analogue: the indicators' mean over seeds per arm, plus `halved`, the number of
    seeds whose gradient norm halved within the window."""
    table = indicators.groupby("arm")[INDICATORS].mean().reindex(arm_order)
    table["halved"] = indicators.groupby("arm").half_life.count().reindex(arm_order)
    return table


def versus(table: pd.DataFrame, reference: str, columns: list[str], lower: bool = False) -> list[str]:
    """Sentences comparing each other arm of `table` (index: arm) with the `reference` arm, per
    column: how many arms are higher (or, lower=True, lower) than the reference, and which."""
    others = [a for a in table.index if a != reference]
    if reference not in table.index or not others:
        return []
    sentences = []
    for column in columns:
        ref = table.loc[reference, column]
        # NaN compares False: an arm without a value is never counted
        beyond = [a for a in others if (table.loc[a, column] < ref if lower else table.loc[a, column] > ref)]
        sentences.append(f"{column}: {reference} {ref:+.4f}; {'lower' if lower else 'higher'} in {len(beyond)} of "
                         f"{len(others)} other arms ({', '.join(beyond) or 'none'})")
    return sentences


def matched_level(run_gains: pd.DataFrame, cap: float = 0.10) -> tuple[float, list[tuple[str, int]]]:
    """The matched-gain rule: (level, runs without gain). The level is the largest math gain,
    rounded down to 0.001, that every run with a gain reaches, capped at `cap`; runs whose math
    never rises above the base are left out (and returned). 0 when no run gains."""
    best = run_gains.groupby(["arm", "seed"]).math.max()
    without = [(arm, int(seed)) for arm, seed in best[best <= 0].index]
    reached = float(best[best > 0].min()) if (best > 0).any() else 0.0
    return math.floor(1000 * min(cap, reached)) / 1000, without


def training_metrics(spread: pd.DataFrame) -> dict:
    """reports/metrics/training.json: per arm, each group's final change (mean, std, min, max over seeds)."""
    return {arm: {f"{group}_change_{stat}": None if pd.isna(value) else round(float(value), 4)
                  for (group, stat), value in spread.loc[arm].items()} for arm in spread.index}


def read_sweep(folder: str) -> pd.DataFrame:
    """The learning-rate sweep's checkpoint scores (mathtransfer.sweep: <folder>/<arm>.csv, columns
    arm, lr, seed, step, task, group, accuracy, n); empty when no sweep has been run."""
    files = sorted(glob.glob(os.path.join(folder, "*.csv")))
    if not files:
        return pd.DataFrame(columns=["arm", "lr", "seed", "step", "task", "group", "accuracy", "n"])
    return pd.concat([pd.read_csv(f) for f in files], ignore_index=True)


def sweep_gains(scores: pd.DataFrame) -> pd.DataFrame:
    """gains() of the sweep's runs, one run per (arm, lr): columns arm, lr, step, math, other, non."""
    runs = scores.assign(seed=scores["lr"])  # gains() keys runs by (arm, seed)
    return gains(runs).rename(columns={"seed": "lr"})


def choose_lr(scores: pd.DataFrame, max_drop: float, current: dict | None = None) -> pd.DataFrame:
    """The learning-rate rule (issue 14), on math alone, per arm: among the swept rates, the one with
    the best final math accuracy, leaving out any rate whose math accuracy falls more than max_drop
    below the base's at some checkpoint; ties go to the smaller rate. When every rate falls that far
    (an arm whose answers change format passes through a phase where it produces neither format
    at any rate), the rule falls back to the best final math among all of them (fallback True).
    Returns per arm and lr: final math / other / non change, the lowest math change at any
    checkpoint, excluded, chosen, fallback, at_edge (the chosen rate is the smallest or largest
    swept), and with `current` (arm -> the rate params.yaml trains it at) in_params. The other
    and non columns are shown, never used."""
    run_gains = sweep_gains(scores)
    final = run_gains.loc[run_gains.groupby(["arm", "lr"]).step.idxmax()].set_index(["arm", "lr"])
    table = final[[c for c in ("math", "other", "non") if c in final]].copy()
    table.insert(0, "final_step", final["step"])
    table["min_math"] = run_gains.groupby(["arm", "lr"])["math"].min()
    table["excluded"] = table["min_math"] < -max_drop - 1e-12
    table["chosen"] = table["fallback"] = table["at_edge"] = False
    for arm, rows in table.groupby(level="arm", sort=False):
        rows = rows.reset_index()
        kept = rows[~rows["excluded"]]
        fallback = kept.empty
        best = (rows if fallback else kept).sort_values(["math", "lr"], ascending=[False, True]).iloc[0]
        table.loc[(arm, best["lr"]), ["chosen", "fallback"]] = True, fallback
        table.loc[(arm, best["lr"]), "at_edge"] = best["lr"] in (rows["lr"].min(), rows["lr"].max())
    table = table.reset_index()
    if current is not None:
        table["in_params"] = [current.get(arm) == lr for arm, lr in zip(table["arm"], table["lr"])]
    return table


def sweep_verdicts(choice: pd.DataFrame) -> list[str]:
    """One line per arm of choose_lr's table (with an in_params column): the rule's rate, its math
    change, how it was reached, and whether params.yaml trains the arm at it."""
    lines = []
    for arm, rows in choice.groupby("arm", sort=False):
        row = rows[rows["chosen"]].iloc[0]
        how = ("every swept rate fell far below the base at some checkpoint, so the rule fell back to the best final math"
               if row["fallback"] else "the best final math among the rates that never fell far below the base")
        edge = "; it is at the edge of the swept range" if row["at_edge"] else ""
        others = rows[~rows["chosen"] & (~rows["excluded"] | bool(row["fallback"]))]
        runner = others.sort_values(["math", "lr"], ascending=[False, True]).iloc[0] if len(others) else None
        margin = (f"; next best lr {runner['lr']:g}, math {runner['math']:+.3f}: "
                  f"{row['math'] - runner['math']:+.3f} apart") if runner is not None else ""
        lines.append(f"{arm}: lr {row['lr']:g}, {how} (math {row['math']:+.3f} at step {int(row['final_step'])}{edge}"
                     f"{margin}); params.yaml " + ("trains at it" if row["in_params"] else "trains at another rate"))
    return lines

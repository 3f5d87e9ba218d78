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
Left out: the plots (plots.py).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

INDICATORS = ["early_slope", "half_life", "total", "late_mean", "late_var", "decay_rate", "oscillation"]


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
    rows = []
    for (arm, seed), run in run_gains.groupby(["arm", "seed"], sort=False):
        run = run.sort_values("step")
        row = dict(arm=arm, seed=seed, math=target, step=np.nan, other=np.nan, non=np.nan)
        m = run["math"].to_numpy()
        hit = np.nonzero(m >= target)[0]
        if len(hit):
            i = hit[0]
            t = 0.0 if i == 0 or m[i] == m[i - 1] else (target - m[i - 1]) / (m[i] - m[i - 1])
            prev = run.iloc[max(i - 1, 0)]
            cur = run.iloc[i]
            for key in ("step", "other", "non"):
                row[key] = float(prev[key] + t * (cur[key] - prev[key])) if i else float(cur[key])
        rows.append(row)
    return pd.DataFrame(rows)

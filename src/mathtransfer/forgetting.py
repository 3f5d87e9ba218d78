"""What predicts forgetting (issue 15's analyses on the arms we have): item transitions, update
sparsity and rank, and forgetting against distance from the base across checkpoints.

- Item transitions (`transitions`): per arm and task, the share of test items that go from right
  to wrong (forgotten) and from wrong to right (gained) between the base and the tuned model
  (greedy; "right" is a full score), per seed, then the seed mean with a paired bootstrap interval
  over items: a net change of zero can hide both.
- Update sparsity (`update_sparsity`): the share of parameters whose value changes once both are
  rounded to bf16 (a change below bf16's resolution does not count), overall and per module kind
  (embedding, attention q/k/v/o, MLP, norm); `update_rank`: per weight matrix, the share of the
  update's singular values above RANK_TOL times the largest one.
- Forgetting vs distance (`predictor_fits`, on dynamics.distance_path's table): across every trained
  checkpoint of every arm (the notebook leaves out step 0, the base itself), the drop on a group (minus its change)
  against a predictor x, fitted as a*x + b*x^2 (no intercept: no distance, no forgetting), R^2
  with a bootstrap interval over checkpoints (RL's Razor's form). Predictors, each measured by
  the training stage at every checkpoint on the base's greedy math answers: the exact forward KL,
  the paper's token-level estimate on the same answers, and the parameter distance.
- The ablation table (`ablation_table`): per arm its sampling distribution q, weights w and KL
  beta (RECIPES), beside its changes and TI readings.
Left out: training (arms.py measures each checkpoint's distances), figures (plots.py).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .models import load_model
from .schema import ARMS

RANK_TOL = 1e-3  # a singular value counts towards the update's rank above this share of the largest
MODULE_KINDS = {"embed": "embedding", "q_proj": "attention q", "k_proj": "attention k", "v_proj": "attention v",
                "o_proj": "attention o", "mlp": "MLP", "norm": "norm"}


# the paper's unified view (section 5): what each arm trains on (q), how it weights it (w), its KL term
RECIPES = {"sft-think": ("teacher traces, think style (off-policy)", "1", "none"),
           "sft-nothink": ("teacher traces, short style (off-policy)", "1", "none"),
           "rft": ("the base's own samples, correct ones kept (on-policy, once)", "1 if correct, else 0", "none"),
           "grpo": ("the current policy's rollouts (on-policy)", "group-normalised advantage", "train.beta"),
           "grpo-kl": ("the current policy's rollouts (on-policy)", "group-normalised advantage", "train.kl_beta"),
           "grpo-random": ("the current policy's rollouts (on-policy)", "group-normalised seeded coin flip", "train.beta"),
           "sft-think-lora": ("teacher traces, think style (off-policy), LoRA adapters", "1", "none")}
PREDICTORS = {"kl": "forward KL, exact", "kl_tokens": "the paper's token estimate", "param_distance": "parameter distance (L2)"}


def ablation_table(gains: pd.DataFrame, transfer_arms: pd.DataFrame, beta: float, kl_beta: float = 0.0) -> pd.DataFrame:
    """Per arm (schema.ARMS order): q, w, beta (RECIPES: train.beta or train.kl_beta), the mean change
    per group over seeds (gains: arm, seed, group, change in points) and the TI readings of
    transfer.csv's "mean of seeds" rows (transfer_arms, indexed by arm)."""
    change = gains.groupby(["arm", "group"])["change"].mean().unstack("group")
    rows = []
    for arm in [a for a in ARMS if a in change.index]:
        q, w, kl = RECIPES[arm]
        readings = transfer_arms.loc[arm, [c for c in ("TI_other", "TI_non", "TI_fixed_other", "TI_fixed_non")
                                           if c in transfer_arms]]
        rows.append(dict(arm=arm, q=q, w=w, beta={"train.beta": beta, "train.kl_beta": kl_beta}.get(kl, 0.0),
                         **{f"change_{g}": change.loc[arm, g] for g in ("math", "other", "non")}, **readings))
    return pd.DataFrame(rows)


def transitions(records: pd.DataFrame, base: str = "base", n_resamples: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per arm (schema.ARMS order) and task: forgotten (right -> wrong) and gained (wrong -> right)
    shares of the items, seed means, each with a 95% bootstrap interval over items (the same
    resampled items for every seed). records: model, method, seed, task, group, id, score."""
    right = records.assign(right=records["score"] >= 1.0)
    wide = right.pivot_table(index=["task", "id"], columns="model", values="right", aggfunc="first")
    runs = right[right["method"].isin(list(ARMS))].drop_duplicates("model")
    group_of = dict(zip(records["task"], records["group"]))
    rng = np.random.default_rng(seed)
    rows = []
    for task, items in wide.groupby(level="task", sort=False):
        b = items[base].to_numpy(bool)
        picks = rng.integers(0, len(b), (n_resamples, len(b)))
        for arm in [a for a in ARMS if a in set(runs["method"])]:
            models = list(runs.loc[runs["method"] == arm, "model"])
            t = items[models].to_numpy(bool)  # items x seeds
            lost, won = (b[:, None] & ~t), (~b[:, None] & t)
            row = dict(arm=arm, task=task, group=group_of[task], n=len(b))
            for name, flips in (("forgotten", lost), ("gained", won)):
                per_item = flips.mean(axis=1)  # seed mean per item
                draws = per_item[picks].mean(axis=1)
                row |= {name: per_item.mean(), f"{name}_low": np.quantile(draws, 0.025),
                        f"{name}_high": np.quantile(draws, 0.975)}
            rows.append(row)
    return pd.DataFrame(rows)


def module_kind(name: str) -> str:
    """The module kind of a parameter name (MODULE_KINDS), "other" if none matches."""
    return next((kind for key, kind in MODULE_KINDS.items() if key in name), "other")


@torch.no_grad()
def update_sparsity(base: dict[str, torch.Tensor], tuned: dict[str, torch.Tensor]) -> pd.DataFrame:
    """Per module kind and overall ("all"): parameters, and the share whose bf16 value changed."""
    counts: dict[str, list[int]] = {}
    for name, before in base.items():
        changed = int((before.to(torch.bfloat16) != tuned[name].to(torch.bfloat16)).sum())
        for kind in (module_kind(name), "all"):
            total = counts.setdefault(kind, [0, 0])
            total[0] += before.numel()
            total[1] += changed
    return pd.DataFrame([dict(kind=k, parameters=n, changed=c / n) for k, (n, c) in counts.items()])


@torch.no_grad()
def update_rank(base: dict[str, torch.Tensor], tuned: dict[str, torch.Tensor], tol: float = RANK_TOL) -> pd.DataFrame:
    """Per 2-D weight: its kind, shape, and the share of the update's singular values above tol
    times the largest (0 for an unchanged matrix)."""
    rows = []
    for name, before in base.items():
        if before.ndim != 2:
            continue
        s = torch.linalg.svdvals((tuned[name].double() - before.double()))
        share = float((s > tol * s.max()).double().mean()) if s.max() > 0 else 0.0
        rows.append(dict(name=name, kind=module_kind(name), rows=before.shape[0], columns=before.shape[1],
                         rank_share=share))
    return pd.DataFrame(rows)


def run_updates(runs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(sparsity, rank) of every run (models.Run) against its base: update_sparsity and update_rank
    with the run's arm and seed; an adapter run is compared with its adapters merged (exact for
    LoRA on full-precision weights; a 4-bit base would be requantised). One model in memory beside
    its base's weights."""
    bases, sparsity, rank = {}, [], []
    for run in runs:
        if run.base not in bases:
            bases[run.base] = {k: v.detach().cpu().clone() for k, v in load_model(run.base, "full")[0].named_parameters()}
        model = load_model(run.path, "full")[0]
        if hasattr(model, "merge_and_unload"):  # a LoRA run: its adapters merged into the base's weights
            model = model.merge_and_unload()
        tuned = {k: v.detach().cpu() for k, v in model.named_parameters()}
        tag = dict(arm=run.method, seed=run.seed)
        sparsity.append(update_sparsity(bases[run.base], tuned).assign(**tag))
        rank.append(update_rank(bases[run.base], tuned).assign(**tag))
    return pd.concat(sparsity, ignore_index=True), pd.concat(rank, ignore_index=True)


def quadratic_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(a, b, R^2) of y = a*x + b*x^2 by least squares, no intercept; R^2 = 1 - SS_res / SS_tot
    around y's mean (NaN when y does not vary)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    (a, b), *_ = np.linalg.lstsq(np.column_stack([x, x ** 2]), y, rcond=None)
    total = ((y - y.mean()) ** 2).sum()
    r2 = 1 - ((y - a * x - b * x ** 2) ** 2).sum() / total if total > 0 else float("nan")
    return float(a), float(b), float(r2)


def predictor_fits(points: pd.DataFrame, predictors: list[str], n_resamples: int = 1000,
                   seed: int = 0) -> pd.DataFrame:
    """For each predictor column and group (other, non) of `points` (one row per checkpoint; the
    groups' changes as columns other and non): the quadratic fit of the drop (-change) on the
    predictor, R^2 with a 95% bootstrap interval over checkpoints, and the number of points."""
    rng = np.random.default_rng(seed)
    rows = []
    for predictor in predictors:
        usable = points.dropna(subset=[predictor])
        picks = rng.integers(0, len(usable), (n_resamples, len(usable)))
        for group in ("other", "non"):
            x, y = usable[predictor].to_numpy(float), -usable[group].to_numpy(float)
            a, b, r2 = quadratic_fit(x, y)
            draws = np.array([quadratic_fit(x[p], y[p])[2] for p in picks])
            rows.append(dict(predictor=predictor, group=group, a=a, b=b, r2=r2, points=len(usable),
                             r2_low=np.nanquantile(draws, 0.025), r2_high=np.nanquantile(draws, 0.975)))
    return pd.DataFrame(rows)


def best_predictors(fits: pd.DataFrame) -> list[str]:
    """Per group: the predictors ranked by R^2, and whether the best one's interval lies above the
    runner-up's point (a clear winner) or not."""
    lines = []
    for group, table in fits.groupby("group", sort=False):
        ranked = table.sort_values("r2", ascending=False)
        best, second = ranked.iloc[0], ranked.iloc[1] if len(ranked) > 1 else None
        clear = second is not None and best.r2_low > second.r2
        order = " > ".join(f"{PREDICTORS.get(r.predictor, r.predictor)} R^2 {r.r2:.2f} [{r.r2_low:.2f}, {r.r2_high:.2f}]"
                           for r in ranked.itertuples())
        lines.append(f"{group}: {order}; " + ("a clear winner (its interval lies above the runner-up's R^2)"
                                                if clear else "no clear winner (the best one's interval reaches the runner-up's R^2)"))
    return lines


def metrics(fits: pd.DataFrame, sparsity: pd.DataFrame, moves: pd.DataFrame) -> dict:
    """reports/metrics/forgetting.json: each predictor's R^2 per group; per arm the share of
    parameters changed (all kinds, seed mean) and the items forgotten and gained per group (3 decimals)."""
    r2 = {p: {g: round(float(v), 3) for g, v in t.set_index("group")["r2"].items()} for p, t in fits.groupby("predictor", sort=False)}
    changed = sparsity[sparsity["kind"] == "all"].groupby("arm")["changed"].mean()
    flips = moves.groupby(["arm", "group"])[["forgotten", "gained"]].mean()
    arms = [a for a in ARMS if a in changed.index]
    return {"r2": r2, "arms": {a: {"changed": round(float(changed[a]), 3),
                                   **{f"{k}_{g}": round(float(flips.loc[(a, g), k]), 3)
                                      for g in ("math", "other", "non") if (a, g) in flips.index
                                      for k in ("forgotten", "gained")}} for a in arms}}

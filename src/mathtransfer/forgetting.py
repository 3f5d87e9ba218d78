"""What predicts forgetting (issue 15's analyses): the ablation and its orderings, item transitions, update
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
- How math answers fail (`math_traces`, mini-world): right, full strategy (every step taken), or a
  step with a wrong result.
- The ablation table (`ablation_table`): per arm its sampling distribution q, weights w and KL
  beta (RECIPES), beside its changes and TI readings with intervals; `ordering_sentences` says
  which of the paper's orderings (ORDERINGS) hold here, `random_reward_sentence` whether the
  random-reward arm keeps skills.
Left out: training (arms.py measures each checkpoint's distances), figures (plots.py).
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import torch

from .models import load_model
from .schema import ARMS
from .tasks.traces import trace_check
from .ti import with_interval

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
           "sft-think-lora": ("teacher traces, think style (off-policy), LoRA adapters", "1", "none"),
           "sft-self": ("the current policy's samples, correct ones kept, drawn every train.self_every steps "
                        "(on-policy)", "1 if correct, else 0", "none"),
           "rl-offpolicy": ("teacher traces, think style, a share stopped early (off-policy)",
                            "group-normalised advantage", "none")}
# the arms that learn from the policy's own samples (the fits "near the base" take them alone)
ON_POLICY = [arm for arm, spec in ARMS.items() if spec.trainer == "grpo" or spec.column == "target"]
CHANGE_COLUMNS = ("change_math", "change_other", "change_non")  # the seed means, from gains
# the paper's ablation orderings (Tables 3-4, Qwen3-8B-Base), and the questions of later work: (first
# arm, second arm, what the paper or the work found: the first "higher" than the second, or "similar")
ORDERINGS = [("rft", "sft-think", "higher", "on-policy SFT vs off-policy SFT (paper: 35.7/35.0 vs 34.4/26.6)"),
             ("sft-self", "sft-think", "higher", "iterative on-policy SFT vs off-policy SFT (Retaining by Doing)"),
             ("grpo", "rl-offpolicy", "higher", "on-policy RL vs off-policy RL (paper: 38.2/35.8 vs 35.9/31.7)"),
             ("grpo", "grpo-kl", "similar", "RL without vs with a KL term (paper: 38.2/35.8 vs 39.9/35.0)"),
             ("sft-think-lora", "sft-think", "higher", "LoRA SFT vs full SFT (LoRA Learns Less and Forgets Less)")]
PREDICTORS = {"kl": "forward KL, exact", "kl_tokens": "the paper's token estimate", "param_distance": "parameter distance (L2)"}


def ablation_table(gains: pd.DataFrame, transfer_arms: pd.DataFrame, beta: float, kl_beta: float = 0.0) -> pd.DataFrame:
    """Per arm (schema.ARMS order): q, w, beta (RECIPES: train.beta or train.kl_beta), the mean change
    per group over seeds (gains: arm, seed, group, change in points) and, from transfer.csv's "mean
    of seeds" rows (transfer_arms, indexed by arm), every TI reading and the changes' and readings'
    95% intervals over items and seeds (columns <reading>_low, <reading>_high)."""
    change = gains.groupby(["arm", "group"])["change"].mean().unstack("group")
    rows = []
    for arm in [a for a in ARMS if a in change.index]:
        q, w, kl = RECIPES[arm]
        names = [f"{r}_{g}" for r in ("change", "TI", "TI_fixed", "TI_v1") for g in ("math", "other", "non")]
        readings = transfer_arms.loc[arm, [f"{n}{end}" for n in names for end in ("", "_low", "_high")
                                           if f"{n}{end}" in transfer_arms and f"{n}{end}" not in CHANGE_COLUMNS]]
        rows.append(dict(arm=arm, q=q, w=w, beta={"train.beta": beta, "train.kl_beta": kl_beta}.get(kl, 0.0),
                         **{f"change_{g}": change.loc[arm, g] for g in ("math", "other", "non")}, **readings))
    return pd.DataFrame(rows)


def ordering_sentences(ablation: pd.DataFrame) -> list[str]:
    """For each of ORDERINGS whose two arms ran, per group (other, non): the two arms' changes with
    their intervals, "higher"/"lower" only where the intervals do not overlap (else "not
    separated"), and whether that is what the paper (or the later work) found."""
    table = ablation.set_index("arm")
    lines = []
    for first, second, expected, what in ORDERINGS:
        if first not in table.index or second not in table.index:
            continue
        parts = []
        for group in ("other", "non"):
            a, b, col = table.loc[first], table.loc[second], f"change_{group}"
            seen = ("higher" if a[col + "_low"] > b[col + "_high"] else
                    "lower" if a[col + "_high"] < b[col + "_low"] else "not separated")
            holds = seen == expected or (expected == "similar" and seen == "not separated")
            parts.append(f"{group} {with_interval(a, col)} vs {with_interval(b, col)}: {seen}, "
                         + ("as found there" if holds else "NOT as found there"))
        lines.append(f"{what}: {first} vs {second}: " + "; ".join(parts) + ".")
    return lines


def random_reward_sentence(ablation: pd.DataFrame, arm: str = "grpo-random") -> str:
    """Whether the random-reward arm raised math and kept the other groups (each change's interval
    reaching 0 or above), with the numbers."""
    if arm not in set(ablation["arm"]):
        return f"{arm} did not run."
    row = ablation.set_index("arm").loc[arm]
    math = "raised math" if row["change_math_low"] > 0 else "lost math" if row["change_math_high"] < 0 else "left math unchanged"
    kept = [g for g in ("other", "non") if row[f"change_{g}_high"] >= 0]
    return (f"{arm} {math} ({with_interval(row, 'change_math')} points) and "
            + (f"kept {' and '.join(kept)}" if kept else "kept neither other nor non")
            + f" (other {with_interval(row, 'change_other')}, non {with_interval(row, 'change_non')}).")


def item_steps(items) -> dict[str, int]:
    """Math item id -> its number of steps, from the items' meta (mini-world items carry it; others
    are left out)."""
    steps = {}
    for item_id, group, meta in zip(items["id"], items["group"], items["meta"]):
        value = json.loads(meta or "{}").get("steps") if group == "math" else None
        if isinstance(value, int):
            steps[item_id] = value
    return steps


def math_traces(records: pd.DataFrame, steps_by_id: dict[str, int]) -> pd.DataFrame:
    """How the math answers fail (mini-world): per model (base first, then the arms in schema.ARMS
    order, seed means) the share of math answers that are right, that take all of their item's
    steps (the full strategy: the world's wrong one stops a step early), and that hold a step with a
    wrong result (tasks.traces.trace_check). steps_by_id: item id -> its number of steps (the
    item's meta); items without one are left out (hub data has none: an empty table)."""
    math = records[(records["group"] == "math") & records["id"].isin(list(steps_by_id))]
    if math.empty:
        return pd.DataFrame(columns=["arm", "right", "full_steps", "arithmetic_error", "n"])
    checks = pd.DataFrame([trace_check(text, steps_by_id[i]) for text, i in zip(math["output"], math["id"])],
                          index=math.index)
    table = math[["method", "seed"]].assign(right=math["score"] >= 1.0, full_steps=checks["full"],
                                            arithmetic_error=checks["arithmetic_error"])
    per_seed = table.groupby(["method", "seed"])[["right", "full_steps", "arithmetic_error"]].mean()
    per_arm = per_seed.groupby("method").mean().assign(n=table.groupby("method").size() // table.groupby("method")["seed"].nunique())
    order = [m for m in ["base", *ARMS] if m in per_arm.index]
    return per_arm.loc[order].rename_axis("arm").reset_index()


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
    predictor, R^2 with a 95% bootstrap interval over checkpoints, and the number of points. Only
    checkpoints that have every predictor are used, so that the predictors are compared on the same
    points."""
    rng = np.random.default_rng(seed)
    rows = []
    usable = points.dropna(subset=predictors)
    for predictor in predictors:
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

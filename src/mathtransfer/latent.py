"""Hidden-state shift (paper section 4.1): how far tuning moves a model's representations.

The paper's recipe (the authors' code): n dataset texts per benchmark (question + answer), cut to
128 tokens, left-padded; features = the hidden state of every layer (embeddings included),
mean-pooled over positions; per layer, PCA(2) fitted on the BASE model's features, and the tuned
model's features projected on the same two axes. Per layer: PC1 shift = mean PC1(tuned) - mean
PC1(base), and both models' PC2 means. Averaging over layers gives one 2-D centroid per model;
d = the L2 distance between the tuned and the base centroid.

Two poolings, named as such:
- "paper": the mean over every position, pad included, as the authors' code does (a text's
  features then depend on how much padding it got; here every batch is padded to the longest text
  of the whole set, so results do not depend on the batch size);
- "mask": the mean over the text's own tokens only (attention mask; positions counted from the
  first real token), the correct variant: a text's features do not depend on its batch.
Also reported (not in the paper): d_layers, the mean over layers of each layer's centroid
distance. PCA's sign is arbitrary per layer, so the paper's layer average can cancel shifts;
d_layers cannot.
Texts here are the test items' prompt and a correct reference answer in the chat layout the models
read (probe_items): the world's base-style target where its task's scorer marks it right, else
the gold answer (the world writes wrong targets at a share, which would be no reference; hub
items have no target).
`shift_table` runs the whole analysis over a list of models.Run (base features computed once per
base); `group_distances`, `versus_grpo` and `metrics` condense its table for the notebook and
reports/metrics/latent.json.
Left out: the scatter of individual texts (only means are kept), any other projection, and
keeping several tuned models in memory at once (one is loaded at a time).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.decomposition import PCA

from .models import free_memory, load_model
from .schema import GROUPS
from .scorers import score

POOLINGS = ("paper", "mask")
MEASURES = ("d", "d_layers")


def probe_items(items: pd.DataFrame, n_per_task: int) -> pd.DataFrame:
    """The first n_per_task items of each task (columns task, prompt, target, answer, meta), with
    a correct reference answer in a column `reference`: the first of (the base-style target, the
    gold as `Answer: X`, the bare gold) that the task's scorer gives full marks; hub items have no
    target. An item none of them is right for (none in the mini-world) is left out."""
    rows = []
    for item in items.itertuples(index=False):
        candidates = [c for c in (item.target, f"Answer: {item.answer}", item.answer) if c]
        right = [c for c in candidates if score(item.task, c, item.answer, item.meta) == 1.0]
        rows.append(right[0] if right else None)
    kept = items.assign(reference=rows).dropna(subset=["reference"])
    return kept.groupby("task", sort=False).head(n_per_task).reset_index(drop=True)


def texts(tokenizer, prompts: list[str], answers: list[str]) -> list[str]:
    """Question + answer texts in the chat layout (user prompt, assistant answer)."""
    return [tokenizer.apply_chat_template([{"role": "user", "content": p}, {"role": "assistant", "content": a}],
                                          tokenize=False) for p, a in zip(prompts, answers)]


@torch.inference_mode()
def features(model, tokenizer, texts: list[str], max_tokens: int = 128, batch_size: int = 50,
             poolings=POOLINGS) -> dict[str, np.ndarray]:
    """pooling -> array (layers + 1, n_texts, hidden): every layer's hidden state (the embeddings
    first), mean-pooled over positions, of texts cut to max_tokens and left-padded."""
    for pooling in poolings:
        if pooling not in POOLINGS:
            raise ValueError(f"pooling: expected one of {', '.join(POOLINGS)}, got {pooling!r}")
    ids = [x[:max_tokens] for x in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    width = max(map(len, ids))
    pad = tokenizer.pad_token_id
    out: dict[str, list] = {p: [] for p in poolings}
    model.eval()
    for start in range(0, len(ids), batch_size):
        chunk = ids[start:start + batch_size]
        input_ids = torch.tensor([[pad] * (width - len(x)) + x for x in chunk], device=model.device)
        mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in chunk], device=model.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)  # each text's own positions, as without padding
        hidden = model(input_ids=input_ids, attention_mask=mask, position_ids=positions,
                       output_hidden_states=True).hidden_states
        stacked = torch.stack(hidden).float()  # (layers + 1, batch, width, hidden)
        if "paper" in out:
            out["paper"].append(stacked.mean(2))
        if "mask" in out:
            weights = mask.to(stacked.dtype)[None, :, :, None]
            out["mask"].append((stacked * weights).sum(2) / weights.sum(2))
    return {p: torch.cat(v, 1).cpu().numpy() for p, v in out.items()}


def pca_shift(base: np.ndarray, tuned: np.ndarray) -> tuple[pd.DataFrame, dict]:
    """Per layer, PCA(2) fitted on base features (layers, n, hidden); both projected on it.
    Returns (per-layer table: layer, pc1_base, pc2_base, pc1_tuned, pc2_tuned, pc1_shift,
    distance) and the summary {d, d_layers}: d between the layer-averaged centroids (the paper's),
    d_layers the mean of per-layer centroid distances."""
    if base.shape != tuned.shape:
        raise ValueError(f"features differ in shape: base {base.shape}, tuned {tuned.shape}")
    rows = []
    for layer in range(base.shape[0]):
        pca = PCA(n_components=2, svd_solver="full").fit(base[layer].astype(np.float64))
        b = pca.transform(base[layer].astype(np.float64)).mean(0)
        t = pca.transform(tuned[layer].astype(np.float64)).mean(0)
        rows.append(dict(layer=layer, pc1_base=b[0], pc2_base=b[1], pc1_tuned=t[0], pc2_tuned=t[1],
                         pc1_shift=t[0] - b[0], distance=float(np.hypot(*(t - b)))))
    table = pd.DataFrame(rows)
    centroid_base = table[["pc1_base", "pc2_base"]].mean().to_numpy()
    centroid_tuned = table[["pc1_tuned", "pc2_tuned"]].mean().to_numpy()
    return table, dict(d=float(np.linalg.norm(centroid_tuned - centroid_base)),
                       d_layers=float(table["distance"].mean()))


def shift(base_features: dict[str, dict[str, np.ndarray]], tuned_features: dict[str, dict[str, np.ndarray]]
          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both models' features per task and pooling ({task: {pooling: array}}) -> (summary: task,
    pooling, d, d_layers; per layer: task, pooling and pca_shift's columns)."""
    summary, layers = [], []
    for task, by_pooling in tuned_features.items():
        for pooling, tuned in by_pooling.items():
            table, result = pca_shift(base_features[task][pooling], tuned)
            summary.append(dict(task=task, pooling=pooling, **result))
            layers.append(table.assign(task=task, pooling=pooling))
    return pd.DataFrame(summary), pd.concat(layers, ignore_index=True)


def shift_table(runs, items: pd.DataFrame, cfg) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every run (models.Run) against its base on `items` (columns task, group, prompt, reference:
    probe_items), with cfg a config.LatentConfig. Each base's texts and features are computed once,
    however many runs share it. Returns (summary: model, arm, seed, task, group, pooling, d,
    d_layers; layers: pca_shift's columns, task, pooling, model, arm, seed, group), in run order."""
    tasks = list(dict.fromkeys(items["task"]))
    group_of = dict(zip(items["task"], items["group"]))
    answers = list(items["reference"])
    prompts = list(items["prompt"])
    rows_of = {t: [i for i, task in enumerate(items["task"]) if task == t] for t in tasks}
    texts_of, base_features, summaries, layers = {}, {}, [], []
    for run in runs:
        if run.base not in base_features:
            model, tokenizer = load_model(run.base, "full")
            texts_of[run.base] = {t: texts(tokenizer, [prompts[i] for i in rows], [answers[i] for i in rows])
                                  for t, rows in rows_of.items()}
            base_features[run.base] = {t: features(model, tokenizer, texts_of[run.base][t], cfg.max_tokens,
                                                   cfg.batch_size, cfg.poolings) for t in tasks}
            del model  # one model in memory at a time (the GPU profile's are GBs)
            free_memory()
        model, tokenizer = load_model(run.path, "full")
        tuned_features = {t: features(model, tokenizer, texts_of[run.base][t], cfg.max_tokens, cfg.batch_size,
                                      cfg.poolings) for t in tasks}
        del model
        free_memory()
        summary, per_layer = shift(base_features[run.base], tuned_features)
        tags = dict(model=run.name, arm=run.method, seed=run.seed)
        summaries.append(summary.assign(**tags))
        layers.append(per_layer.assign(**tags))
    summary = pd.concat(summaries, ignore_index=True).assign(group=lambda f: f["task"].map(group_of))
    layers = pd.concat(layers, ignore_index=True).assign(group=lambda f: f["task"].map(group_of))
    return summary[["model", "arm", "seed", "task", "group", "pooling", *MEASURES]], layers


def group_distances(summary: pd.DataFrame) -> pd.DataFrame:
    """Per pooling, arm, seed and group (in the order they first appear: the runs' order): d and
    d_layers averaged over the group's tasks."""
    return summary.groupby(["pooling", "arm", "seed", "group"], as_index=False, sort=False)[list(MEASURES)].mean()


def versus_grpo(per_seed: pd.DataFrame) -> pd.DataFrame:
    """Every arm but grpo and the extra pairs against grpo, per pooling and measure (d, d_layers):
    its seed-mean value per group beside grpo's (grpo_<group>), and on how many groups it moved
    further (groups_larger; which: larger). Empty when grpo did not run."""
    means = per_seed.groupby(["pooling", "arm", "group"])[list(MEASURES)].mean()
    arms = list(dict.fromkeys(per_seed["arm"]))
    rows = []
    if "grpo" not in arms:
        return pd.DataFrame(rows)
    for pooling in dict.fromkeys(per_seed["pooling"]):
        for measure in MEASURES:
            rl = means.loc[(pooling, "grpo"), measure]
            for arm in (a for a in arms if a not in ("grpo", "extra")):
                other = means.loc[(pooling, arm), measure]
                larger = [g for g in GROUPS if other[g] > rl[g]]
                rows.append(dict(pooling=pooling, measure=measure, arm=arm, groups_larger=len(larger),
                                 larger=", ".join(larger), **{g: other[g] for g in GROUPS},
                                 **{f"grpo_{g}": rl[g] for g in GROUPS}))
    return pd.DataFrame(rows)


def metrics(per_seed: pd.DataFrame) -> dict:
    """reports/metrics/latent.json: {pooling: {arm: {<measure>_groups_larger_than_grpo (arms other
    than grpo), d_<group> (mean over seeds, 4 decimals)}}}."""
    result: dict = {}
    for row in versus_grpo(per_seed).itertuples():
        result.setdefault(row.pooling, {}).setdefault(row.arm, {})[f"{row.measure}_groups_larger_than_grpo"] = \
            int(row.groups_larger)
    for (pooling, arm, group), d in per_seed.groupby(["pooling", "arm", "group"])["d"].mean().items():
        result.setdefault(pooling, {}).setdefault(arm, {})[f"d_{group}"] = round(float(d), 4)
    return result

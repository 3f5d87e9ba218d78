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
Texts here are the test items' prompt and reference answer in the chat layout the models read.
Left out: the scatter of individual texts (only means are kept) and any other projection.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.decomposition import PCA

POOLINGS = ("paper", "mask")


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

"""Token-distribution shift (paper section 4.2): how much tuning changes what a model says.

The tuned model answers a set of prompts; then the base and the tuned model both score the same
prompt + response with teacher forcing (`compare`). Per response token t we keep the log-probability
and the rank (0 = the model's top choice) of the actual token y_t under each model, and the exact
KL(tuned || base) of the two next-token distributions at t. `summary` reports, over all tokens:
- kl_paper: the paper's "KL", |mean_t log p_tuned(y_t) - log p_base(y_t)|: a sampled-token
  estimate of KL(tuned || base) (unbiased only when the responses are sampled from the tuned
  model at temperature 1; its absolute value hides the sign);
- kl_exact: the full-vocabulary KL(tuned || base) averaged over positions;
- rank_shift: the mean |rank_base(y_t) - rank_tuned(y_t)| (the paper's rank shift);
- share_changed: the share of tokens whose rank differs between the models. Such a token is a
  "shifted" token (`shifted_words` counts them; `highlight_html` marks them in a case study).
Shifted tokens are sorted into logic-structure words (LOGIC_WORDS: connectives and the answer's
scaffolding), content words (other words and numbers) and symbols (punctuation, operators).
Responses arrive as text and are re-tokenized (prompt and response apart, as generation saw them).
Left out: word clouds (the notebook shows ranked bars) and batching across several model pairs.
"""
from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import torch

from .evaluate import chat_prompts

# Connectives and reasoning scaffolding (the paper's examples: but, wait, confirm) and the words
# that frame an answer in both the mini-world's and the teacher's styles.
LOGIC_WORDS = frozenset("""
but wait so then therefore thus hence because since if first next finally now again let me think
step check confirm verify recheck however also answer final boxed is means gives total result
""".split())
FIELDS = ("lp_base", "lp_tuned", "rank_base", "rank_tuned", "kl")


@torch.inference_mode()
def _score(model, sequences: list[list[int]], starts: list[int], pad: int):
    """Per sequence: next-token log-probabilities (response positions x vocab) of tokens start..end."""
    width = max(map(len, sequences))
    ids = torch.tensor([s + [pad] * (width - len(s)) for s in sequences], device=model.device)
    mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in sequences], device=model.device)
    # logits only from the first response position on: a 152k vocabulary over whole prompts
    # would not fit a small GPU
    first = min(starts) - 1
    logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=width - first).logits
    return [torch.log_softmax(logits[i, start - 1 - first:len(s) - 1 - first].float(), -1)
            for i, (s, start) in enumerate(zip(sequences, starts))]


def compare(base, tuned, tokenizer, prompts: list[str], responses: list[str], batch_size: int = 32) -> list[dict]:
    """Per response: token ids and, per token, lp_base, lp_tuned (log-probabilities of the actual
    token), rank_base, rank_tuned (0-based: how many tokens each model prefers to it) and kl
    (exact KL(tuned || base) of the next-token distributions), as numpy arrays."""
    base.eval()
    tuned.eval()
    prompt_ids = tokenizer(chat_prompts(tokenizer, prompts), add_special_tokens=False)["input_ids"]
    response_ids = tokenizer(list(responses), add_special_tokens=False)["input_ids"]
    details = []
    for start in range(0, len(prompts), batch_size):
        batch = range(start, min(start + batch_size, len(prompts)))
        sequences = [prompt_ids[i] + response_ids[i] for i in batch]
        starts = [len(prompt_ids[i]) for i in batch]
        scored = zip(_score(base, sequences, starts, tokenizer.pad_token_id),
                     _score(tuned, sequences, starts, tokenizer.pad_token_id))
        for i, (lp_b, lp_t) in zip(batch, scored):
            y = torch.tensor(response_ids[i], device=lp_b.device, dtype=torch.long)[:, None]
            vocab = min(lp_b.shape[-1], lp_t.shape[-1])  # hub models may pad their vocabularies apart
            lp_b, lp_t = lp_b[:, :vocab], lp_t[:, :vocab]
            actual_b, actual_t = lp_b.gather(1, y), lp_t.gather(1, y)
            details.append(dict(
                ids=np.asarray(response_ids[i], dtype=np.int64),
                lp_base=actual_b[:, 0].cpu().numpy(), lp_tuned=actual_t[:, 0].cpu().numpy(),
                rank_base=(lp_b > actual_b).sum(1).cpu().numpy(), rank_tuned=(lp_t > actual_t).sum(1).cpu().numpy(),
                kl=(lp_t.exp() * (lp_t - lp_b)).sum(1).clamp(min=0).cpu().numpy()))
    return details


def summary(details: list[dict]) -> dict:
    """The shift measures over every token of `details` (see the module docstring)."""
    cat = {f: np.concatenate([d[f] for d in details]) if details else np.zeros(0) for f in FIELDS}
    n = len(cat["kl"])
    if n == 0:
        return dict(kl_paper=np.nan, kl_exact=np.nan, rank_shift=np.nan, share_changed=np.nan,
                    tokens=0, responses=len(details))
    changed = cat["rank_base"] != cat["rank_tuned"]
    return dict(kl_paper=float(abs(np.mean(cat["lp_tuned"].astype(np.float64) - cat["lp_base"]))),
                kl_exact=float(cat["kl"].astype(np.float64).mean()),
                rank_shift=float(np.abs(cat["rank_base"] - cat["rank_tuned"]).mean()),
                share_changed=float(changed.mean()), tokens=n, responses=len(details))


def word_kind(word: str, logic_words=LOGIC_WORDS) -> str:
    """logic (a LOGIC_WORDS word), content (any other word or number) or symbol."""
    if word.lower() in logic_words:
        return "logic"
    return "content" if re.search(r"\w", word) else "symbol"


def shifted_words(details: list[dict], tokenizer, logic_words=LOGIC_WORDS) -> pd.DataFrame:
    """Every distinct token text (stripped) with its kind, how often it was shifted (rank changed)
    and how often it occurred; sorted by shifted count."""
    counts: dict[str, list[int]] = {}
    for d in details:
        changed = d["rank_base"] != d["rank_tuned"]
        for token_id, moved in zip(d["ids"].tolist(), changed.tolist()):
            word = tokenizer.decode([token_id]).strip()
            if not word:
                continue
            entry = counts.setdefault(word, [0, 0])
            entry[0] += int(moved)
            entry[1] += 1
    table = pd.DataFrame([(w, word_kind(w, logic_words), s, o) for w, (s, o) in counts.items()],
                         columns=["token", "kind", "shifted", "occurrences"])
    return table.sort_values(["shifted", "occurrences", "token"], ascending=[False, False, True],
                             ignore_index=True)


def highlight_html(detail: dict, tokenizer) -> str:
    """A response as HTML, every shifted token highlighted (logic words in orange, others in blue),
    the base's rank of it in a tooltip."""
    spans = []
    for token_id, rank_b, rank_t in zip(detail["ids"].tolist(), detail["rank_base"].tolist(),
                                        detail["rank_tuned"].tolist()):
        text = html.escape(tokenizer.decode([token_id])).replace("\n", "<br>")
        if rank_b == rank_t:
            spans.append(text)
        else:
            colour = "#ffd08a" if word_kind(tokenizer.decode([token_id]).strip()) == "logic" else "#a8d4ff"
            # <mark> keeps the highlight where a viewer strips inline styles (GitHub's notebook view)
            spans.append(f'<mark style="background:{colour}" title="rank base {rank_b}, tuned {rank_t}">{text}</mark>')
    return "<div style='font-family:monospace;line-height:1.6'>" + "".join(spans) + "</div>"

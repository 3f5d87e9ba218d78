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
Shifted tokens are sorted into logic-structure words (LOGIC_WORDS: connectives, checking), the
answer's scaffolding (SCAFFOLD_WORDS: the words that frame an answer in the base's and the
teacher's styles, kept apart so that a change of format does not count as logic), content words
(other words and numbers) and symbols (punctuation, operators).
Responses arrive as text and are re-tokenized (prompt and response apart, as generation saw them).
`shift_table` runs it all over a list of models.Run (each tuned model answers, both score);
`versus_grpo`, `kind_shares`, `top_shifted` and `metrics` condense its tables for the notebook and
reports/metrics/tokens.json; `case_studies_html` lays out one prompt per group (the paper's Table 8).
Left out: word clouds (the notebook shows ranked bars) and batching across several model pairs.
"""
from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import torch

from .generation import generate, position_logprobs
from .models import base_of_adapter, chat_prompts, free_memory, load_model, resolve
from .schema import GROUP_LABELS

# Connectives and checking (the paper's examples: but, wait, confirm)
LOGIC_WORDS = frozenset("""
but wait so then therefore thus hence because since if first next finally now again check confirm
verify recheck however also means gives
""".split())
# The words that frame an answer in the mini-world's base style ("Answer: X") and the teacher's
# ("Let me think step by step. Step 1: ... So the final answer is \boxed{X}")
SCAFFOLD_WORDS = frozenset("let me think step answer final boxed is total result".split())
FIELDS = ("lp_base", "lp_tuned", "rank_base", "rank_tuned", "kl")
MEASURES = ("kl_paper", "kl_exact", "rank_shift", "share_changed")


def compare(base, tuned, tokenizer, prompts: list[str], responses: list[str], batch_size: int = 32) -> list[dict]:
    """Per response: token ids and, per token, lp_base, lp_tuned (log-probabilities of the actual
    token), rank_base, rank_tuned (0-based: how many tokens each model prefers to it) and kl
    (exact KL(tuned || base) of the next-token distributions), as numpy arrays. base None: the
    tuned model is a PEFT adapter on the base, which scores with the adapter switched off (one
    model in memory instead of two)."""
    tuned.eval()
    if base is not None:
        base.eval()
    prompt_ids = tokenizer(chat_prompts(tokenizer, prompts), add_special_tokens=False)["input_ids"]
    response_ids = tokenizer(list(responses), add_special_tokens=False)["input_ids"]
    details = []
    for start in range(0, len(prompts), batch_size):
        batch = range(start, min(start + batch_size, len(prompts)))
        sequences = [prompt_ids[i] + response_ids[i] for i in batch]
        starts = [len(prompt_ids[i]) for i in batch]
        if base is None:
            with tuned.disable_adapter():
                base_scores = position_logprobs(tuned, sequences, starts, tokenizer.pad_token_id)
        else:
            base_scores = position_logprobs(base, sequences, starts, tokenizer.pad_token_id)
        scored = zip(base_scores, position_logprobs(tuned, sequences, starts, tokenizer.pad_token_id))
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
    """logic (a LOGIC_WORDS word), scaffold (a SCAFFOLD_WORDS word), content (any other word or
    number) or symbol."""
    if word.lower() in logic_words:
        return "logic"
    if word.lower() in SCAFFOLD_WORDS:
        return "scaffold"
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


def case_view(detail: dict, response: str, tokenizer) -> dict:
    """What a case study shows of one response: its text, each token's text (pieces) and both ranks."""
    return dict(response=response, pieces=[tokenizer.decode([i]) for i in detail["ids"].tolist()],
                rank_base=detail["rank_base"].tolist(), rank_tuned=detail["rank_tuned"].tolist())


def highlight_html(case: dict) -> str:
    """A response (case_view) as HTML, its text escaped, every shifted token highlighted (logic
    words in orange, others in blue), both ranks in a tooltip."""
    spans = []
    for piece, rank_b, rank_t in zip(case["pieces"], case["rank_base"], case["rank_tuned"]):
        text = html.escape(piece).replace("\n", "<br>")
        if rank_b == rank_t:
            spans.append(text)
        else:
            colour = "#ffd08a" if word_kind(piece.strip()) == "logic" else "#a8d4ff"
            # <mark> keeps the highlight where a viewer strips inline styles (GitHub's notebook view)
            spans.append(f'<mark style="background:{colour}" title="rank base {rank_b}, tuned {rank_t}">{text}</mark>')
    return "<div style='font-family:monospace;line-height:1.6'>" + "".join(spans) + "</div>"


def case_items(items: pd.DataFrame) -> pd.DataFrame:
    """The case-study items: the first item of each group (its first task's), indexed by group,
    chosen by that rule, not by any result."""
    return items.groupby("group", sort=False).head(1).set_index("group")


def shift_table(runs, items: pd.DataFrame, cfg, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Every run (models.Run) answers the prompts of `items` (columns id, task, group, prompt;
    cfg: config.TokensConfig; sampling seeded by `seed` per run); its base and it score the answers.
    Returns (per model and task: model, arm, seed, task, group and summary's fields; the shifted
    words of each model: shifted_words' columns, model, arm, seed; case details:
    {(model, group): case_view of its answer to the group's case item}). A base is loaded once, and
    not at all for a run that is an adapter on it (compare scores the base with the adapter off)."""
    items = items.reset_index(drop=True)
    prompts = list(items["prompt"])
    cases = case_items(items)
    position = {item_id: i for i, item_id in enumerate(items["id"])}
    task_rows = items.groupby(["task", "group"], sort=False).groups
    bases, rows, words, case_details = {}, [], [], {}
    for run in runs:
        on_base = base_of_adapter(run.path) == resolve(run.base)
        if on_base:
            base_model = None
            tuned_model, tokenizer = load_model(run.path, "full")
        else:
            if run.base not in bases:
                bases[run.base] = load_model(run.base, "full")
            base_model, tokenizer = bases[run.base]
            tuned_model, _ = load_model(run.path, "full")
        torch.manual_seed(seed)  # every model samples from the same seed
        responses = generate(tuned_model, tokenizer, prompts, cfg.batch_size, cfg.max_new_tokens,
                             do_sample=cfg.temperature > 0, temperature=cfg.temperature or 1.0, top_p=cfg.top_p)
        details = compare(base_model, tuned_model, tokenizer, prompts, responses, cfg.batch_size)
        tags = dict(model=run.name, arm=run.method, seed=run.seed)
        rows += [dict(**tags, task=task, group=group, **summary([details[i] for i in index]))
                 for (task, group), index in task_rows.items()]
        words.append(shifted_words(details, tokenizer).assign(**tags))
        for group, case in cases.iterrows():
            i = position[case["id"]]
            case_details[(run.name, group)] = case_view(details[i], responses[i], tokenizer)
        del tuned_model, base_model  # a base stays in `bases` for the next run on it
        free_memory()
    return pd.DataFrame(rows), pd.concat(words, ignore_index=True), case_details


def _arms(table: pd.DataFrame) -> list[str]:
    """The arms in the order of the runs (schema.ARMS, then extra)."""
    return list(dict.fromkeys(table["arm"]))


def versus_grpo(results: pd.DataFrame) -> pd.DataFrame:
    """Per arm (index, runs' order) and measure: its mean over tasks and seeds (<measure>) and, for
    the arms other than grpo and extra when grpo ran, on how many tasks grpo's mean is below its
    own (<measure>_tasks_above_grpo; NaN for grpo and extra)."""
    arms = _arms(results)
    table = results.groupby("arm")[list(MEASURES)].mean().reindex(arms)
    if "grpo" in arms:
        per_task = results.groupby(["task", "arm"])[list(MEASURES)].mean().unstack("arm")
        for measure in MEASURES:
            above = per_task[measure].gt(per_task[(measure, "grpo")], axis=0).sum()
            table[f"{measure}_tasks_above_grpo"] = above.where(~above.index.isin(["grpo", "extra"]))
    return table


def shifted_by_arm(words: pd.DataFrame) -> pd.DataFrame:
    """shifted_words' counts summed per arm over its seeds and tasks (sorted by arm, token, kind)."""
    return words.groupby(["arm", "token", "kind"], as_index=False)[["shifted", "occurrences"]].sum()


def _shifted_per_kind(words: pd.DataFrame, arms: list[str]) -> pd.DataFrame:
    """arm x kind: how many tokens of that kind the arm shifted (seeds, tasks and tokens summed)."""
    return words.groupby(["arm", "kind"])["shifted"].sum().unstack("kind").reindex(arms).fillna(0)


def kind_shares(words: pd.DataFrame) -> pd.DataFrame:
    """Per arm (runs' order): its shifted tokens of each kind (shifted_<kind>) and their shares
    (share_<kind>, 3 decimals)."""
    kinds = _shifted_per_kind(words, _arms(words))
    return kinds.add_prefix("shifted_").join(kinds.div(kinds.sum(axis=1), axis=0).add_prefix("share_").round(3))


def top_shifted(words: pd.DataFrame, top: int, kinds=("logic", "scaffold", "content")) -> pd.DataFrame:
    """Per arm (runs' order) and kind: its `top` most-shifted tokens (summed over seeds and tasks;
    shifted at least once) as "token (count), ...", or "none"."""
    by_arm = shifted_by_arm(words)
    rows = []
    for arm in _arms(words):
        for kind in kinds:
            part = by_arm[(by_arm["arm"] == arm) & (by_arm["kind"] == kind) & (by_arm["shifted"] > 0)]
            best = part.nlargest(top, "shifted")
            listed = ", ".join(f"{t} ({n})" for t, n in zip(best["token"], best["shifted"]))
            rows.append(dict(arm=arm, kind=kind, tokens=listed or "none"))
    return pd.DataFrame(rows)


def metrics(results: pd.DataFrame, words: pd.DataFrame) -> dict:
    """reports/metrics/tokens.json: {arm: {<measure> (mean, 5 decimals), <measure>_tasks_above_grpo
    (arms other than grpo and extra, when grpo ran), share_logic_of_shifted (4 decimals)}}."""
    table = versus_grpo(results)
    kinds = _shifted_per_kind(words, list(table.index))
    logic = (kinds.get("logic", 0) / kinds.sum(axis=1)).fillna(0)  # 0 where the arm shifted nothing
    result = {}
    for arm, row in table.iterrows():
        result[arm] = {}
        for measure in MEASURES:
            result[arm][measure] = round(float(row[measure]), 5)
            if pd.notna(row.get(f"{measure}_tasks_above_grpo")):
                result[arm][f"{measure}_tasks_above_grpo"] = int(row[f"{measure}_tasks_above_grpo"])
        result[arm]["share_logic_of_shifted"] = round(float(logic[arm]), 4)
    return result


def case_studies_html(cases: pd.DataFrame, case_details: dict, runs) -> str:
    """The paper's Table 8: per case item (case_items), its prompt and the answer of each arm's
    first seed (and of every extra pair), shifted tokens highlighted. All text is HTML-escaped."""
    first_seed: dict[str, int] = {}
    for run in runs:
        first_seed[run.method] = min(first_seed.get(run.method, run.seed), run.seed)
    shown = [run.name for run in runs if run.method == "extra" or run.seed == first_seed[run.method]]
    parts = []
    for group, case in cases.iterrows():
        parts.append(f"<h4>{html.escape(GROUP_LABELS.get(group, group))} &middot; {html.escape(case['task'])} "
                     f"&middot; {html.escape(case['id'])}</h4><pre>{html.escape(case['prompt'])}</pre>")
        for name in shown:
            view = case_details[(name, group)]
            moved = sum(b != t for b, t in zip(view["rank_base"], view["rank_tuned"]))
            parts.append(f"<b>{html.escape(name)}</b>: {moved} of {len(view['pieces'])} tokens shifted"
                         + highlight_html(view))
    return "".join(parts)

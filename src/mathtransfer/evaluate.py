"""Evaluation: batched generation through the chat template, per-item records, per-task accuracy.

Generation is batched with left padding and the KV cache (`model.generate`); prompts are sorted
by length so that a batch wastes little on padding, and results are returned in input order.
Each response is scored by its task's scorer (tasks.score: the same code the rewards use).
Tasks the paper samples can be scored as the mean over n sampled answers (temperature, top-p);
per-task accuracy carries a bootstrap interval over the test items (scipy.stats.bootstrap).
Left out: vLLM generation (GPU profile, optional), several adapters in one batch.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from scipy import stats
from datasets import Dataset

from .tasks import chance, score
from .tasks.scoring import extract_answer


def chat_prompts(tokenizer, prompts: list[str]) -> list[str]:
    """User messages -> prompt strings ending with the assistant header."""
    return [tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                          add_generation_prompt=True) for p in prompts]


@torch.inference_mode()
def generate(model, tokenizer, prompts: list[str], batch_size: int = 64, max_new_tokens: int = 48,
             do_sample: bool = False, temperature: float = 1.0, top_p: float = 1.0) -> list[str]:
    """Responses (special tokens stripped) to user messages, in input order."""
    texts = chat_prompts(tokenizer, prompts)
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    outputs: list[str] = [""] * len(texts)
    model.eval()
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        batch = tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True,
                          add_special_tokens=False).to(model.device)
        generated = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=do_sample,
                                   temperature=temperature if do_sample else None,
                                   top_p=top_p if do_sample and top_p < 1 else None, top_k=None,
                                   pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
        new = generated[:, batch["input_ids"].shape[1]:]
        for i, text in zip(idx, tokenizer.batch_decode(new, skip_special_tokens=True)):
            outputs[i] = text.strip()
    return outputs


def first_per_task(test: Dataset, n_per_task: int) -> Dataset:
    """The first n items of every task (the test split is ordered by task, then item)."""
    counts: dict[str, int] = {}
    keep = []
    for i, task in enumerate(test["task"]):
        counts[task] = counts.get(task, 0) + 1
        if counts[task] <= n_per_task:
            keep.append(i)
    return test.select(keep)


def evaluate(model, tokenizer, test: Dataset, n_per_task: int, batch_size: int, max_new_tokens: int,
             sampled_tasks=(), n_samples: int = 1, temperature: float = 0.6, top_p: float = 0.95,
             seed: int = 0) -> pd.DataFrame:
    """Per-item records: id, task, group, benchmark, prompt, answer, output, parsed, score, samples.

    Greedy decoding, except for `sampled_tasks`, whose items get n_samples sampled answers
    (temperature, top_p) and score the mean of theirs, as the paper does for AIME and GPQA;
    output and parsed then show the first sample."""
    items = first_per_task(test, n_per_task)
    prompts = items["prompt"]
    sampled = [t in sampled_tasks for t in items["task"]]
    greedy_idx = [i for i, s in enumerate(sampled) if not s]
    outputs: list[list[str]] = [[] for _ in sampled]
    for i, out in zip(greedy_idx, generate(model, tokenizer, [prompts[i] for i in greedy_idx],
                                           batch_size, max_new_tokens)):
        outputs[i] = [out]
    sample_idx = [i for i, s in enumerate(sampled) if s]
    if sample_idx:
        torch.manual_seed(seed)
        many = generate(model, tokenizer, [prompts[i] for i in sample_idx for _ in range(n_samples)],
                        batch_size, max_new_tokens, True, temperature, top_p)
        for j, i in enumerate(sample_idx):
            outputs[i] = many[j * n_samples:(j + 1) * n_samples]
    records = items.select_columns(["id", "task", "group", "benchmark", "prompt", "answer", "meta"]).to_pandas()
    records["output"] = [o[0] for o in outputs]
    records["parsed"] = [extract_answer(o[0]) for o in outputs]
    records["score"] = [sum(score(t, x, a, m) for x in o) / len(o) for t, o, a, m in
                        zip(records["task"], outputs, records["answer"], records["meta"])]
    records["samples"] = [len(o) for o in outputs]
    return records.drop(columns="meta")


def pass_at_k(model, tokenizer, test: Dataset, tasks: list[str], n_per_task: int, k: int,
              batch_size: int, max_new_tokens: int, seed: int) -> pd.DataFrame:
    """Sampled decoding (temperature 1.0), k answers per item: per task, pass@1 (mean score of all
    samples) and pass@k (share of items with at least one correct sample)."""
    items = first_per_task(test.filter(lambda row: row["task"] in tasks), n_per_task)
    prompts = [p for p in items["prompt"] for _ in range(k)]
    torch.manual_seed(seed)
    outputs = generate(model, tokenizer, prompts, batch_size, max_new_tokens, do_sample=True)
    rows = []
    for i, (task, answer, meta) in enumerate(zip(items["task"], items["answer"], items["meta"])):
        scores = [score(task, o, answer, meta) for o in outputs[i * k:(i + 1) * k]]
        rows.append(dict(task=task, pass1=sum(scores) / k, passk=float(max(scores) == 1.0)))
    return (pd.DataFrame(rows).groupby("task", sort=False)
              .agg(pass1=("pass1", "mean"), passk=("passk", "mean"), n=("pass1", "size"))
              .reset_index().assign(k=k))


def accuracy(records: pd.DataFrame, model: str, method: str, seed: int, confidence: float = 0.95,
             n_resamples: int = 1000, rng_seed: int = 0) -> pd.DataFrame:
    """Tidy per-task accuracy with a bootstrap interval over test items (scipy.stats.bootstrap,
    percentile method): model, method, seed, task, benchmark, group, accuracy, ci_low, ci_high,
    n, chance."""
    rows = []
    for (task, benchmark, group), items in records.groupby(["task", "benchmark", "group"], sort=False):
        scores = items["score"].to_numpy(float)
        if len(scores) > 1 and scores.min() < scores.max():
            ci = stats.bootstrap((scores,), np.mean, confidence_level=confidence, n_resamples=n_resamples,
                                 method="percentile", random_state=rng_seed).confidence_interval
            low, high = float(ci.low), float(ci.high)
        else:  # every item scored alike: the resamples cannot vary
            low = high = float(scores.mean())
        rows.append(dict(model=model, method=method, seed=seed, task=task, benchmark=benchmark, group=group,
                         accuracy=float(scores.mean()), ci_low=low, ci_high=high, n=len(scores),
                         chance=chance(task)))
    return pd.DataFrame(rows)


def group_means(acc: pd.DataFrame) -> pd.DataFrame:
    """Mean accuracy per model, method, seed and group (each task weighs the same)."""
    return (acc.groupby(["model", "method", "seed", "group"], sort=False)["accuracy"].mean()
               .unstack("group").reset_index())

"""Evaluation: batched generation through the chat template, per-item records, per-task accuracy.

Generation is batched with left padding and the KV cache (`model.generate`); prompts are sorted
by length so that a batch wastes little on padding, and results are returned in input order.
Each response is scored by its task's scorer (tasks.score: the same code the rewards use).
Left out (for now): sampled decoding averaged over n answers, bootstrap intervals, adapters of
several seeds at once; the evaluation stage extends this module rather than duplicating it.
"""
from __future__ import annotations

import pandas as pd
import torch
from datasets import Dataset

from .tasks import TASKS, score
from .tasks.scoring import extract_answer


def chat_prompts(tokenizer, prompts: list[str]) -> list[str]:
    """User messages -> prompt strings ending with the assistant header."""
    return [tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                          add_generation_prompt=True) for p in prompts]


@torch.inference_mode()
def generate(model, tokenizer, prompts: list[str], batch_size: int = 64, max_new_tokens: int = 48,
             do_sample: bool = False, temperature: float = 1.0) -> list[str]:
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
                                   temperature=temperature if do_sample else None, top_p=None, top_k=None,
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


def evaluate(model, tokenizer, test: Dataset, n_per_task: int, batch_size: int,
             max_new_tokens: int) -> pd.DataFrame:
    """Greedy per-item records: id, task, group, benchmark, prompt, answer, output, parsed, score."""
    items = first_per_task(test, n_per_task)
    outputs = generate(model, tokenizer, items["prompt"], batch_size, max_new_tokens)
    records = items.select_columns(["id", "task", "group", "benchmark", "prompt", "answer", "meta"]).to_pandas()
    records["output"] = outputs
    records["parsed"] = [extract_answer(o) for o in outputs]
    records["score"] = [score(t, o, a, m) for t, o, a, m in
                        zip(records["task"], outputs, records["answer"], records["meta"])]
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


def accuracy(records: pd.DataFrame, model: str, method: str, seed: int) -> pd.DataFrame:
    """Tidy per-task accuracy: model, method, seed, task, benchmark, group, accuracy, n, chance."""
    acc = (records.groupby(["task", "benchmark", "group"], sort=False)["score"]
                  .agg(accuracy="mean", n="size").reset_index())
    acc["chance"] = [TASKS[t].chance for t in acc["task"]]
    acc.insert(0, "seed", seed)
    acc.insert(0, "method", method)
    acc.insert(0, "model", model)
    return acc


def group_means(acc: pd.DataFrame) -> pd.DataFrame:
    """Mean accuracy per model, method, seed and group (each task weighs the same)."""
    return (acc.groupby(["model", "method", "seed", "group"], sort=False)["accuracy"].mean()
               .unstack("group").reset_index())

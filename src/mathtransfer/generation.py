"""Generation: batched answers of a model to user messages, and per-item records (answer + score).

Generation is batched with left padding and the KV cache (`model.generate`); prompts are sorted
by length so that a batch wastes little on padding, and results are returned in input order.
Each response is scored by its task's scorer (scorers.score: the same code the rewards use).
Tasks the paper samples can be scored as the mean over n sampled answers (temperature, top-p).
Training (rft's sampling, checkpoint scores) and evaluation both generate through this module.
Also here: a model's log-probabilities over the vocabulary along given responses, and the exact
forward KL between two models on them (checkpoint KL to the base; tokens.py's shift measures).
Left out: vLLM generation (GPU profile, optional), several adapters in one batch, aggregation
(evaluate.py).
"""
from __future__ import annotations

import pandas as pd
import torch
from datasets import Dataset

from .models import chat_prompts, end_of_turn_ids, free_memory
from .scorers import score, score_lenient
from .tasks.scoring import extract_answer


@torch.inference_mode()
def generate(model, tokenizer, prompts: list[str], batch_size: int = 64, max_new_tokens: int = 48,
             do_sample: bool = False, temperature: float = 1.0, top_p: float = 1.0) -> list[str]:
    """Responses (special tokens stripped) to user messages, in input order. An answer ends at
    eos or at the chat turn's end (models.end_of_turn_ids). A batch that runs out of GPU memory is
    retried in halves, and later batches keep the smaller size."""
    texts = chat_prompts(tokenizer, prompts)
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    outputs: list[str] = [""] * len(texts)
    settings = dict(max_new_tokens=max_new_tokens, do_sample=do_sample,
                    temperature=temperature if do_sample else None,
                    top_p=top_p if do_sample and top_p < 1 else None, top_k=None,
                    pad_token_id=tokenizer.pad_token_id, eos_token_id=end_of_turn_ids(tokenizer))
    model.eval()
    start = 0
    while start < len(order):
        idx = order[start:start + batch_size]
        batch = tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True,
                          add_special_tokens=False).to(model.device)
        try:
            generated = model.generate(**batch, **settings)
        except torch.OutOfMemoryError:
            if batch_size == 1:
                raise
            del batch
            free_memory()
            batch_size //= 2
            print(f"generation: out of memory at {len(idx)} prompts per batch; retrying with {batch_size}")
            continue
        new = generated[:, batch["input_ids"].shape[1]:]
        for i, text in zip(idx, tokenizer.batch_decode(new, skip_special_tokens=True)):
            outputs[i] = text.strip()
        start += len(idx)
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


def records(model, tokenizer, test: Dataset, n_per_task: int, batch_size: int, max_new_tokens: int,
             sampled_tasks=(), n_samples: int = 1, temperature: float = 0.6, top_p: float = 0.95,
             seed: int = 0) -> pd.DataFrame:
    """Per-item records: id, task, group, benchmark, prompt, answer, output, parsed, score, lenient
    (the score with the answer marker optional: scorers.score_lenient), samples.

    Greedy decoding, except for `sampled_tasks`, whose items get n_samples sampled answers
    (temperature, top_p) and score (and lenient) the mean of theirs, as the paper does for AIME and GPQA;
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
    strict = [[score(t, x, a, m) for x in o] for t, o, a, m in
              zip(records["task"], outputs, records["answer"], records["meta"])]
    records["score"] = [sum(s) / len(s) for s in strict]
    # the same score with the answer marker optional: knowledge apart from format (evaluate.format_vs_content)
    records["lenient"] = [sum(score_lenient(t, x, a, m, s) for x, s in zip(o, ss)) / len(o) for t, o, a, m, ss in
                          zip(records["task"], outputs, records["answer"], records["meta"], strict)]
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


@torch.inference_mode()
def position_logprobs(model, sequences: list[list[int]], starts: list[int], pad: int) -> list[torch.Tensor]:
    """Per sequence (token ids, right-padded here): next-token log-probabilities (float32, positions
    x vocab) predicting its tokens start..end, i.e. the response after a prompt of `start` tokens."""
    width = max(map(len, sequences))
    ids = torch.tensor([s + [pad] * (width - len(s)) for s in sequences], device=model.device)
    mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in sequences], device=model.device)
    # logits only from the first response position on: a 152k vocabulary over whole prompts
    # would not fit a small GPU
    first = min(starts) - 1
    logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=width - first).logits
    return [torch.log_softmax(logits[i, start - 1 - first:len(s) - 1 - first].float(), -1)
            for i, (s, start) in enumerate(zip(sequences, starts))]


def response_token_ids(tokenizer, responses: list[str]) -> list[list[int]]:
    """Each response's token ids followed by the token that ends the turn (response_logprobs' targets)."""
    end = end_of_turn_ids(tokenizer)[-1:]
    return [ids + end for ids in tokenizer(list(responses), add_special_tokens=False)["input_ids"]]


def response_logprobs(model, tokenizer, prompts: list[str], responses: list[str], batch_size: int = 32
                      ) -> list[torch.Tensor]:
    """position_logprobs of each (user prompt, response) pair in the chat template, on the CPU. Each
    response is followed by the token that ends the turn: when to stop is part of the answer, and an
    empty answer still has that one position."""
    model.eval()
    prompt_ids = tokenizer(chat_prompts(tokenizer, prompts), add_special_tokens=False)["input_ids"]
    response_ids = response_token_ids(tokenizer, responses)
    out = []
    for start in range(0, len(prompts), batch_size):
        batch = range(start, min(start + batch_size, len(prompts)))
        out += [lp.cpu() for lp in position_logprobs(model, [prompt_ids[i] + response_ids[i] for i in batch],
                                                     [len(prompt_ids[i]) for i in batch], tokenizer.pad_token_id)]
    return out


def forward_kl(base: list[torch.Tensor], tuned: list[torch.Tensor]) -> float:
    """KL(base || tuned) of the next-token distributions, exact over the vocabulary, averaged over
    every position of every response (pooled): the forward KL that RL's Razor (Shenfeld et al. 2025)
    finds predictive of forgetting. NaN when there are no positions."""
    total, positions = 0.0, 0
    for lp_base, lp_tuned in zip(base, tuned):
        vocab = min(lp_base.shape[-1], lp_tuned.shape[-1])  # hub models may pad their vocabularies apart
        lp_base, lp_tuned = lp_base[:, :vocab].double(), lp_tuned[:, :vocab].double()
        total += float((lp_base.exp() * (lp_base - lp_tuned)).sum(-1).clamp(min=0).sum())
        positions += lp_base.shape[0]
    return total / positions if positions else float("nan")


def sampled_kl(base: list[torch.Tensor], tuned: list[torch.Tensor], token_ids: list[list[int]]) -> float:
    """The paper's token-level "KL" estimate on given responses: |mean over their actual tokens of
    log p_base(y_t) - log p_tuned(y_t)| (pooled over every position; tokens.py's kl_paper is the
    same estimator on the tuned model's own samples). NaN when there are no positions."""
    total, positions = 0.0, 0
    for lp_base, lp_tuned, ids in zip(base, tuned, token_ids):
        index = torch.tensor(ids[:lp_base.shape[0]]).unsqueeze(-1)
        total += float((lp_base.double().gather(-1, index) - lp_tuned.double().gather(-1, index)).sum())
        positions += index.shape[0]
    return abs(total) / positions if positions else float("nan")


@torch.no_grad()
def parameter_distance(base: dict[str, torch.Tensor], model) -> float:
    """||theta - theta_base||_2 over every parameter the two share by name (float64); base:
    name -> tensor from the base's named_parameters (a tied weight counts once)."""
    total = 0.0
    for name, value in model.named_parameters():
        if name in base:
            total += float(((value.detach().cpu().double() - base[name].double()) ** 2).sum())
    return total ** 0.5

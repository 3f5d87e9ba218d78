"""Pretraining of the tiny base model (mini-world only): TRL's SFTTrainer from a random init.

The base model learns every task from its base-style target (loss on the response only), so it
starts as a generalist whose math traces mix the right strategy with one systematic wrong one.
Batches are drawn at random, not grouped by length: length-grouped batches are nearly
single-task, and in a 1,200-step trial they left the loss at 0.60 against 0.07 with mixed batches
(the padding they save was worth less than the learning they cost).
`flop_rate` reports how much of this CPU's measured matmul throughput the training reaches.
Left out: pretraining a hub model (the GPU profile starts from Qwen3 base weights instead).
"""
from __future__ import annotations

import time

import pandas as pd
import torch
from datasets import Dataset

from .config import BaseConfig
from .trainer_args import run_args
from .models import MODEL_MARKERS
from .storage import atomic_dir


def as_conversations(ds: Dataset, response_column: str = "target", keep: tuple[str, ...] = ()) -> Dataset:
    """Rows -> TRL's conversational prompt/completion format (the chat template is applied by TRL),
    with the columns in `keep` kept as they are."""
    return ds.map(lambda row: {
        "prompt": [{"role": "user", "content": row["prompt"]}],
        "completion": [{"role": "assistant", "content": row[response_column]}],
    }, remove_columns=[c for c in ds.column_names if c not in keep])


def sft_config(cfg: BaseConfig, out_dir: str, seed: int):
    """The SFTConfig of pretraining: every number comes from params.yaml's `base` section."""
    from trl import SFTConfig

    return SFTConfig(
        output_dir=out_dir, max_steps=cfg.steps, per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.lr, lr_scheduler_type="cosine_with_min_lr",
        lr_scheduler_kwargs={"min_lr_rate": cfg.min_lr_ratio}, warmup_steps=cfg.warmup_steps,
        weight_decay=cfg.weight_decay, adam_beta1=0.9, adam_beta2=0.98,
        max_grad_norm=cfg.max_grad_norm, max_length=cfg.max_length, completion_only_loss=True,
        logging_steps=min(cfg.logging_steps, cfg.steps),
        save_strategy="no", dataset_num_proc=max(1, torch.get_num_threads()),
        **run_args(seed),
    )


def pretrain(cfg: BaseConfig, train: Dataset, model, tokenizer, seed: int, out_dir: str) -> pd.DataFrame:
    """Train `model` on the base-style targets of `train`; save it and the tokenizer to out_dir.

    Returns the log history (step, loss, grad_norm, learning_rate, plus the final runtime row).
    The model is written atomically (storage.atomic_dir) when training is complete.
    """
    from datasets.utils.logging import disable_progress_bar
    from transformers import PrinterCallback
    from trl import SFTTrainer

    disable_progress_bar()  # the notebook is the report: no progress-bar noise in it
    with atomic_dir(out_dir, marker=MODEL_MARKERS) as work:
        trainer = SFTTrainer(model=model, args=sft_config(cfg, work, seed),
                             train_dataset=as_conversations(train), processing_class=tokenizer)
        trainer.remove_callback(PrinterCallback)  # the loss curve is plotted; no dict per log line
        tokens = sum(len(ids) for ids in trainer.train_dataset["input_ids"])
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
        model.save_pretrained(work, safe_serialization=True)
        tokenizer.save_pretrained(work)
    log = pd.DataFrame(trainer.state.log_history)
    log.attrs.update(seconds=seconds, dataset_tokens=tokens,
                     tokens_seen=tokens / len(train) * cfg.steps * cfg.batch_size)
    return log


def matmul_gflops(n: int = 4096, k: int = 128, m: int = 512, repeats: int = 20, trials: int = 5) -> float:
    """fp32 matmul throughput (GFLOP/s) at a shape like the model's MLP with the current threads:
    the best of `trials` timings, since a busy moment only ever makes a timing slower."""
    a, b = torch.randn(n, k), torch.randn(k, m)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(trials):
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n * k * m * repeats / best / 1e9


def flop_rate(n_params: int, tokens: float, seconds: float) -> float:
    """Achieved training GFLOP/s by the 6 * parameters * tokens rule (attention not counted)."""
    return 6 * n_params * tokens / seconds / 1e9


def tokenizer_texts(train: Dataset) -> list[str]:
    """Every training text the tokenizer is trained on (teacher traces included, so that their
    words exist in the vocabulary)."""
    return [t for column in ("prompt", "target", "teacher_think", "teacher_nothink") for t in train[column] if t]


def build_base(cfg: BaseConfig, train: Dataset, seed: int, out_dir: str) -> pd.DataFrame:
    """Notebook 01_base's steps in one call: tokenizer, tiny Qwen3 from `seed`, pretraining, saved
    to out_dir; returns pretrain's log (a second base of another seed: worldcheck)."""
    from . import models

    tokenizer = models.train_tokenizer(tokenizer_texts(train), cfg.vocab_size)
    return pretrain(cfg, train, models.build_tiny_qwen3(cfg, tokenizer, seed), tokenizer, seed, out_dir)

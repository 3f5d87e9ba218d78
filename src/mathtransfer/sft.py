"""Math-only SFT arms, a thin layer over TRL's SFTTrainer.

- sft-think / sft-nothink: off-policy SFT on the teacher traces (columns teacher_think /
  teacher_nothink) of the math training split, mirroring the paper's Qwen3-32B teacher.
- rft: on-policy SFT. `rejection_sample` draws k answers per math prompt from the base model
  itself (temperature 1.0) and keeps the correct ones; SFT then trains on them.
Checkpoints are written every `save_steps` (into `<out_dir>-checkpoints` unless told otherwise);
a rerun resumes from the last complete one, and the final model (or LoRA adapter) is saved with
save_pretrained, atomically.
Left out: packing, multi-GPU launch (accelerate handles it), the DVC stages and notebooks.
"""
from __future__ import annotations

import json
import os
import shutil

import torch
from datasets import Dataset

from . import models
from .config import TrainConfig
from .evaluate import generate
from .pretrain import as_conversations
from .storage import atomic_dir
from .tasks import score

def rejection_sample(model, tokenizer, rows: Dataset, k: int, max_new_tokens: int, batch_size: int,
                     seed: int) -> Dataset:
    """The model's own correct answers: k samples per prompt at temperature 1.0, scored by the
    task scorer; returns rows with `target` replaced by a correct sample (one row per sample kept)."""
    prompts = [p for p in rows["prompt"] for _ in range(k)]
    torch.manual_seed(seed)
    outputs = generate(model, tokenizer, prompts, batch_size, max_new_tokens, do_sample=True)
    kept = []
    for i, row in enumerate(rows):
        for out in outputs[i * k:(i + 1) * k]:
            if score(row["task"], out, row["answer"], row["meta"]) == 1.0:
                kept.append({**row, "target": out})
    return Dataset.from_list(kept) if kept else rows.select([])


def default_checkpoint_dir(out_dir: str) -> str:
    return out_dir.rstrip("/") + "-checkpoints"


def _state(checkpoint: str) -> dict | None:
    """A checkpoint's trainer_state.json, or None when it is missing or cut short."""
    try:
        with open(os.path.join(checkpoint, "trainer_state.json")) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def checkpoint_folders(ckpt_dir: str) -> list[tuple[int, str]]:
    """(step, folder) of every `checkpoint-<step>` folder in ckpt_dir, in step order."""
    if not os.path.isdir(ckpt_dir):
        return []
    return sorted((int(d.split("-")[1]), os.path.join(ckpt_dir, d)) for d in os.listdir(ckpt_dir)
                  if d.startswith("checkpoint-") and d.split("-")[1].isdigit())


def last_complete_checkpoint(ckpt_dir: str) -> str | None:
    """The newest checkpoint that was written to the end, or None. The Trainer writes
    trainer_state.json last, so a checkpoint without a readable one was cut short (crash,
    kill -9): it is removed rather than resumed from."""
    for _, path in reversed(checkpoint_folders(ckpt_dir)):
        if _state(path) is not None:
            return path
        shutil.rmtree(path)
    return None


def checkpoint_step(checkpoint: str | None) -> int:
    """The optimizer step a checkpoint was taken at (0 for None)."""
    return _state(checkpoint)["global_step"] if checkpoint else 0


def train_and_save(trainer, tokenizer, out_dir: str, mode: str):
    """Train (resuming from the newest complete checkpoint if one exists), then save the model or
    adapter atomically; returns the log history. Shared by every arm. A run whose last checkpoint
    is already at max_steps is not trained further (resuming would add a step): its weights are
    taken from that checkpoint."""
    from transformers import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # curves are saved and plotted; no dict per log line
    last = last_complete_checkpoint(trainer.args.output_dir)
    if last and checkpoint_step(last) >= trainer.args.max_steps:
        trainer._load_from_checkpoint(last)
        history = _state(last)["log_history"]
    else:
        trainer.train(resume_from_checkpoint=last)
        history = trainer.state.log_history
    with atomic_dir(out_dir, marker="config.json" if mode == "full" else "adapter_config.json") as tmp:
        trainer.model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    return history


def train_sft(cfg: TrainConfig, base_path: str, rows: Dataset, response_column: str, out_dir: str,
              seed: int, checkpoints: str | None = None):
    """SFT of the base on (prompt, rows[response_column]); returns the trainer's log history.
    Checkpoints go to `checkpoints` (default: <out_dir>-checkpoints)."""
    from trl import SFTConfig, SFTTrainer

    model, tokenizer = models.load_model(base_path, cfg.mode, lora_r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
                                         gradient_checkpointing=cfg.gradient_checkpointing)
    args = SFTConfig(
        output_dir=checkpoints or default_checkpoint_dir(out_dir), max_steps=cfg.sft_steps,
        per_device_train_batch_size=max(1, cfg.sft_batch_size // cfg.grad_accum),
        learning_rate=cfg.sft_lr, lr_scheduler_type="constant_with_warmup", warmup_steps=0,
        max_length=cfg.sft_max_length or model.config.max_position_embeddings,
        max_grad_norm=cfg.max_grad_norm, completion_only_loss=True, logging_steps=1,
        save_strategy="steps", save_steps=cfg.save_steps,
        **models.trainer_run_args(seed, cfg.gradient_checkpointing, cfg.optim, cfg.grad_accum),
    )
    trainer = SFTTrainer(model=model, args=args, processing_class=tokenizer,
                         train_dataset=as_conversations(rows, response_column))
    return train_and_save(trainer, tokenizer, out_dir, cfg.mode)

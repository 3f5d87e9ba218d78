"""Math-only SFT arms, a thin layer over TRL's SFTTrainer.

- sft-think / sft-nothink: off-policy SFT on the teacher traces (columns teacher_think /
  teacher_nothink) of the math training split, mirroring the paper's Qwen3-32B teacher.
- rft: on-policy SFT. `rejection_sample` draws k answers per math prompt from the base model
  itself (temperature 1.0) and keeps the correct ones; SFT then trains on them.
Also the trainer of sft-self (rounds of rft, arms.self_rounds: `stop_at`, `fresh_data`), of
sft-think-lora (`mode`) and of rl-offpolicy (an SFTTrainer subclass, offpolicy.py: `trainer_class`).
Checkpoints are written every `save_steps` (into `<out_dir>-checkpoints` unless told otherwise);
a rerun resumes from the last complete one, and the final model (or LoRA adapter) is saved with
save_pretrained, atomically (checkpoints.train_and_save).
Left out: packing, multi-GPU launch (accelerate handles it), the DVC stages and notebooks.
"""
from __future__ import annotations

import torch
from datasets import Dataset

from . import models
from .checkpoints import default_checkpoint_dir, train_and_save
from .config import TrainConfig
from .generation import generate
from .pretrain import as_conversations
from .scorers import score
from .trainer_args import run_args

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


def train_sft(cfg: TrainConfig, base_path: str, rows: Dataset, response_column: str, out_dir: str,
              seed: int, checkpoints: str | None = None, lr: float | None = None, mode: str | None = None,
              trainer_class=None, keep_columns: tuple[str, ...] = (), stop_at: int | None = None,
              fresh_data: bool = False, in_order: bool = False):
    """SFT of the base on (prompt, rows[response_column]); returns the trainer's log history.
    Checkpoints go to `checkpoints` (default: <out_dir>-checkpoints). lr: peak learning rate
    (default cfg.sft_lr), warmup over cfg.sft_warmup_ratio of the steps, then cosine decay. mode:
    the weights trained (default cfg.mode; config.arm_mode gives an arm's). trainer_class: an
    SFTTrainer subclass (offpolicy.AdvantageSFTTrainer) that reads the columns in keep_columns.
    stop_at: stop (with a checkpoint, and no final model) at this step, the schedule still running to
    sft_steps; fresh_data: `rows` are new data for a resumed run, read from their start (sft-self's
    rounds: arms.self_rounds); in_order: batches in the rows' order (rl-offpolicy's whole groups), not
    shuffled."""
    from trl import SFTConfig, SFTTrainer

    model, tokenizer = models.load_model(base_path, mode or cfg.mode, lora_r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
                                         gradient_checkpointing=cfg.gradient_checkpointing,
                                         fp32_upcast=cfg.qlora_fp32_upcast)
    args = SFTConfig(
        output_dir=checkpoints or default_checkpoint_dir(out_dir), max_steps=cfg.sft_steps,
        per_device_train_batch_size=max(1, cfg.sft_batch_size // cfg.grad_accum),
        learning_rate=lr or cfg.sft_lr, lr_scheduler_type="cosine",
        # transformers 5: a float below 1 is a share of the steps (TrainingArguments.get_warmup_steps)
        warmup_steps=cfg.sft_warmup_ratio,
        max_length=cfg.sft_max_length or model.config.max_position_embeddings,
        max_grad_norm=cfg.max_grad_norm, completion_only_loss=True, logging_steps=1,
        save_strategy="steps", save_steps=cfg.save_steps, remove_unused_columns=not keep_columns,
        ignore_data_skip=fresh_data, train_sampling_strategy="sequential" if in_order else "random",
        **run_args(seed, cfg.gradient_checkpointing, cfg.optim, cfg.grad_accum),
    )
    trainer = (trainer_class or SFTTrainer)(model=model, args=args, processing_class=tokenizer,
                                            train_dataset=as_conversations(rows, response_column, keep_columns))
    if stop_at is not None:
        trainer.add_callback(_stop_at(stop_at))
    return train_and_save(trainer, tokenizer, out_dir, save=stop_at is None)


def _stop_at(step: int):
    """A callback that saves a checkpoint and stops training once the trainer reaches `step`."""
    from transformers import TrainerCallback

    class StopAt(TrainerCallback):
        def on_step_end(self, args, state, control, **_):
            if state.global_step >= step:
                control.should_save = control.should_training_stop = True
            return control

    return StopAt()

"""The TrainingArguments every trainer of the project shares (pretraining, SFT, GRPO).

Device and precision: fp32 and no activation checkpointing on CPU (stack-notes gotchas 1-2),
bf16 where a GPU has it; seeds; no reporting or progress bars; and the memory savers the GPU
profile turns on (gradient checkpointing, 8-bit paged AdamW, gradient accumulation).
Left out: each trainer's own settings (pretrain.py, sft.py, grpo.py).
"""
from __future__ import annotations

import torch


def run_args(seed: int, gradient_checkpointing: bool = False, optim: str = "adamw_torch_fused",
                     grad_accum: int = 1) -> dict:
    """TrainingArguments every trainer here shares: device and precision (fp32 and no activation
    checkpointing on CPU, stack-notes gotchas 1-2; bf16 where a GPU has it), seeds, no reporting;
    and the memory savers the GPU profile turns on (gradient checkpointing, 8-bit paged AdamW,
    gradient accumulation)."""
    cpu = not torch.cuda.is_available()
    return dict(use_cpu=cpu, bf16=(not cpu) and torch.cuda.is_bf16_supported(),
                activation_checkpointing=gradient_checkpointing and not cpu, optim=optim,
                gradient_accumulation_steps=grad_accum, seed=seed, data_seed=seed, report_to="none",
                disable_tqdm=True, dataloader_num_workers=0)

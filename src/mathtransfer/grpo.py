"""The math-only RL arm: GRPO through TRL's GRPOTrainer, with the paper's choices where they scale.

Reward: the task scorer's correctness (rewards.correctness_reward), plus an optional format term
(off by default); the grpo-random arm's is a seeded coin (rewards.coin_reward). No KL term by
default (beta 0; the grpo-kl arm's is train.kl_beta, config.arm_beta), clipping 0.2 / 0.28 (DAPO clip-higher), one rollout
batch for several optimizer steps (train.rl_steps_per_rollout; the paper: 4 mini-batches),
rollout temperature 1.0, group size and completion length from params. Checkpoints every
`save_steps`; a rerun resumes from the last complete one.
Prompts go to TRL as chat messages, so that its rollouts use the chat template, and they stop at the
turn's end (models.load_model sets the generation config's end tokens).
vLLM rollouts are TRL's (train.use_vllm, colocate mode: one GPU, shared with training; refused with
qlora by config.TrainConfig).
Left out: the DVC stage and its notebook.
"""
from __future__ import annotations

from datasets import Dataset

from . import models
from .checkpoints import default_checkpoint_dir, train_and_save
from .config import TrainConfig, arm_beta, arm_lr, arm_mode, rollouts_per_micro_batch
from .rewards import coin_reward, correctness_reward, format_reward
from .schema import ARMS
from .trainer_args import run_args


def as_prompts(rows: Dataset) -> Dataset:
    """Rows -> TRL's conversational prompt format, keeping the columns the reward reads."""
    return rows.map(lambda row: {"prompt": [{"role": "user", "content": row["prompt"]}]},
                    remove_columns=[c for c in rows.column_names if c not in ("prompt", "task", "answer", "meta")])


def train_grpo(cfg: TrainConfig, base_path: str, rows: Dataset, out_dir: str, seed: int,
               checkpoints: str | None = None, arm: str = "grpo"):
    """GRPO of the base on the prompts of `rows` with `arm`'s reward, KL term and learning rate
    (schema.ARMS); returns the trainer's log history. Checkpoints go to `checkpoints` (default:
    <out_dir>-checkpoints)."""
    from trl import GRPOConfig, GRPOTrainer

    model, tokenizer = models.load_model(base_path, arm_mode(cfg, arm), lora_r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
                                         gradient_checkpointing=cfg.gradient_checkpointing,
                                         fp32_upcast=cfg.qlora_fp32_upcast)
    rewards, weights = [coin_reward(seed) if ARMS[arm].reward == "coin" else correctness_reward], [1.0]
    if cfg.format_weight > 0:
        rewards.append(format_reward)
        weights.append(cfg.format_weight)
    args = GRPOConfig(
        output_dir=checkpoints or default_checkpoint_dir(out_dir), max_steps=cfg.rl_steps, learning_rate=arm_lr(cfg, arm),
        lr_scheduler_type="constant_with_warmup", warmup_steps=0,
        # a step's rollouts (prompts x generations) in grad_accum micro-batches. TRL counts
        # steps_per_generation in micro-batches: one rollout batch serves rl_steps_per_rollout optimizer
        # steps; or, on a small GPU, a step's rollouts come in calls of generation_batch_size (then
        # rl_steps_per_rollout is 1, config.TrainConfig.cross_check)
        per_device_train_batch_size=rollouts_per_micro_batch(cfg),
        generation_batch_size=cfg.generation_batch_size or None,
        steps_per_generation=None if cfg.generation_batch_size else cfg.rl_steps_per_rollout * cfg.grad_accum,
        num_generations=cfg.num_generations, max_completion_length=cfg.max_completion_length,
        use_vllm=cfg.use_vllm, vllm_mode="colocate", vllm_max_model_length=cfg.vllm_max_model_length,
        vllm_gpu_memory_utilization=cfg.vllm_gpu_memory_utilization,
        temperature=cfg.temperature, beta=arm_beta(cfg, arm), epsilon=cfg.epsilon, epsilon_high=cfg.epsilon_high,
        max_grad_norm=cfg.max_grad_norm, reward_weights=weights, logging_steps=1,
        save_strategy="steps", save_steps=cfg.save_steps,
        **run_args(seed, cfg.gradient_checkpointing, cfg.optim, cfg.grad_accum),
    )
    trainer = GRPOTrainer(model=model, reward_funcs=rewards, args=args, train_dataset=as_prompts(rows),
                          processing_class=tokenizer)
    return train_and_save(trainer, tokenizer, out_dir)

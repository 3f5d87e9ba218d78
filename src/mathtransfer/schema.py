"""Names shared by every floor: the item columns, the three groups, the training arms (what each
trains on and how) and how their runs are named. Plain constants: any module may use them.

Left out: what the columns hold (tasks/__init__.py documents an item) and any behaviour (arms.py
trains an arm as its Arm entry says).
"""
from __future__ import annotations

from dataclasses import dataclass

# every item, mini-world or hub, has exactly these columns (all strings)
COLUMNS = ["id", "task", "group", "benchmark", "prompt", "answer", "target",
           "teacher_think", "teacher_nothink", "meta"]
GROUPS = ("math", "other", "non")  # math | other reasoning | non-reasoning
GROUP_LABELS = {"math": "math", "other": "other reasoning", "non": "non-reasoning"}
# `benchmark` of the hub source's training rows: the SFT set (teacher traces) and the RL set
SFT_SET, RL_SET = "math_sft_40K", "math_rl_48k"


@dataclass(frozen=True)
class Arm:
    """How an arm trains (the paper's unified view: sampling distribution q, weights w, KL term).

    trainer: "sft" (TRL's SFTTrainer on `column`), "grpo" (TRL's GRPOTrainer on its own rollouts) or
      "offpolicy" (the policy-gradient loss on groups of teacher responses, offpolicy.py).
    column: the math training split's column an SFT arm learns from ("target" for rft: replaced by
      the base's own correct samples). reward (grpo): "correct" (the task scorer) or "coin" (a seeded
      coin flip, independent of correctness). kl (grpo): a KL penalty to the base, train.kl_beta.
    lora: trained through LoRA adapters whatever train.mode says.
    regenerate (an SFT arm on "target"): its samples are drawn again from the current policy every
      train.self_every steps (sft-self), instead of once from the base (rft)."""

    trainer: str
    column: str | None = None
    reward: str = "correct"
    kl: bool = False
    lora: bool = False
    regenerate: bool = False


# the study's arms, in the order every table and figure shows them
ARMS = {"sft-think": Arm("sft", "teacher_think"), "sft-nothink": Arm("sft", "teacher_nothink"),
        "rft": Arm("sft", "target"), "grpo": Arm("grpo"),
        "grpo-kl": Arm("grpo", kl=True), "grpo-random": Arm("grpo", reward="coin"),
        "sft-think-lora": Arm("sft", "teacher_think", lora=True), "rl-offpolicy": Arm("offpolicy", "teacher_think"),
        "sft-self": Arm("sft", "target", regenerate=True)}


def arms_trained_by(trainer: str) -> list[str]:
    """The arms (in ARMS order) whose Arm.trainer is `trainer` ("sft", "grpo" or "offpolicy")."""
    return [arm for arm, spec in ARMS.items() if spec.trainer == trainer]


def run_name(arm: str, seed: int) -> str:
    """A run's folder name, under train.out_dir (final model) and train.checkpoint_dir."""
    return f"{arm}-seed{seed}"

"""Names shared by every floor: the item columns, the three groups, the training arms and how
their runs are named. Plain constants, no imports: any module may use them.

Left out: what the columns hold (tasks/__init__.py documents an item) and any behaviour.
"""
from __future__ import annotations

# every item, mini-world or hub, has exactly these columns (all strings)
COLUMNS = ["id", "task", "group", "benchmark", "prompt", "answer", "target",
           "teacher_think", "teacher_nothink", "meta"]
GROUPS = ("math", "other", "non")  # math | other reasoning | non-reasoning
GROUP_LABELS = {"math": "math", "other": "other reasoning", "non": "non-reasoning"}
# `benchmark` of the hub source's training rows: the SFT set (teacher traces) and the RL set
SFT_SET, RL_SET = "math_sft_40K", "math_rl_48k"
# arm -> the column of the math training split it learns from (grpo learns from its own rollouts)
ARMS = {"sft-think": "teacher_think", "sft-nothink": "teacher_nothink", "rft": "target", "grpo": None}


def run_name(arm: str, seed: int) -> str:
    """A run's folder name, under train.out_dir (final model) and train.checkpoint_dir."""
    return f"{arm}-seed{seed}"

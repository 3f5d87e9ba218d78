"""Rewards for GRPO, in TRL's reward-function form: (completions, **dataset columns) -> floats.

The reward is the task scorer's verdict (scorers.score, the code that evaluation uses): 1.0 for a
correct answer, 0.0 otherwise, and never 1.0 when the gold answer cannot be parsed. An optional
format term (off by default) rewards ending with a parsable `Answer: X` or `\\boxed{X}`.
`coin_reward` is the Spurious Rewards control (grpo-random): a fair coin per rollout, seeded by
the run's seed, the step and the rollout's place in the batch, independent of what was written.
Left out: learned reward models, length penalties.
"""
from __future__ import annotations

import hashlib

from .scorers import score
from .tasks.scoring import extract_answer


def _text(completion) -> str:
    """A completion as text: TRL passes a list of chat messages for conversational data."""
    if isinstance(completion, list):
        return "".join(m.get("content", "") for m in completion if isinstance(m, dict))
    return completion if isinstance(completion, str) else ""


def correctness_reward(completions, task, answer, meta=None, **_) -> list[float]:
    """1.0 where the scorer accepts the completion's answer, else 0.0 (one float per completion)."""
    meta = meta if meta is not None else ["{}"] * len(completions)
    return [score(t, _text(c), a, m) for c, t, a, m in zip(completions, task, answer, meta)]


def format_reward(completions, **_) -> list[float]:
    """1.0 where the completion ends in a parsable answer (any content), else 0.0."""
    return [float(extract_answer(_text(c)) is not None) for c in completions]


def coin_reward(seed: int):
    """A reward function (TRL's form) that flips a fair coin per rollout: 1.0 or 0.0 from a hash of
    (seed, the trainer's step, the call's number within the step, the rollout's position), so it is
    seeded, the same on a resumed run (which resumes at a step's start), fresh for every call when a
    step's rollouts come in several (train.generation_batch_size), and independent of the completion
    and of its correctness."""
    calls = {"step": None, "n": 0}

    def coin_reward(completions, trainer_state=None, **_) -> list[float]:
        step = trainer_state.global_step if trainer_state is not None else 0
        calls["n"] = calls["n"] + 1 if calls["step"] == step else 0
        calls["step"] = step
        key = f"{seed}:{step}" + (f":{calls['n']}" if calls["n"] else "")  # a step's first call: as before the split
        return [float(hashlib.sha256(f"{key}:{i}".encode()).digest()[0] & 1) for i in range(len(completions))]
    return coin_reward

"""Off-policy RL (the paper's ablation row "off-policy RL"): the policy-gradient loss on a teacher's
fixed responses, a thin layer over TRL's SFTTrainer.

The paper's unified loss is L = -E_x E_{y~q}[w(x,y) log pi(y|x)]; here q is the teacher and w the
group-normalised advantage, negative advantages included. `teacher_groups` gives every math prompt
n teacher responses (train.num_generations, GRPO's group size): each is the teacher's think trace,
or, with probability train.offpolicy_wrong_share, the same teacher answering with the previous
result (tasks.traces.wrong_teacher: the mini-world's wrong strategy, stopping one step early; on hub
data the boxed answer replaced by the last different number before it), so that a group's
rewards differ. The rewards are
the task scorer's verdicts (rewards.correctness_reward, GRPO's reward) and the advantages
(r - mean) / (std + 1e-4) within the group, as TRL's GRPO scales them. Groups whose rewards are all
equal get advantage 0 and teach nothing, as in GRPO.
The groups are trained in order, whole (sft.train_sft's in_order: a step of 32 responses holds two
groups of 16), as a GRPO step holds its rollouts' groups, so that a group's right and wrong
responses meet in the same step; one pass over the prompts the steps need.
`AdvantageSFTTrainer` is SFTTrainer with the advantage carried through its collator and the token
log-likelihood weighted by it (`policy_gradient_loss`): TRL has no trainer for a weighted
log-likelihood on fixed responses. No importance ratio and no clipping: the responses are not the
policy's, so there is no behaviour probability to clip against (as the paper's loss has none).
arms.run trains the arm: sft.train_sft on teacher_groups with this trainer, the SFT arms' schedule.
Deviation from the paper, whose off-policy groups are a teacher model's samples with their own
errors: here a wrong response is the correct trace answering one step early (the world's, or the
hub trace's, previous result), so a group's right and wrong responses share all but their end.
Left out: sampling a teacher model (nothing downloads one at run time).
"""
from __future__ import annotations

import functools
import random

import torch
from datasets import Dataset

from .rewards import correctness_reward
from .tasks.traces import wrong_teacher

STD_EPS = 1e-4  # TRL's GRPOTrainer: advantages / (std + 1e-4)


def teacher_groups(rows: Dataset, n: int, wrong_share: float, seed: int, n_prompts: int | None = None) -> Dataset:
    """n teacher responses per row of the first n_prompts `rows` (columns prompt, task, answer, meta,
    teacher_think): each the think trace or, with probability wrong_share (seeded), the teacher
    answering with the previous result. Returns one row per response, a group's n rows together:
    prompt, response, reward (the scorer's), advantage (in its group)."""
    if n < 2:
        raise ValueError(f"train.num_generations: off-policy RL needs groups of at least 2 responses, got {n}")
    rng = random.Random(seed)
    out = []
    for row in rows.select(range(min(n_prompts or len(rows), len(rows)))):
        wrong = wrong_teacher(row["teacher_think"]) or row["teacher_think"]  # none: an all-correct group
        responses = [wrong if rng.random() < wrong_share else row["teacher_think"] for _ in range(n)]
        rewards = correctness_reward(responses, [row["task"]] * n, [row["answer"]] * n, [row["meta"]] * n)
        for response, reward, advantage in zip(responses, rewards, group_advantages(rewards)):
            out.append(dict(prompt=row["prompt"], response=response, reward=reward, advantage=advantage))
    return Dataset.from_list(out)


def group_advantages(rewards: list[float]) -> list[float]:
    """(r - mean) / (std + STD_EPS) over one group, std with Bessel's correction (torch.std, as TRL)."""
    values = torch.tensor(rewards, dtype=torch.float64)
    return ((values - values.mean()) / (values.std() + STD_EPS)).tolist()


def policy_gradient_loss(logits: torch.Tensor, labels: torch.Tensor, advantages: torch.Tensor,
                         num_items_in_batch=None) -> torch.Tensor:
    """-sum_i A_i sum_t log pi(y_it | x_i, y_i<t) / (number of response tokens): logits (batch, seq,
    vocab) predict labels shifted by one (-100 where a token is not the response's); the token
    normalisation is SFTTrainer's (num_items_in_batch over the accumulated batch, when given)."""
    shift_logits, shift_labels = logits[:, :-1].float(), labels[:, 1:]
    mask = shift_labels != -100
    logp = torch.log_softmax(shift_logits, dim=-1).gather(-1, shift_labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    weighted = (logp * mask) * advantages.to(logp.dtype).unsqueeze(-1)
    tokens = mask.sum() if num_items_in_batch is None else num_items_in_batch
    return -weighted.sum() / torch.as_tensor(tokens, device=logp.device).clamp(min=1)


class AdvantageCollator:
    """Wraps a collator: the batch also carries the examples' `advantage` as a float tensor."""

    def __init__(self, collator):
        self.collator = collator

    def __call__(self, examples):
        batch = self.collator(examples)
        batch["advantage"] = torch.tensor([e["advantage"] for e in examples], dtype=torch.float32)
        return batch


@functools.cache
def advantage_trainer():
    """AdvantageSFTTrainer, defined on first use so that importing this module does not import TRL."""
    from trl import SFTTrainer

    class AdvantageSFTTrainer(SFTTrainer):
        """SFTTrainer whose loss is policy_gradient_loss with each example's advantage (a dataset column;
        train with remove_unused_columns=False so that it reaches the collator). TRL's logged entropy,
        token accuracy and token counts are kept (its compute_loss_func path)."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.data_collator = AdvantageCollator(self.data_collator)
            self._advantages = None
            self.compute_loss_func = lambda outputs, labels, num_items_in_batch=None: policy_gradient_loss(
                outputs.logits, labels, self._advantages, num_items_in_batch)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            self._advantages = inputs.pop("advantage")
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)

    return AdvantageSFTTrainer


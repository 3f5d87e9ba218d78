"""Off-policy RL: the world's wrong teacher traces, the teacher groups, the advantage-weighted loss."""
import math
import random

import pytest
import torch
from datasets import Dataset

from mathtransfer import offpolicy
from mathtransfer.scorers import score
from mathtransfer.tasks import math_tasks, traces


def test_a_stopped_early_think_trace_answers_with_the_previous_result():
    think = "Let me think step by step.\nStep 1: 6-5=1\nStep 2: 1+8=9\nSo the final answer is \\boxed{9}."
    assert traces.think_stopped_early(think) == (
        "Let me think step by step.\nStep 1: 6-5=1\nSo the final answer is \\boxed{1}.")
    one = "Let me think step by step.\nStep 1: 49/7=7\nSo the final answer is \\boxed{7}."
    assert traces.think_stopped_early(one).endswith("\\boxed{49}.")  # the problem's own number
    with pytest.raises(ValueError, match="not a mini-world think trace"):
        traces.think_stopped_early("<think>hub style</think> The answer is \\boxed{3}.")


def test_every_world_task_has_a_wrong_teacher_trace_its_scorer_rejects():
    for make, task in ((math_tasks.arith, "arith"), (math_tasks.word, "word"), (math_tasks.algebra, "algebra"),
                       (math_tasks.sequence, "sequence")):
        for i in range(50):
            item = make(random.Random(i), (0.5, 0.5))
            assert score(task, item["teacher_think"], item["answer"], item["meta"]) == 1.0
            wrong = traces.think_stopped_early(item["teacher_think"])
            assert score(task, wrong, item["answer"], item["meta"]) == 0.0, (task, wrong)


def _rows(n_items=6):
    items = [dict(math_tasks.arith(random.Random(i), (0.5, 0.5)), id=f"a{i}", task="arith") for i in range(n_items)]
    return Dataset.from_list(items)


def test_teacher_groups_are_seeded_mixed_and_normalised_within_each_group():
    rows = _rows()
    groups = offpolicy.teacher_groups(rows, n=8, wrong_share=0.5, seed=0)
    assert groups.num_rows == 6 * 8 and groups["prompt"][:8] == [rows[0]["prompt"]] * 8
    assert groups.to_list() == offpolicy.teacher_groups(rows, 8, 0.5, 0).to_list()  # seeded
    assert groups["response"] != offpolicy.teacher_groups(rows, 8, 0.5, 1)["response"]
    for g in range(6):
        rewards = groups["reward"][g * 8:(g + 1) * 8]
        adv = torch.tensor(groups["advantage"][g * 8:(g + 1) * 8])
        assert abs(float(adv.sum())) < 1e-5  # zero mean in every group
        if 0 < sum(rewards) < 8:  # mixed: right answers above 0, wrong ones below, unit spread
            assert all((a > 0) == (r == 1.0) for a, r in zip(adv.tolist(), rewards))
            assert float(adv.std()) == pytest.approx(1.0, abs=1e-3)
        else:
            assert (adv == 0).all()
    assert 0.3 < sum(groups["reward"]) / groups.num_rows < 0.7
    assert offpolicy.teacher_groups(rows, 8, 0.5, 0, n_prompts=2).to_list() == groups.to_list()[:16]  # the first prompts
    # a trace with no wrong version (no number before its answer): an all-correct group, advantage 0
    lone = offpolicy.teacher_groups(rows.select([0]).map(lambda r: {"teacher_think": f"\\boxed{{{r['answer']}}}"}),
                                    4, 0.5, 0)
    assert lone["reward"] == [1.0] * 4 and lone["advantage"] == [0.0] * 4


def test_a_hub_trace_answers_with_its_previous_number():
    hub = "<think>\n12 + 30 = 42, minus 2 gives 40.\n</think>\nSo the answer is \\boxed{40}."
    assert traces.wrong_teacher(hub) == "<think>\n12 + 30 = 42, minus 2 gives 40.\n</think>\nSo the answer is \\boxed{2}."
    assert traces.wrong_teacher("The answer is \\boxed{7}.") is None and traces.wrong_teacher("no box 3") is None
    world = "Let me think step by step.\nStep 1: 6-5=1\nStep 2: 1+8=9\nSo the final answer is \\boxed{9}."
    assert traces.wrong_teacher(world) == traces.think_stopped_early(world)


def test_group_advantages_match_trl_scaling():
    got = offpolicy.group_advantages([1.0, 0.0, 0.0, 0.0])
    std = math.sqrt((0.75 ** 2 + 3 * 0.25 ** 2) / 3)  # Bessel's correction, as torch.std
    assert got == pytest.approx([0.75 / (std + 1e-4)] + [-0.25 / (std + 1e-4)] * 3)
    assert offpolicy.group_advantages([1.0, 1.0]) == [0.0, 0.0]


def test_the_policy_gradient_loss_on_a_hand_computed_example():
    # vocabulary of 2; response 0 is token 1 after the prompt, response 1 is tokens (0, 1)
    logits = torch.zeros(2, 3, 2)
    logits[0, 0] = torch.tensor([0.0, math.log(3.0)])  # p(token 1) = 3/4
    logits[1, 0] = torch.tensor([math.log(3.0), 0.0])  # p(token 0) = 3/4
    logits[1, 1] = torch.tensor([0.0, 0.0])  # p(token 1) = 1/2
    labels = torch.tensor([[-100, 1, -100], [-100, 0, 1]])  # first token is the prompt's
    advantages = torch.tensor([1.0, -0.5])
    expected = -(1.0 * math.log(0.75) - 0.5 * (math.log(0.75) + math.log(0.5))) / 3
    assert float(offpolicy.policy_gradient_loss(logits, labels, advantages)) == pytest.approx(expected)
    assert float(offpolicy.policy_gradient_loss(logits, labels, advantages, num_items_in_batch=6)) == pytest.approx(
        expected / 2)
    # advantage 1 everywhere is SFT's token-mean negative log-likelihood
    nll = -(math.log(0.75) + math.log(0.75) + math.log(0.5)) / 3
    assert float(offpolicy.policy_gradient_loss(logits, labels, torch.ones(2))) == pytest.approx(nll)
    # a negative advantage pushes the response's probability down
    logits.requires_grad_(True)
    offpolicy.policy_gradient_loss(logits, labels, torch.tensor([0.0, -1.0])).backward()
    assert logits.grad[1, 0, 0] > 0 and logits.grad[1, 1, 1] > 0


"""One training run of one arm for one seed: its data, its trainer, its checkpoints, its curves.

The paper's controlled study trains ONE base on the SAME math-only problems in four ways:
- sft-think / sft-nothink: off-policy SFT on the teacher's traces (think / no-think style);
- rft: on-policy SFT on the base model's own correct samples (rejection sampling);
- grpo: GRPO with the task scorer as the reward;
and the ablation's arms (schema.ARMS): grpo-kl, grpo-random, sft-think-lora, rl-offpolicy, sft-self.
`run` trains one arm and returns its curve. A rerun with the same settings resumes from the newest
complete checkpoint (after a crash or kill -9); a rerun with other settings, data, code or
libraries starts afresh, because the checkpoint folder carries a fingerprint (run.json) of what
produced it. `score_checkpoints` scores the base (step 0) and every checkpoint on a fixed test
subset (the matched-gain curves), through generation.records: training never imports evaluation.
Left out: the trainers themselves (sft.py, grpo.py) and the full final evaluation (evaluate stage).
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import time

import pandas as pd
from datasets import Dataset, load_from_disk

from . import checkpoints, config, generation, grpo, models, offpolicy, sft
from .config import TrainConfig
from .schema import ARMS, GROUPS, RL_SET, run_name
from .storage import atomic_dir

# TRL log keys -> curve columns (a key an arm does not log stays empty)
CURVE_COLUMNS = {"loss": "loss", "grad_norm": "grad_norm", "learning_rate": "learning_rate",
                 "reward": "reward", "reward_std": "reward_std", "completions/mean_length": "completion_length",
                 "kl": "kl", "entropy": "entropy", "mean_token_accuracy": "token_accuracy",
                 "num_tokens": "tokens"}  # cumulative prompt + response tokens trained on (TRL's count)
# the train keys each arm reads (dvc.yaml lists the same ones for its stage)
SHARED_KEYS = ("mode", "lora_r", "lora_alpha", "save_steps", "max_grad_norm", "gradient_checkpointing", "optim",
               "grad_accum", "qlora_fp32_upcast")
SFT_KEYS = SHARED_KEYS + ("sft_lr", "lr_by_arm", "sft_warmup_ratio", "sft_steps", "sft_batch_size",
                          "sft_max_length")
GRPO_KEYS = SHARED_KEYS + ("rl_lr", "lr_by_arm", "rl_steps", "rl_steps_per_rollout", "rl_prompts_per_step",
                           "num_generations", "max_completion_length", "temperature", "beta", "epsilon",
                           "epsilon_high", "format_weight", "generation_batch_size", "use_vllm",
                           "vllm_max_model_length", "vllm_gpu_memory_utilization")
RFT_KEYS = ("rft_prompts", "rft_samples", "max_completion_length")


def _keys(arm: str) -> tuple[str, ...]:
    spec = ARMS[arm]
    if spec.trainer == "grpo":
        return GRPO_KEYS + (("kl_beta",) if spec.kl else ())
    if spec.trainer == "offpolicy":
        return SFT_KEYS + ("num_generations", "offpolicy_wrong_share")
    return SFT_KEYS + (RFT_KEYS if spec.column == "target" else ()) + (("self_every",) if spec.regenerate else ())


ARM_KEYS = {arm: _keys(arm) for arm in ARMS}


def settings(arm: str, cfg: TrainConfig) -> dict:
    """The train settings `arm` reads (ARM_KEYS), for its checkpoint fingerprint."""
    return {key: getattr(cfg, key) for key in ARM_KEYS[arm]}


def math_split(train: Dataset, seed: int, arm: str | None = None) -> Dataset:
    """The math items of the training split an arm learns from, in a seeded order. The mini-world
    gives every arm the same items. Hub data (data.source: hub) holds two sets: the arms that learn
    from a teacher trace take the rows that carry it, the others (rft, sft-self, the grpo arms) the
    RL set's prompts (data.RL_SET)."""
    rows = train.filter(lambda group: group == "math", input_columns="group")
    column = ARMS[arm].column if arm in ARMS else None
    if column and column.startswith("teacher"):
        rows = rows.filter(bool, input_columns=column)
    elif arm in ARMS and RL_SET in set(rows["benchmark"]):
        rows = rows.filter(lambda benchmark: benchmark == RL_SET, input_columns="benchmark")
    return rows.shuffle(seed=seed)


def rft_rows(cfg: TrainConfig, base_path: str, rows: Dataset, seed: int, batch_size: int,
             cache_dir: str, arm: str = "rft") -> Dataset:
    """rft's training rows: the model's (base_path's) own correct answers (cached for a resume);
    sft-self's rows of one round. ValueError naming `arm` when no sample was correct."""
    if os.path.isfile(os.path.join(cache_dir, "state.json")):
        return load_from_disk(cache_dir)
    model, tokenizer = models.load_model(base_path, "full")
    prompts = rows.select(range(min(cfg.rft_prompts, len(rows))))
    kept = sft.rejection_sample(model, tokenizer, prompts, cfg.rft_samples, cfg.max_completion_length,
                                batch_size, seed)
    if len(kept) == 0:
        raise ValueError(f"{arm}: none of the {len(prompts) * cfg.rft_samples} samples from {base_path} was correct; "
                         "raise train.rft_prompts or train.rft_samples, or pretrain the base longer")
    kept.info.description = json.dumps(dict(prompts=len(prompts), samples=len(prompts) * cfg.rft_samples))
    with atomic_dir(cache_dir, marker="state.json") as tmp:
        kept.save_to_disk(tmp)
    return kept


def self_rounds(cfg: TrainConfig, base_path: str, rows: Dataset, seed: int, ckpt: str, out_dir: str,
                batch_size: int, arm: str) -> tuple[list[dict], list[int], float]:
    """sft-self (iterative on-policy SFT): the rft recipe in rounds of cfg.self_every steps, each on
    correct samples drawn from the policy as the round starts (the base for round 0, then the
    previous round's last checkpoint) on its own share of the first rft_prompts prompts. One
    optimizer state and one learning-rate schedule run through all rounds (each round resumes the
    previous one's checkpoint). Each round's samples are cached in the checkpoint folder; a run
    killed inside a round restarts that round from its first checkpoint (the checkpoints after it
    are dropped), so that it ends with the model an uninterrupted run gives.
    Returns the log history, the rows kept per round and the training loop's seconds in this call."""
    n_rounds = -(-cfg.sft_steps // cfg.self_every)
    share = max(1, min(cfg.rft_prompts, len(rows)) // n_rounds)
    history, kept, seconds = [], [], 0.0
    for r in range(n_rounds):
        start, stop = r * cfg.self_every, min((r + 1) * cfg.self_every, cfg.sft_steps)
        models.free_memory()  # the previous round's trainer may still hold (GPU) memory
        done = checkpoints.checkpoint_step(checkpoints.last_complete_checkpoint(ckpt))
        if start < done < stop:  # killed inside this round: restart it from its first checkpoint
            for step, path in checkpoints.checkpoint_folders(ckpt):
                if step > start:
                    shutil.rmtree(path)
        prompts = rows.select(range(r * share, min((r + 1) * share, len(rows))))
        policy = checkpoints.last_complete_checkpoint(ckpt) if r else base_path  # (a cached round is not redrawn)
        data = rft_rows(dataclasses.replace(cfg, rft_prompts=share), policy, prompts, seed + r, batch_size,
                        os.path.join(ckpt, "self_data", f"round{r}"), arm=arm)
        kept.append(len(data))
        if stop < cfg.sft_steps and done >= stop:
            continue  # a round finished before an interruption
        history = sft.train_sft(cfg, base_path, data, "target", out_dir, seed, checkpoints=ckpt, lr=config.arm_lr(cfg, arm),
                                mode=config.arm_mode(cfg, arm), stop_at=stop if stop < cfg.sft_steps else None,
                                fresh_data=True)
        seconds += next((h["train_runtime"] for h in reversed(history) if "train_runtime" in h), 0.0)
    return history, kept, seconds


def run(arm: str, cfg: TrainConfig, base_path: str, train: Dataset, seed: int,
        sample_batch_size: int = 128) -> tuple[pd.DataFrame, dict, dict]:
    """Train `arm` from `base_path` on the math split of `train`; save the final model to
    <cfg.out_dir>/<arm>-seed<seed>, checkpoints to <cfg.checkpoint_dir>/<arm>-seed<seed>.
    Returns (curve, facts, timing): the per-step curve; what the run is (its folders, data rows,
    rft's sample counts, final step), the same however often it was interrupted; and how this
    execution went (the step it resumed from, wall times, the training loop's seconds per step),
    which changes from run to run. sample_batch_size: prompts per batch when rft samples."""
    if arm not in ARMS:
        raise ValueError(f"arm: expected one of {', '.join(ARMS)}, got {arm!r}")
    out_dir = os.path.join(cfg.out_dir, run_name(arm, seed))
    ckpt = os.path.join(cfg.checkpoint_dir, run_name(arm, seed))
    checkpoints.prepare_checkpoints(ckpt, checkpoints.fingerprint(arm, seed, settings(arm, cfg), base_path,
                                                                  train._fingerprint))
    resumed_from = checkpoints.checkpoint_step(checkpoints.last_complete_checkpoint(ckpt))
    rows = math_split(train, seed, arm)
    if len(rows) == 0:
        raise ValueError(f"{arm}: the training split has no math rows for this arm (column "
                         f"{ARMS[arm].column or 'prompt'}); for hub data map the column with data.sft_columns")
    facts = dict(arm=arm, seed=seed, out_dir=out_dir, checkpoint_dir=ckpt, math_rows=len(rows))
    timing = dict(resumed_from_step=resumed_from)
    start = time.perf_counter()
    if ARMS[arm].trainer == "grpo":
        history = grpo.train_grpo(cfg, base_path, rows, out_dir, seed, checkpoints=ckpt, arm=arm)
    elif ARMS[arm].trainer == "offpolicy":
        # the SFT arms' schedule, batch and steps on groups of teacher responses, weighted by advantage,
        # whole groups in order: one pass over the prompts the steps need
        prompts = -(-cfg.sft_steps * cfg.sft_batch_size // cfg.num_generations)
        groups = offpolicy.teacher_groups(rows, cfg.num_generations, cfg.offpolicy_wrong_share, seed, prompts)
        facts.update(responses=len(groups), share_correct=round(sum(groups["reward"]) / len(groups), 4))
        history = sft.train_sft(cfg, base_path, groups, "response", out_dir, seed, checkpoints=ckpt,
                                lr=config.arm_lr(cfg, arm), mode=config.arm_mode(cfg, arm),
                                trainer_class=offpolicy.advantage_trainer(), keep_columns=("advantage",), in_order=True)
    elif ARMS[arm].regenerate:  # sft-self: the current policy's correct samples, drawn again every round
        history, kept, loop_seconds = self_rounds(cfg, base_path, rows, seed, ckpt, out_dir, sample_batch_size, arm)
        facts.update(kept_per_round=kept)
    else:
        if ARMS[arm].column == "target":  # rft: the base's own correct samples
            rows = rft_rows(cfg, base_path, rows, seed, sample_batch_size, os.path.join(ckpt, "rft_data"))
            facts.update(json.loads(rows.info.description), kept=len(rows))
            timing["sampling_seconds"] = round(time.perf_counter() - start, 1)
        history = sft.train_sft(cfg, base_path, rows, ARMS[arm].column, out_dir, seed, checkpoints=ckpt,
                                lr=config.arm_lr(cfg, arm), mode=config.arm_mode(cfg, arm))
    curve = curves(history)
    facts["final_step"] = int(curve["step"].max()) if len(curve) else 0
    timing.update(run_seconds=round(time.perf_counter() - start, 1), **_speed(history, resumed_from))
    if ARMS[arm].regenerate and timing["steps_trained"]:  # the rounds' loops together, not the last one's
        timing.update(train_seconds=round(loop_seconds, 1),
                      seconds_per_step=round(loop_seconds / timing["steps_trained"], 3))
    return curve, facts, timing


def _speed(history: list[dict], resumed_from: int) -> dict:
    """The Trainer's own timing of the steps trained in this call (none when the run had already
    finished): train_seconds (rollouts and checkpoint saves included) and seconds_per_step."""
    done = next((h for h in reversed(history) if "train_runtime" in h), None)
    steps = done["step"] - resumed_from if done else 0
    if not done or steps <= 0:
        return dict(steps_trained=0, train_seconds=None, seconds_per_step=None)
    return dict(steps_trained=steps, train_seconds=round(done["train_runtime"], 1),
                seconds_per_step=round(done["train_runtime"] / steps, 3))


def curves(history: list[dict]) -> pd.DataFrame:
    """TRL's log history -> one row per logged step, columns step + CURVE_COLUMNS (NaN if not logged)."""
    rows = [h for h in history if "step" in h and ("loss" in h or "grad_norm" in h)]
    frame = pd.DataFrame({"step": [h["step"] for h in rows]})
    for key, column in CURVE_COLUMNS.items():
        frame[column] = [h.get(key, float("nan")) for h in rows]
    return frame.drop_duplicates("step", keep="last").reset_index(drop=True)


def score_checkpoints(base_path: str, out_dir: str, ckpt_dir: str, final_step: int, test: Dataset,
                      n_items: int, batch_size: int, max_new_tokens: int) -> pd.DataFrame:
    """Greedy accuracy per task of the base (step 0), every checkpoint, and the final model in
    out_dir (at final_step, when no checkpoint has that step): columns step, task, group, accuracy, n,
    kl_math. kl_math is the checkpoint's distance from the base on math: KL(base || checkpoint) of
    the next-token distributions, exact over the vocabulary, averaged over the tokens of the base's
    own greedy answers to the math items scored here, each with its end of turn (generation.forward_kl;
    0 at step 0). kl_math_tokens: the paper's token-level estimate on the same answers
    (generation.sampled_kl). param_distance: ||theta - theta_base||_2 (an adapter run's checkpoint is
    merged into its base, loaded in full precision for scoring, first).
    Then the optimizer states of all but the newest checkpoint are dropped (checkpoints.prune_checkpoints):
    only the newest is ever resumed from, the others are kept for their weights."""
    models.free_memory()  # the trainer's model may still sit in a reference cycle
    points = [(0, base_path)] + [(s, p) for s, p in checkpoints.checkpoint_folders(ckpt_dir) if s <= final_step]
    if points[-1][0] != final_step:
        points.append((final_step, out_dir))
    # full weights: the base's log-probabilities are computed once, at step 0 (positions x vocab, on
    # the CPU); an adapter's base is the same model with the adapter off (no cache of a large vocabulary)
    adapter_run = os.path.isfile(os.path.join(out_dir, "adapter_config.json"))
    tables, probe, base_lp, base_state = [], None, None, None
    for step, path in points:
        model, tokenizer = models.load_model(path, "full")
        records = generation.records(model, tokenizer, test, n_items, batch_size, max_new_tokens)
        if step == 0:  # the base: its greedy math answers are the texts every KL is read on
            probe = records.loc[records["group"] == "math", ["prompt", "output"]]
            texts = (list(probe.prompt), list(probe.output))
            token_ids = generation.response_token_ids(tokenizer, texts[1])
            if not adapter_run:
                base_lp = generation.response_logprobs(model, tokenizer, *texts, batch_size)
            base_state = {k: v.detach().cpu().clone() for k, v in model.named_parameters()}
            distances = dict(kl_math=0.0, kl_math_tokens=0.0, param_distance=0.0)
        else:
            tuned_lp = generation.response_logprobs(model, tokenizer, *texts, batch_size)
            if adapter_run:
                with model.disable_adapter():
                    base_lp = generation.response_logprobs(model, tokenizer, *texts, batch_size)
            distances = dict(kl_math=generation.forward_kl(base_lp, tuned_lp),
                             kl_math_tokens=generation.sampled_kl(base_lp, tuned_lp, token_ids),
                             param_distance=generation.parameter_distance(
                                 base_state, model.merge_and_unload() if adapter_run else model))
        table = records.groupby(["task", "group"], sort=False)["score"].agg(["mean", "size"]).reset_index()
        tables.append(table.rename(columns={"mean": "accuracy", "size": "n"}).assign(step=step, **distances))
        model = None  # one model in memory at a time (the GPU profile's are GBs)
        models.free_memory()
    checkpoints.prune_checkpoints(ckpt_dir)
    columns = ["step", "task", "group", "accuracy", "n", "kl_math", "kl_math_tokens", "param_distance"]
    return pd.concat(tables)[columns].reset_index(drop=True)


def group_change(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean accuracy per step and group (math, other, non) of score_checkpoints' table; the first
    row is the base (step 0), the last the final model."""
    return scores.groupby(["step", "group"], sort=False).accuracy.mean().unstack("group")[list(GROUPS)]


USAGE = "usage: [accelerate launch -m] python -m mathtransfer.arms ARM SEED [PARAMS_FILE]"

def main(args: list[str]) -> int:
    """The training entry point without the notebook (no checkpoint scoring or plots), so that a run
    can be spread over several GPUs: `accelerate launch -m mathtransfer.arms grpo 0`."""
    from . import storage

    if len(args) not in (2, 3) or args[0] not in ARMS or not args[1].isdigit():
        print(USAGE, file=sys.stderr)
        return 2
    params = config.read_params(args[2] if len(args) == 3 else "params.yaml")
    train_cfg = config.parse(config.TrainConfig, params.get("train"), "train")
    base_cfg = config.parse(config.BaseConfig, params.get("base"), "base")
    data_cfg = config.parse(config.DataConfig, params.get("data"), "data")
    curve, facts, timing = run(args[0], train_cfg, base_cfg.out_dir, storage.load_dataset(data_cfg.out_dir)["train"], int(args[1]))
    print(json.dumps(dict(facts, **timing)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

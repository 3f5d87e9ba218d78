"""One training run of one arm for one seed: its data, its trainer, its checkpoints, its curves.

The paper's controlled study trains ONE base on the SAME math-only problems in four ways:
- sft-think / sft-nothink: off-policy SFT on the teacher's traces (think / no-think style);
- rft: on-policy SFT on the base model's own correct samples (rejection sampling);
- grpo: GRPO with the task scorer as the reward.
`run` trains one arm and returns its curve. A rerun with the same settings resumes from the newest
complete checkpoint (after a crash or kill -9); a rerun with other settings, data, code or
libraries starts afresh, because the checkpoint folder carries a fingerprint (run.json) of what
produced it. `evaluate_checkpoints`
scores the base (step 0) and every checkpoint on a fixed test subset: the matched-gain curves.
Left out: the trainers themselves (sft.py, grpo.py) and the full final evaluation (evaluate stage).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time

import pandas as pd
from datasets import Dataset, load_from_disk
from importlib.metadata import version

from . import evaluate, grpo, models, sft
from .config import TrainConfig
from .data import RL_SET
from .storage import atomic_dir

# arm -> the column of the math training split it learns from (grpo learns from its own rollouts)
ARMS = {"sft-think": "teacher_think", "sft-nothink": "teacher_nothink", "rft": "target", "grpo": None}
# TRL log keys -> curve columns (a key an arm does not log stays empty)
CURVE_COLUMNS = {"loss": "loss", "grad_norm": "grad_norm", "learning_rate": "learning_rate",
                 "reward": "reward", "reward_std": "reward_std", "completions/mean_length": "completion_length",
                 "kl": "kl", "entropy": "entropy", "mean_token_accuracy": "token_accuracy"}
# the train keys each arm reads (dvc.yaml lists the same ones for its stage)
SHARED_KEYS = ("mode", "lora_r", "lora_alpha", "save_steps", "max_grad_norm", "gradient_checkpointing", "optim",
               "grad_accum")
SFT_KEYS = SHARED_KEYS + ("sft_lr", "sft_steps", "sft_batch_size", "sft_max_length")
ARM_KEYS = {"sft-think": SFT_KEYS, "sft-nothink": SFT_KEYS,
            "rft": SFT_KEYS + ("rft_prompts", "rft_samples", "max_completion_length"),
            "grpo": SHARED_KEYS + ("rl_lr", "rl_steps", "rl_prompts_per_step", "num_generations",
                                   "max_completion_length", "temperature", "beta", "epsilon",
                                   "epsilon_high", "format_weight", "use_vllm")}
LIBRARIES = ("torch", "transformers", "trl", "peft", "bitsandbytes", "datasets")


def run_name(arm: str, seed: int) -> str:
    """A run's folder name, under train.out_dir (final model) and train.checkpoint_dir."""
    return f"{arm}-seed{seed}"


def math_split(train: Dataset, seed: int, arm: str | None = None) -> Dataset:
    """The math items of the training split an arm learns from, in a seeded order. The mini-world
    gives every arm the same items. Hub data (data.source: hub) holds two sets: the SFT arms take
    the rows that carry their teacher trace, rft and grpo the RL set's prompts (data.RL_SET)."""
    rows = train.filter(lambda group: group == "math", input_columns="group")
    column = ARMS.get(arm)
    if column and column.startswith("teacher"):
        rows = rows.filter(bool, input_columns=column)
    elif arm in ("rft", "grpo") and RL_SET in set(rows["benchmark"]):
        rows = rows.filter(lambda benchmark: benchmark == RL_SET, input_columns="benchmark")
    return rows.shuffle(seed=seed)


def _base_identity(base_path: str) -> str:
    """A hub id as is; a local model by the hash of its weights and config."""
    if not os.path.isdir(base_path):
        return base_path
    digest = hashlib.sha256()
    for name in sorted(os.listdir(base_path)):
        if name.endswith((".safetensors", ".json")):
            with open(os.path.join(base_path, name), "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()[:16]


def _code_identity() -> str:
    """Hash of the package's sources: a code change must not resume an old run."""
    digest = hashlib.sha256()
    root = os.path.dirname(os.path.abspath(__file__))
    for folder, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for name in sorted(f for f in files if f.endswith(".py")):
            with open(os.path.join(folder, name), "rb") as fh:
                digest.update(name.encode() + fh.read())
    return digest.hexdigest()[:16]


def fingerprint(arm: str, seed: int, cfg: TrainConfig, base_path: str, data_fingerprint: str) -> dict:
    """Everything that decides what a run trains: resuming is only allowed onto the same
    (settings the arm reads, seed, base weights, data, code, library versions, device)."""
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    return dict(arm=arm, seed=seed, base=_base_identity(base_path), data=data_fingerprint,
                code=_code_identity(), libraries={lib: version(lib) for lib in LIBRARIES},
                device=device, dtype=str(models.default_dtype(device)),
                train={k: getattr(cfg, k) for k in ARM_KEYS[arm]})


def prepare_checkpoints(ckpt_dir: str, fp: dict) -> None:
    """Keep ckpt_dir for a resume if it was made by the same settings, else empty it.
    Refuses to delete a folder that is not a checkpoint folder."""
    marker = os.path.join(ckpt_dir, "run.json")
    if os.path.isdir(ckpt_dir):
        if os.path.isfile(marker):
            try:
                with open(marker) as fh:
                    if json.load(fh) == fp:
                        return
            except ValueError:  # cut short by a kill: not the same settings
                pass
        elif any(not (d.startswith(("checkpoint-", "README")) or d == "rft_data") for d in os.listdir(ckpt_dir)):
            raise FileExistsError(f"{ckpt_dir}: not a checkpoint folder of this project; remove it or "
                                  "choose another train.out_dir")
        print(f"{ckpt_dir}: made by other settings or code; starting afresh")
        shutil.rmtree(ckpt_dir)
    os.makedirs(ckpt_dir)
    with open(marker + ".tmp", "w") as fh:
        json.dump(fp, fh, indent=1)
    os.replace(marker + ".tmp", marker)


def rft_rows(cfg: TrainConfig, base_path: str, rows: Dataset, seed: int, batch_size: int,
             cache_dir: str) -> Dataset:
    """rft's training rows: the base model's own correct answers (cached for a resume)."""
    if os.path.isfile(os.path.join(cache_dir, "state.json")):
        return load_from_disk(cache_dir)
    model, tokenizer = models.load_model(base_path, "full")
    prompts = rows.select(range(min(cfg.rft_prompts, len(rows))))
    kept = sft.rejection_sample(model, tokenizer, prompts, cfg.rft_samples, cfg.max_completion_length,
                                batch_size, seed)
    if len(kept) == 0:
        raise ValueError(f"rft: none of the {len(prompts) * cfg.rft_samples} samples from {base_path} was correct; "
                         "raise train.rft_prompts or train.rft_samples, or pretrain the base longer")
    kept.info.description = json.dumps(dict(prompts=len(prompts), samples=len(prompts) * cfg.rft_samples))
    with atomic_dir(cache_dir, marker="state.json") as tmp:
        kept.save_to_disk(tmp)
    return kept


def run(arm: str, cfg: TrainConfig, base_path: str, train: Dataset, seed: int,
        sample_batch_size: int = 128) -> tuple[pd.DataFrame, dict]:
    """Train `arm` from `base_path` on the math split of `train`; save the final model to
    <cfg.out_dir>/<arm>-seed<seed>, checkpoints to <cfg.checkpoint_dir>/<arm>-seed<seed>.
    Returns (curve, info): the per-step curve and facts about the run (its folders, data, the step
    it resumed from, rft's sampling time, the training loop's seconds per step). sample_batch_size: prompts per batch when rft samples."""
    if arm not in ARMS:
        raise ValueError(f"arm: expected one of {', '.join(ARMS)}, got {arm!r}")
    out_dir = os.path.join(cfg.out_dir, run_name(arm, seed))
    ckpt = os.path.join(cfg.checkpoint_dir, run_name(arm, seed))
    prepare_checkpoints(ckpt, fingerprint(arm, seed, cfg, base_path, train._fingerprint))
    resumed_from = sft.checkpoint_step(sft.last_complete_checkpoint(ckpt))
    rows = math_split(train, seed, arm)
    if len(rows) == 0:
        raise ValueError(f"{arm}: the training split has no math rows for this arm (column "
                         f"{ARMS[arm] or 'prompt'}); for hub data map the column with data.sft_columns")
    info = dict(arm=arm, seed=seed, out_dir=out_dir, checkpoint_dir=ckpt, resumed_from_step=resumed_from,
                math_rows=len(rows))
    start = time.perf_counter()
    if arm == "grpo":
        history = grpo.train_grpo(cfg, base_path, rows, out_dir, seed, checkpoints=ckpt)
    else:
        if arm == "rft":
            rows = rft_rows(cfg, base_path, rows, seed, sample_batch_size, os.path.join(ckpt, "rft_data"))
            info.update(json.loads(rows.info.description), kept=len(rows),
                        sampling_seconds=round(time.perf_counter() - start, 1))
        history = sft.train_sft(cfg, base_path, rows, ARMS[arm], out_dir, seed, checkpoints=ckpt)
    info.update(run_seconds=round(time.perf_counter() - start, 1), **_speed(history, resumed_from))
    return curves(history), info


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


def prune_checkpoints(ckpt_dir: str) -> int:
    """Delete the optimizer, scheduler and RNG states of every checkpoint but the newest (only the
    newest is ever resumed from; the others are kept for their weights); returns bytes freed."""
    freed = 0
    for _, path in sft.checkpoint_folders(ckpt_dir)[:-1]:
        for name in os.listdir(path):
            if name.startswith(("optimizer", "scheduler", "rng_state", "scaler")):
                freed += os.path.getsize(os.path.join(path, name))
                os.remove(os.path.join(path, name))
    return freed


def evaluate_checkpoints(base_path: str, out_dir: str, ckpt_dir: str, final_step: int, test: Dataset,
                         n_items: int, batch_size: int, max_new_tokens: int) -> pd.DataFrame:
    """Greedy accuracy per task of the base (step 0), every checkpoint, and the final model in
    out_dir (at final_step, when no checkpoint has that step): columns step, task, group, accuracy, n."""
    points = [(0, base_path)] + [(s, p) for s, p in sft.checkpoint_folders(ckpt_dir) if s <= final_step]
    if points[-1][0] != final_step:
        points.append((final_step, out_dir))
    tables = []
    for step, path in points:
        model, tokenizer = models.load_model(path, "full")
        records = evaluate.evaluate(model, tokenizer, test, n_items, batch_size, max_new_tokens)
        table = records.groupby(["task", "group"], sort=False)["score"].agg(["mean", "size"]).reset_index()
        tables.append(table.rename(columns={"mean": "accuracy", "size": "n"}).assign(step=step))
    return pd.concat(tables)[["step", "task", "group", "accuracy", "n"]].reset_index(drop=True)


USAGE = "usage: [accelerate launch -m] python -m mathtransfer.arms ARM SEED [PARAMS_FILE]"

if __name__ == "__main__":
    # The training entry point without the notebook (no checkpoint scoring or plots), so that a run
    # can be spread over several GPUs: `accelerate launch -m mathtransfer.arms grpo 0`.
    import sys

    from . import config, data

    if len(sys.argv) not in (3, 4) or sys.argv[1] not in ARMS or not sys.argv[2].isdigit():
        sys.exit(USAGE)
    params = config.read_params(sys.argv[3] if len(sys.argv) == 4 else "params.yaml")
    train_cfg = config.parse(config.TrainConfig, params.get("train"), "train")
    base_cfg = config.parse(config.BaseConfig, params.get("base"), "base")
    data_cfg = config.parse(config.DataConfig, params.get("data"), "data")
    curve, info = run(sys.argv[1], train_cfg, base_cfg.out_dir, data.load(data_cfg.out_dir)["train"], int(sys.argv[2]))
    print(json.dumps(info))

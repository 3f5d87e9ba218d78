"""Checkpoints of a training run: listing, resuming, fingerprinting, pruning.

A run writes `checkpoint-<step>` folders (the Trainer's) into its checkpoint folder. A rerun
resumes from the newest complete one (the Trainer writes trainer_state.json last, so a folder
without a readable one was cut short and is deleted); `train_and_save` does that and then saves
the final model atomically. The folder's run.json fingerprint (settings, seed, base weights, data,
package code, library versions, device) must match for a resume: otherwise the run starts
afresh. Once a run is scored, `prune_checkpoints` drops the optimizer states of all but the
newest checkpoint.
Left out: which settings an arm reads (arms.ARM_KEYS), the trainers themselves (sft.py, grpo.py).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from importlib.metadata import version

from .models import MODEL_MARKERS, default_dtype
from .storage import atomic_dir

LIBRARIES = ("torch", "transformers", "trl", "peft", "bitsandbytes", "datasets")


def default_checkpoint_dir(out_dir: str) -> str:
    return out_dir.rstrip("/") + "-checkpoints"


def state(checkpoint: str) -> dict | None:
    """A checkpoint's trainer_state.json, or None when it is missing or cut short."""
    try:
        with open(os.path.join(checkpoint, "trainer_state.json")) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def checkpoint_folders(ckpt_dir: str) -> list[tuple[int, str]]:
    """(step, folder) of every `checkpoint-<step>` folder in ckpt_dir, in step order."""
    if not os.path.isdir(ckpt_dir):
        return []
    return sorted((int(d.split("-")[1]), os.path.join(ckpt_dir, d)) for d in os.listdir(ckpt_dir)
                  if d.startswith("checkpoint-") and d.split("-")[1].isdigit())


def last_complete_checkpoint(ckpt_dir: str) -> str | None:
    """The newest checkpoint that was written to the end, or None. The Trainer writes
    trainer_state.json last, so a checkpoint without a readable one was cut short (crash,
    kill -9): it is removed rather than resumed from."""
    for _, path in reversed(checkpoint_folders(ckpt_dir)):
        if state(path) is not None:
            return path
        shutil.rmtree(path)
    return None


def checkpoint_step(checkpoint: str | None) -> int:
    """The optimizer step a checkpoint was taken at (0 for None)."""
    return state(checkpoint)["global_step"] if checkpoint else 0


def train_and_save(trainer, tokenizer, out_dir: str, save: bool = True):
    """Train (resuming from the newest complete checkpoint if one exists), then save the model or
    adapter atomically (unless save is False: a round of sft-self that stops early); returns the log
    history. Shared by every arm. A run whose last checkpoint is already at max_steps is not trained
    further (resuming would add a step): its weights are taken from that checkpoint."""
    from transformers import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # curves are saved and plotted; no dict per log line
    last = last_complete_checkpoint(trainer.args.output_dir)
    if last and hasattr(trainer, "_total_train_tokens"):  # TRL's SFT token count is not restored on resume
        counts = [h["num_tokens"] for h in state(last)["log_history"] if "num_tokens" in h]
        trainer._total_train_tokens = int(counts[-1]) if counts else 0
    if last and checkpoint_step(last) >= trainer.args.max_steps:
        trainer._load_from_checkpoint(last)
        history = state(last)["log_history"]
    else:
        trainer.train(resume_from_checkpoint=last)
        history = trainer.state.log_history
    if not save:
        return history
    with atomic_dir(out_dir, marker=MODEL_MARKERS) as tmp:
        trainer.model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    return history


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


def fingerprint(arm: str, seed: int, settings: dict, base_path: str, data_fingerprint: str) -> dict:
    """Everything that decides what a run trains: resuming is only allowed onto the same
    (settings the arm reads, seed, base weights, data, code, library versions, device)."""
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    return dict(arm=arm, seed=seed, base=_base_identity(base_path), data=data_fingerprint,
                code=_code_identity(), libraries={lib: version(lib) for lib in LIBRARIES},
                device=device, dtype=str(default_dtype(device)), train=settings)


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
        elif any(not (d.startswith(("checkpoint-", "README")) or d in ("rft_data", "self_data")) for d in os.listdir(ckpt_dir)):
            raise FileExistsError(f"{ckpt_dir}: not a checkpoint folder of this project; remove it or "
                                  "choose another train.out_dir")
        print(f"{ckpt_dir}: made by other settings or code; starting afresh")
        shutil.rmtree(ckpt_dir)
    os.makedirs(ckpt_dir)
    with open(marker + ".tmp", "w") as fh:
        json.dump(fp, fh, indent=1)
    os.replace(marker + ".tmp", marker)


def prune_checkpoints(ckpt_dir: str) -> int:
    """Delete the optimizer, scheduler and RNG states of every checkpoint but the newest (only the
    newest is ever resumed from; the others are kept for their weights); returns bytes freed."""
    freed = 0
    for _, path in checkpoint_folders(ckpt_dir)[:-1]:
        for name in os.listdir(path):
            if name.startswith(("optimizer", "scheduler", "rng_state", "scaler")):
                freed += os.path.getsize(os.path.join(path, name))
                os.remove(os.path.join(path, name))
    return freed

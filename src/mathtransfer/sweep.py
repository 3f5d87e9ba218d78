"""The learning-rate sweep: every arm trained at several learning rates (one seed) on math, and the
rule's choice among them.

The rule (issue 14; dynamics.choose_lr) reads math accuracy alone, the arm's own objective: among
the swept rates, the one with the best final math accuracy, leaving out any rate whose math accuracy
falls more than sweep.max_drop below the base's at some checkpoint (a practitioner would not keep a
run that first breaks the model), falling back to the best final math when every rate falls that far.
A choice at the edge of the swept range is followed, once, by a rate a factor of 3 beyond it
(added to sweep.lrs: finished rates are not retrained or rescored). Forgetting is shown beside it
and never chooses.
Each run goes through the arm stages' own code (arms.run, arms.score_checkpoints) into
<sweep.out_dir>/<arm>-lr<lr> and its checkpoints; an interrupted sweep resumes run by run. The
scores land in reports/sweep/<arm>.csv; notebook 03 applies the rule to them and shows it.

    python -m mathtransfer.sweep [ARM ...] [--params PARAMS_FILE]     (make sweep; about 25 minutes
                                                                        for all four arms on 2 cores)

Left out: writing params.yaml. The chosen rates are copied into train.lr_by_arm / train.sft_lr / train.rl_lr
by hand, since they change every arm's results (and then `make repro` reruns them).
Not part of `dvc repro`: the sweep is how the params were chosen, not part of the study's results.
"""
from __future__ import annotations

import dataclasses
import os
import sys

import pandas as pd
import torch
from transformers import set_seed

from . import arms, config, storage
from .schema import ARMS

REPORT_DIR = "reports/sweep"


def with_lr(cfg: config.TrainConfig, arm: str, lr: float, out_root: str) -> config.TrainConfig:
    """cfg with `arm` trained at `lr`, its model and checkpoints under out_root/<arm>-lr<lr>."""
    folder = os.path.join(out_root, f"{arm}-lr{lr:g}")
    change = {"lr_by_arm": {**cfg.lr_by_arm, arm: lr}}
    return dataclasses.replace(cfg, **change, out_dir=os.path.join(folder, "model"),
                               checkpoint_dir=os.path.join(folder, "checkpoints"))


def run_arm(arm: str, params: dict) -> pd.DataFrame:
    """Train `arm` at each of sweep.lrs[arm] from the base and score every checkpoint (as the arm
    stages do); returns the scores (arm, lr, seed, step, task, group, accuracy, n)."""
    train_cfg = config.parse(config.TrainConfig, params.get("train"), "train")
    ecfg = config.parse(config.EvalConfig, params.get("evaluation"), "evaluation")
    sweep_cfg = config.parse(config.SweepConfig, params.get("sweep"), "sweep")
    base_dir = config.parse(config.BaseConfig, params.get("base"), "base").out_dir
    dataset = storage.load_dataset(config.parse(config.DataConfig, params.get("data"), "data").out_dir)
    tables = []
    for lr in sweep_cfg.lrs[arm]:
        set_seed(sweep_cfg.seed)
        cfg = with_lr(train_cfg, arm, lr, sweep_cfg.out_dir)
        _, facts, timing = arms.run(arm, cfg, base_dir, dataset["train"], sweep_cfg.seed, ecfg.batch_size)
        # a finished run with the same settings (its fingerprint kept the checkpoints, nothing was
        # trained now) keeps its scores: widening a sweep only trains and scores the new rates
        cached = os.path.join(os.path.dirname(cfg.out_dir), "scores.csv")
        if timing["steps_trained"] == 0 and os.path.isfile(cached):
            scores = pd.read_csv(cached)
        else:
            scores = arms.score_checkpoints(base_dir, facts["out_dir"], facts["checkpoint_dir"], facts["final_step"],
                                            dataset["test"], train_cfg.checkpoint_items, ecfg.batch_size,
                                            ecfg.max_new_tokens)
            scores.to_csv(cached, index=False)
        tables.append(scores.assign(arm=arm, lr=lr, seed=sweep_cfg.seed))
    return pd.concat(tables)[["arm", "lr", "seed", "step", "task", "group", "accuracy", "n"]]


USAGE = "usage: python -m mathtransfer.sweep [ARM ...] [--params FILE]"


def main(args: list[str]) -> int:
    params_file = "params.yaml"
    if "--params" in args:
        i = args.index("--params")
        if i + 1 == len(args):
            print(f"{USAGE}; --params needs a file", file=sys.stderr)
            return 2
        params_file, args = args[i + 1], args[:i] + args[i + 2:]
    unknown = [a for a in args if a not in ARMS]
    if unknown:
        print(f"{USAGE}; unknown arm {unknown[0]!r}, valid: {', '.join(ARMS)}", file=sys.stderr)
        return 2
    try:
        return _sweep(args, params_file)
    except (config.ConfigError, FileNotFoundError) as error:
        print(error, file=sys.stderr)
        return 2


def _sweep(arm_names: list[str], params_file: str) -> int:
    from datasets.utils.logging import disable_progress_bar
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    disable_progress_bar()
    params = config.read_params(params_file)
    shared = config.parse(config.SharedConfig, {k: params[k] for k in ("seed", "threads") if k in params}, "")
    torch.set_num_threads(shared.threads)
    sweep_cfg = config.parse(config.SweepConfig, params.get("sweep"), "sweep")
    os.makedirs(REPORT_DIR, exist_ok=True)
    for arm in arm_names or list(sweep_cfg.lrs):
        if arm not in sweep_cfg.lrs:
            raise config.ConfigError(f"{params_file}: sweep.lrs: no rates for {arm!r}; it lists {', '.join(sweep_cfg.lrs)}")
        scores = run_arm(arm, params)
        scores.to_csv(os.path.join(REPORT_DIR, f"{arm}.csv"), index=False)
        for lr, run in scores.groupby("lr"):
            math = arms.group_change(run)["math"]
            print(f"{arm} lr {lr:g}: math {math.iloc[0]:.3f} -> {math.iloc[-1]:.3f} (lowest {math.min():.3f}); "
                  "the rule's choice: notebook 03, section 5", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Measure a mini-world's base properties before any arm is trained on it (issue 13's rule: the
world's parameters are chosen by the base's headroom and pass@k, never by an arm's outcome).

    python benchmarks/calibrate_world.py OUT_DIR BASE_SEED THREADS '{"arith": [0.2, 0.8], ...}'

Builds the data (seed 0) with the given data.wrong_share, pretrains a base with the default base
settings from BASE_SEED into OUT_DIR/base<seed>, and prints one JSON line: greedy accuracy per task
(the first evaluation.n_per_task test items) and pass@1 / pass@8 on the tasks that share math's
step. Run it for two seeds side by side (one thread each: about 15 minutes on 2 cores).
"""
import dataclasses
import json
import sys
import time

import torch
from datasets.utils.logging import disable_progress_bar
from transformers import set_seed
from transformers.utils import logging as hf_logging

from mathtransfer import config, data, generation, models, pretrain, registry


def main(out: str, base_seed: int, threads: int, shares: dict) -> dict:
    hf_logging.disable_progress_bar()
    disable_progress_bar()
    torch.set_num_threads(threads)
    dataset = data.build(dataclasses.replace(config.DataConfig(), wrong_share=shares), 0)
    bcfg, ecfg = config.BaseConfig(), config.EvalConfig()
    set_seed(base_seed)
    start = time.perf_counter()
    pretrain.build_base(bcfg, dataset["train"], base_seed, f"{out}/base{base_seed}")
    seconds = time.perf_counter() - start
    model, tokenizer = models.load_model(f"{out}/base{base_seed}", "full")
    records = generation.records(model, tokenizer, dataset["test"], ecfg.n_per_task, ecfg.batch_size,
                                 ecfg.max_new_tokens)
    sampled = generation.pass_at_k(model, tokenizer, dataset["test"], list(registry.STEP_TASKS), 50, 8,
                                   ecfg.batch_size, ecfg.max_new_tokens, 0)
    return dict(seed=base_seed, pretrain_seconds=round(seconds),
                greedy=records.groupby("task", sort=False).score.mean().round(3).to_dict(),
                pass1=dict(zip(sampled.task, sampled.pass1.round(3))), pass8=dict(zip(sampled.task, sampled.passk.round(3))))


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4]))))

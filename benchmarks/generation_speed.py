"""Batched generation against one prompt at a time, on the same model and prompts.

    python benchmarks/generation_speed.py [--model models/base] [--per-task 10] [--params params.yaml]

Greedy answers to the first --per-task test items of every task, generated once with the
evaluation's batching (left padding, KV cache, length-sorted batches of evaluation.batch_size) and
once prompt by prompt; prints both wall times, their ratio, and whether the answers agree (and
writes them, with tokens per second, to reports/timings/generation_speed.json for
benchmarks/profile_repro.py). Then the evaluate stage's wall time from its last run
(reports/timings/evaluate.json).
"""
import argparse
import json
import os
import time
import warnings

warnings.filterwarnings("ignore")

import torch  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

from mathtransfer import config, generation, models, storage  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model folder or hub id (default: base.out_dir)")
    parser.add_argument("--per-task", type=int, default=10)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    raw = config.read_params(args.params)
    threads = raw.get("threads", 1)
    torch.set_num_threads(threads)
    hf_logging.set_verbosity_error()
    ecfg = config.parse(config.EvalConfig, raw.get("evaluation"), "evaluation")
    model_path = args.model or config.parse(config.BaseConfig, raw.get("base"), "base").out_dir
    test = storage.load_dataset(config.parse(config.DataConfig, raw.get("data"), "data").out_dir)["test"]
    prompts = generation.first_per_task(test, args.per_task)["prompt"]
    model, tokenizer = models.load_model(model_path, "full")
    generation.generate(model, tokenizer, prompts[:4], 4, 8)  # warm-up
    start = time.perf_counter()
    batched = generation.generate(model, tokenizer, prompts, ecfg.batch_size, ecfg.max_new_tokens)
    t_batched = time.perf_counter() - start
    start = time.perf_counter()
    single = [generation.generate(model, tokenizer, [p], 1, ecfg.max_new_tokens)[0] for p in prompts]
    t_single = time.perf_counter() - start
    agree = sum(a == b for a, b in zip(batched, single))
    print(f"{len(prompts)} prompts, {model_path}, max_new_tokens {ecfg.max_new_tokens}, {threads} threads")
    print(f"batched (batch {ecfg.batch_size}): {t_batched:7.2f} s  ({len(prompts) / t_batched:7.1f} prompts/s)")
    print(f"one at a time:      {t_single:7.2f} s  ({len(prompts) / t_single:7.1f} prompts/s)")
    print(f"speed-up: {t_single / t_batched:.1f}x; identical answers: {agree} of {len(prompts)}")
    tokens = [sum(len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]) for texts in (batched, single)]
    storage.write_timing("generation_speed", dict(
        prompts=len(prompts), threads=threads, batch_size=ecfg.batch_size, batched_seconds=round(t_batched, 2),
        single_seconds=round(t_single, 2), batched_tokens_per_second=round(tokens[0] / t_batched),
        single_tokens_per_second=round(tokens[1] / t_single), speedup=round(t_single / t_batched, 2),
        identical=agree))  # read by benchmarks/profile_repro.py
    speed = "reports/timings/evaluate.json"
    if os.path.isfile(speed):
        facts = json.load(open(speed))
        print(f"evaluate stage (last run): {facts['total_seconds']} s for {len(facts['seconds_per_model'])} models "
              f"x {facts['items_per_model']} items")


if __name__ == "__main__":
    main()

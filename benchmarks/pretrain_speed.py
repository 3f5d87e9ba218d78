"""Pretraining speed of the tiny base model at the params.yaml sizes, against this CPU's matmul rate.

    python benchmarks/pretrain_speed.py [--steps 100] [--params params.yaml]

Prints seconds per optimizer step, tokens per second, the achieved training GFLOP/s
(6 x non-embedding parameters x tokens / time) and its share of the measured fp32 matmul
throughput at the model's MLP shape, with the same number of threads.
"""
import argparse
import dataclasses
import tempfile
import time
import warnings

warnings.filterwarnings("ignore")

import torch  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

from mathtransfer import config, data, models, pretrain  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    raw = config.read_params(args.params)
    shared = config.parse(config.SharedConfig, {k: raw[k] for k in ("seed", "threads") if k in raw}, "")
    dcfg = config.parse(config.DataConfig, raw.get("data"), "data")
    bcfg = dataclasses.replace(config.parse(config.BaseConfig, raw.get("base"), "base"), steps=args.steps)
    torch.set_num_threads(shared.threads)
    hf_logging.disable_progress_bar()
    train = data.build(dcfg, shared.seed)["train"]
    texts = [t for c in ("prompt", "target", "teacher_think", "teacher_nothink") for t in train[c] if t]
    tokenizer = models.train_tokenizer(texts, bcfg.vocab_size)
    model = models.build_tiny_qwen3(bcfg, tokenizer, shared.seed)
    n = models.count_parameters(model)["non_embedding"]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        log = pretrain.pretrain(bcfg, train, model, tokenizer, shared.seed, f"{tmp}/base")
        wall = time.perf_counter() - start
    seconds, tokens = log.attrs["seconds"], log.attrs["tokens_seen"]
    achieved = pretrain.flop_rate(n, tokens, seconds)
    peak = pretrain.matmul_gflops(k=bcfg.hidden_size, m=bcfg.intermediate_size)
    print(f"threads {shared.threads}, {args.steps} steps x {bcfg.batch_size} sequences, {n:,} non-embedding parameters")
    print(f"train loop {seconds:.1f} s ({seconds / args.steps:.3f} s/step, {tokens / seconds:,.0f} tokens/s); "
          f"with tokenisation and save {wall:.1f} s")
    print(f"achieved {achieved:.1f} GFLOP/s = {achieved / peak:.0%} of the measured {peak:.1f} GFLOP/s fp32 matmul")


if __name__ == "__main__":
    main()

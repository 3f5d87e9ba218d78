"""Will the consumer-GPU profile fit a card? QLoRA SFT and GRPO steps at the exact Qwen3 shapes.

    python benchmarks/gpu_check.py [--models 0.6b 1.7b] [--steps 3] [--profile profiles/consumer-gpu.yaml]
    python benchmarks/gpu_check.py --tiny --steps 1      # the same code path on CPU, in seconds

Builds random-weight models with the exact shapes of Qwen/Qwen3-0.6B-Base and Qwen3-1.7B-Base
(no download: the config is written here, the weights are random, the tokenizer is a local
word-level one over the same vocabulary size), then runs a few optimizer steps of the project's
own SFT and GRPO code (sft.train_sft, grpo.train_grpo) with the profile's train settings (4-bit
NF4 QLoRA, gradient checkpointing, paged 8-bit AdamW, grad accumulation, sequence lengths).
Random weights never emit the end-of-sequence token, so every rollout runs to
max_completion_length and every SFT sequence is as long as sft_max_length allows: the worst case.
Arm `generate` (evaluation): the bf16 model (models.load_model "full", as the evaluate stage loads
it) answers evaluation.batch_size prompts of 512 words with evaluation.max_new_tokens new tokens.
Printed per model and arm: peak GPU memory, both torch.cuda.max_memory_allocated (tensors) and
max_memory_reserved (what the caching allocator holds; the card also holds the CUDA context),
reset before each arm after the previous arm's model is freed (gc.collect, empty_cache); the
memory model's prediction for the same phase (mathtransfer.memory: SFT train step, GRPO rollouts
or train step, evaluation generate) and reserved / predicted; and seconds per optimizer step (the
Trainer's train_runtime / steps, rollouts included) or per generate call.
Left out: vLLM rollouts and multi-GPU runs (see the README's scale-out section).
"""
import argparse
import dataclasses
import json
import os
import random
import sys
import tempfile
import time
import warnings

warnings.filterwarnings("ignore")

from mathtransfer.memory import PROMPT_TOKENS, QWEN3_VOCAB, SHAPES  # the published shapes of the two bases

TINY_VOCAB = 2000


def word_tokenizer(vocab_size: int):
    """A word-level tokenizer with vocab_size entries ("w0", "w1", ...), Qwen's chat template and
    special tokens: every id the random model samples decodes."""
    from tokenizers import Tokenizer, models as tok_models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from mathtransfer.models import CHAT_TEMPLATE, IM_END, IM_START, PAD

    vocab = {PAD: 0, IM_START: 1, IM_END: 2, "[UNK]": 3}
    vocab.update({f"w{i}": i for i in range(4, vocab_size)})
    tok = Tokenizer(tok_models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, eos_token=IM_END,
                                   chat_template=CHAT_TEMPLATE, padding_side="left")


def build(shape: str, out_dir: str, device: str) -> str:
    """A random-weight Qwen3 of the named shape, saved with its tokenizer; returns the folder."""
    import torch
    from transformers import AutoModelForCausalLM, Qwen3Config

    vocab = TINY_VOCAB if shape == "tiny" else QWEN3_VOCAB
    tokenizer = word_tokenizer(vocab)
    config = Qwen3Config(vocab_size=vocab, max_position_embeddings=32768, pad_token_id=0, eos_token_id=2,
                         bos_token_id=None, **SHAPES[shape])
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    with torch.device(device):  # initialise where it runs: a 1.7B fp32 init on CPU takes minutes
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    path = os.path.join(out_dir, shape)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    del model
    return path


def rows(n: int, prompt_words: int, words: int, vocab: int, seed: int):
    """Math-like training rows whose prompt and teacher trace are random words (lengths fixed)."""
    from datasets import Dataset

    rng = random.Random(seed)
    text = lambda k: " ".join(f"w{rng.randrange(4, vocab)}" for _ in range(k))  # noqa: E731
    return Dataset.from_list([dict(id=f"x{i}", task="arith", group="math", benchmark="check", prompt=text(prompt_words),
                                   answer="1", target="", teacher_think=text(words), teacher_nothink="", meta="{}")
                              for i in range(n)])


def free_memory():
    """Release what the previous arm left (models.free_memory: cycles collected, CUDA cache emptied),
    then reset the peak counters."""
    import torch

    from mathtransfer import models

    models.free_memory()
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def predicted_gib(shape: str, arm: str, cfg, cfgs) -> float:
    """The memory model's peak for what this arm runs (mathtransfer.memory), in GiB."""
    from mathtransfer import memory

    _, evaluation, latent, tokens = cfgs
    vocab = TINY_VOCAB if shape == "tiny" else QWEN3_VOCAB
    stage, phases = {"sft": ("sft", ("train step",)), "grpo": ("grpo", ("rollouts", "train step")),
                     "generate": ("evaluate", ("generate", "generate prefill"))}[arm]
    predicted = memory.predict(shape, cfg, evaluation, latent, tokens, vocab=vocab)[stage]
    return max(p.total for p in predicted if p.name in phases) / memory.GiB


def generate_check(path: str, evaluation, vocab: int, words: int) -> float:
    """Seconds of one generate call of evaluation.batch_size prompts (the evaluate stage's loader)."""
    from mathtransfer import generation, models

    model, tokenizer = models.load_model(path, "full")
    prompts = [r["prompt"] for r in rows(evaluation.batch_size, words, 0, vocab, 0)]
    start = time.perf_counter()
    generation.generate(model, tokenizer, prompts, evaluation.batch_size, evaluation.max_new_tokens)
    seconds = time.perf_counter() - start
    del model
    return seconds


def check(shape: str, arm: str, path: str, cfg, steps: int, cfgs=None) -> dict:
    import torch

    from mathtransfer import grpo, sft

    free_memory()
    cuda = torch.cuda.is_available()
    vocab = TINY_VOCAB if shape == "tiny" else QWEN3_VOCAB
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        start = time.perf_counter()
        if arm == "generate":
            runtime, steps = generate_check(path, cfgs[1], vocab, 8 if shape == "tiny" else PROMPT_TOKENS["benchmark"]), 1
        elif arm == "sft":
            length = cfg.sft_max_length or 1024
            data = rows(cfg.sft_batch_size * steps, min(128, length // 4), length, vocab, 0)
            history = sft.train_sft(cfg, path, data, "teacher_think", out, 0)
        else:
            data = rows(cfg.rl_prompts_per_step * steps, 8 if shape == "tiny" else 128, 0, vocab, 0)
            history = grpo.train_grpo(cfg, path, data, out, 0)
        total = time.perf_counter() - start
        if arm != "generate":
            runtime = next(h["train_runtime"] for h in reversed(history) if "train_runtime" in h)
            del history
    allocated = torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")
    reserved = torch.cuda.max_memory_reserved() / 2**30 if cuda else float("nan")
    predicted = predicted_gib(shape, arm, cfg, cfgs) if cfgs else float("nan")
    free_memory()
    return dict(model=shape, arm=arm, steps=steps, seconds_per_step=round(runtime / steps, 2),
                total_seconds=round(total, 1), peak_allocated_gib=round(allocated, 2),
                peak_reserved_gib=round(reserved, 2), predicted_gib=round(predicted, 2),
                reserved_over_predicted=round(reserved / predicted, 2) if predicted == predicted else float("nan"),
                device=torch.cuda.get_device_name() if cuda else "cpu")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["0.6b", "1.7b"], choices=list(SHAPES))
    parser.add_argument("--arms", nargs="+", default=["sft", "grpo", "generate"], choices=["sft", "grpo", "generate"])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--profile", default="profiles/consumer-gpu.yaml")
    parser.add_argument("--tiny", action="store_true", help="the tiny shape, short sequences (a CPU test)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()
    from mathtransfer import memory

    cfgs = memory.profile_configs(args.profile)  # the profile laid over params.yaml, as make repro does
    cfg = dataclasses.replace(cfgs[0], sft_steps=args.steps, rl_steps=args.steps, save_steps=10**6)
    shapes = ["tiny"] if args.tiny else args.models
    if args.tiny:  # seconds on a CPU: short sequences, small batches, same settings otherwise
        cfg = dataclasses.replace(cfg, sft_max_length=48, max_completion_length=16, sft_batch_size=cfg.grad_accum,
                                  rl_prompts_per_step=1, num_generations=2 * cfg.grad_accum, generation_batch_size=0)
        cfgs = (cfg, dataclasses.replace(cfgs[1], batch_size=2, max_new_tokens=8), *cfgs[2:])
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and not args.tiny:
        sys.exit("no CUDA device: this check measures GPU memory (use --tiny to test the code path on CPU)")
    results = []
    print(f"profile {args.profile}: mode {cfg.mode}, optim {cfg.optim}, gradient checkpointing "
          f"{cfg.gradient_checkpointing}, grad_accum {cfg.grad_accum}, SFT {cfg.sft_batch_size} x "
          f"{cfg.sft_max_length} tokens, GRPO {cfg.rl_prompts_per_step} x {cfg.num_generations} x "
          f"{cfg.max_completion_length} tokens ({cfg.generation_batch_size or 'all'} per generate call, fp32 upcast "
          f"{cfg.qlora_fp32_upcast}); evaluation {cfgs[1].batch_size} x {cfgs[1].max_new_tokens} new tokens")
    with tempfile.TemporaryDirectory() as tmp:
        for shape in shapes:
            path = build(shape, tmp, device)
            for arm in args.arms:
                result = check(shape, arm, path, cfg, args.steps, cfgs)
                results.append(result)
                print(json.dumps(result), flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return results


if __name__ == "__main__":
    main()

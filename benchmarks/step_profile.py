"""Where one arm's training step spends its time, by torch operator: is it at the matmul limit?

    python benchmarks/step_profile.py [--arm sft-think] [--steps 25] [--params params.yaml]
                                      [--attn eager] [--compile]

Needs the pipeline's data and base model. Runs the arm through `arms.run` (the stage's own code)
in a temporary folder for --steps steps with params.yaml's sizes and `threads`, profiles steps 5
to the last with torch.profiler, and prints the operators by their own CPU time, then the share of
the steps spent in matrix products (aten::mm, addmm, bmm) and their achieved GFLOP/s against the
fp32 matmul rate this CPU reaches at the model's MLP shape (pretrain.matmul_gflops). Training that
spends most of its time in matrix products at that rate cannot be made much faster without less
arithmetic (fewer tokens or steps) or a lower precision. --attn loads the model with another
attention implementation than the saved one (sdpa), --compile sets TrainingArguments.torch_compile
(TorchInductor; its compile time is part of the steps timed): the two levers tried before
settling on stages side by side (mathtransfer.repro).
"""
import argparse
import dataclasses
import os
import tempfile
import warnings

warnings.filterwarnings("ignore")

import torch  # noqa: E402
from transformers import Trainer, TrainerCallback  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

from mathtransfer import arms, config, pretrain, storage  # noqa: E402

MATMULS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::addmm_")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arm", default="sft-think")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--attn", default=None, help="attention implementation (eager, sdpa)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (TrainingArguments.torch_compile)")
    args = parser.parse_args()
    if args.attn:
        from transformers import AutoModelForCausalLM

        load = AutoModelForCausalLM.from_pretrained
        AutoModelForCausalLM.from_pretrained = lambda *a, **k: load(*a, **dict(k, attn_implementation=args.attn))
    if args.compile:
        from transformers import TrainingArguments

        post_init = TrainingArguments.__post_init__

        def compiled(self):
            self.torch_compile = True
            post_init(self)

        TrainingArguments.__post_init__ = compiled
    raw = config.read_params(args.params)
    threads = raw.get("threads", 1)
    torch.set_num_threads(threads)
    hf_logging.set_verbosity_error()
    cfg = config.parse(config.TrainConfig, raw.get("train"), "train")
    base = config.parse(config.BaseConfig, raw.get("base"), "base").out_dir
    train = storage.load_dataset(config.parse(config.DataConfig, raw.get("data"), "data").out_dir)["train"]
    profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], record_shapes=True,
                                      with_flops=True)
    first, last = 5, args.steps - 1

    class Window(TrainerCallback):  # profile the steps after the first few (allocations, warm-up)
        def on_step_begin(self, _args, state, control, **_):
            if state.global_step == first:
                profiler.__enter__()

        def on_step_end(self, _args, state, control, **_):
            if state.global_step == last:
                profiler.__exit__(None, None, None)

    init = Trainer.__init__

    def with_window(self, *a, **k):
        init(self, *a, **k)
        self.add_callback(Window())

    Trainer.__init__ = with_window  # the arm's trainer, whichever TRL class it is
    with tempfile.TemporaryDirectory() as tmp:
        cfg = dataclasses.replace(cfg, sft_steps=args.steps, rl_steps=args.steps, save_steps=args.steps,
                                  out_dir=os.path.join(tmp, "arms"), checkpoint_dir=os.path.join(tmp, "checkpoints"))
        _, _, timing = arms.run(args.arm, cfg, base, train, 0)
    print(f"{args.arm}: {timing['seconds_per_step']} s per step over {timing['steps_trained']} steps "
          f"(the Trainer's own time; attention {args.attn or 'as saved'}, compile {args.compile})")
    events = profiler.key_averages()
    print(events.table(sort_by="self_cpu_time_total", row_limit=15))
    total = sum(e.self_cpu_time_total for e in events)
    mm = [e for e in events if e.key in MATMULS]
    mm_time = sum(e.self_cpu_time_total for e in mm)
    flops = sum(e.flops for e in mm)
    peak = pretrain.matmul_gflops()
    steps = last - first + 1
    print(f"{args.arm}, {threads} thread(s): {total / 1e6 / steps:.3f} s of operator time per step; matrix products "
          f"{100 * mm_time / total:.0f}% of it at {flops / (mm_time / 1e6) / 1e9:.0f} GFLOP/s "
          f"(this CPU's fp32 matmul rate at the MLP shape: {peak:.0f} GFLOP/s)")


if __name__ == "__main__":
    main()

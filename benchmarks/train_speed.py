"""Speed and memory of each training arm at the params.yaml settings, and the training stages' wall time.

    python benchmarks/train_speed.py [--steps 20] [--params params.yaml] [--arms sft-think grpo]

Needs the pipeline's data and base model (`dvc repro base`). Each arm runs through `arms.run`
(the stages' own code) in its own process (so that its peak memory is its own), in a temporary
folder, for --steps optimizer steps with the params' batch sizes. Printed: seconds per step of the
training loop (arms.run's seconds_per_step: the Trainer's train_runtime, which includes GRPO's
rollouts and the checkpoint saves, divided by the steps), the set-up around it (data preparation,
model loading, the final save) and rft's rejection sampling apart; the peak resident
memory of the process (CPU) or peak allocated GPU memory; then the wall time of every executed
notebook (the stages of the last `dvc repro`).
"""
import argparse
import dataclasses
import glob
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings

warnings.filterwarnings("ignore")


def one_arm(arm: str, steps: int, params: str) -> dict:
    import torch
    from transformers.utils import logging as hf_logging

    from mathtransfer import arms, config, storage

    raw = config.read_params(params)
    threads = raw.get("threads", 2)
    torch.set_num_threads(threads)
    hf_logging.set_verbosity_error()
    cfg = config.parse(config.TrainConfig, raw.get("train"), "train")
    base = config.parse(config.BaseConfig, raw.get("base"), "base").out_dir
    ecfg = config.parse(config.EvalConfig, raw.get("evaluation"), "evaluation")
    train = storage.load_dataset(config.parse(config.DataConfig, raw.get("data"), "data").out_dir)["train"]
    with tempfile.TemporaryDirectory() as tmp:
        cfg = dataclasses.replace(cfg, sft_steps=steps, rl_steps=steps, save_steps=steps,
                                  out_dir=os.path.join(tmp, "arms"), checkpoint_dir=os.path.join(tmp, "checkpoints"))
        start = time.perf_counter()
        _, _, info = arms.run(arm, cfg, base, train, 0, ecfg.batch_size)  # (curve, facts, timing)
        total = time.perf_counter() - start
    cuda = torch.cuda.is_available()
    peak = torch.cuda.max_memory_allocated() if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    sampling = info.get("sampling_seconds")
    return dict(arm=arm, steps=steps, seconds_per_step=info["seconds_per_step"],
                setup_seconds=round(total - info["train_seconds"] - (sampling or 0), 1),
                rft_sampling_seconds=sampling, peak_memory_mb=round(peak / 2**20),
                memory="cuda allocated" if cuda else "process RSS", threads=threads)


def stage_times() -> list[dict]:
    """Each stage's wall time in the last `dvc repro`, as the stage runner recorded it
    (reports/timings/stages/, git-ignored: timings are not part of the committed report)."""
    rows = []
    for path in sorted(glob.glob("reports/timings/stages/*.json")) + sorted(glob.glob("reports/timings/stages/train/*.json")):
        rows.append(dict(notebook="reports/" + path[len("reports/timings/stages/"):-len(".json")] + ".ipynb",
                         seconds=json.load(open(path))["seconds"]))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--arms", nargs="+", default=["sft-think", "sft-nothink", "rft", "grpo"])
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_arm(args.one, args.steps, args.params)))
        return
    print(f"{'arm':12} {'s/step':>8} {'set-up s':>9} {'rft sampling s':>15} {'peak MB':>8}  memory")
    for arm in args.arms:
        out = subprocess.run([sys.executable, __file__, "--one", arm, "--steps", str(args.steps),
                              "--params", args.params], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{arm:12} {r['seconds_per_step']:8.3f} {r['setup_seconds']:9.1f} {r['rft_sampling_seconds'] or '':>15} "
              f"{r['peak_memory_mb']:8d}  {r['memory']}, {r['threads']} threads, {args.steps} steps")
    times = stage_times()
    if times:
        print("\nWall time of the executed notebooks (last dvc repro):")
        for row in times:
            print(f"  {row['notebook']:45} {row['seconds']:8.1f} s")
        train = sum(r["seconds"] for r in times if r["notebook"].startswith("reports/train/"))
        print(f"  {'training stages, total':45} {train:8.1f} s")


if __name__ == "__main__":
    main()

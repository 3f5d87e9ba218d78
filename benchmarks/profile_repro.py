"""Where a `make repro` spends its time, from the timings the run recorded.

    python benchmarks/profile_repro.py [--timings reports/timings] [--out benchmarks/profile_repro.md]

Reads what the last run wrote to reports/timings/ (git-ignored): each stage's wall time and its
code cells' (mathtransfer.stage), each training run's loop and sampling seconds (arms.run), the
pretraining's throughput (notebook 01_base), the evaluation's, and the whole run's wall time and
stages side by side (mathtransfer.repro, repro.json). Splits the stages' time into
- start-up: the kernel, papermill and the imports cell;
- data: building the data set; a training run's set-up (its rows tokenised, the model loaded and saved);
- training: the pretraining and training loops (GRPO's rollouts included: TRL generates inside its
  step), and the world check (a second base pretrained, GRPO on the channel task; its scoring is a
  small part);
- generation: rft's and sft-self's samples, the evaluation (generation and scoring of every model);
- scoring: each run's checkpoints scored on the test subset (greedy answers, KL, parameter distance);
- analysis: every other cell (tables, plots, the latent and token analyses' forward passes);
- unsplit: a stage recorded before the runner kept cell times (only its known parts are split off).
Prints a markdown report and writes it to --out (the committed copy is the run the README cites).
Throughput: pretraining and training tokens per second (TRL's token counts), the pretraining's
share of the CPU's measured fp32 matmul rate; generation batched against one prompt at a time
comes from benchmarks/generation_speed.py (reports/timings/generation_speed.json, when it ran).
"""
import argparse
import glob
import json
import os
import re

import pandas as pd

CATEGORIES = ["start-up", "data", "training", "generation", "scoring", "analysis", "unsplit"]
# (notebook, first line of a code cell) -> category; a cell matching none is analysis
CELL_RULES = [
    (r".*", r"^# Parameters|^(import|from) ", "start-up"),
    (r"00_data", r".", "data"),
    (r"01_base$", r".", "training"),  # pretraining (its set-up split off below, by base.json)
    (r"01_world_check", r"worldcheck\.run", "training"),
    (r"01_base_eval", r"load_model", "generation"),
    (r"02_train", r"arms\.run", "training"),  # split below into set-up, sampling and the loop
    (r"02_train", r"score_checkpoints", "scoring"),
    (r"04_evaluate", r"evaluate_models", "generation"),
]


def _load(path):
    with open(path) as fh:
        return json.load(fh)


def category(notebook: str, first_line: str) -> str:
    stem = os.path.splitext(os.path.basename(notebook))[0]
    for nb_rule, line_rule, name in CELL_RULES:
        if re.search(nb_rule, stem) and re.search(line_rule, first_line):
            return name
    return "analysis"


def stage_rows(timings: str) -> pd.DataFrame:
    """One row per stage: its wall time split into CATEGORIES (seconds)."""
    rows = []
    for path in sorted(glob.glob(os.path.join(timings, "stages", "**", "*.json"), recursive=True)):
        record = _load(path)
        name = os.path.splitext(os.path.relpath(path, os.path.join(timings, "stages")))[0]
        split = dict.fromkeys(CATEGORIES, 0.0)
        cells = record.get("cells")
        if cells is None:  # an older record: the stage's time, not its cells'
            split["unsplit"] = record["seconds"]
            split[category(record["notebook"], "")] = 0.0
        else:
            split["start-up"] += record["seconds"] - sum(c["seconds"] for c in cells)  # kernel, papermill, writing
            for cell in cells:
                split[category(record["notebook"], cell["first_line"])] += cell["seconds"]
        if name.startswith("train/"):  # the arms.run cell: set-up, sampling, loop
            run = _load(os.path.join(timings, "train", os.path.basename(path)))
            loop, sampling = run.get("train_seconds") or 0.0, run.get("sampling_seconds") or 0.0
            if os.path.basename(name).startswith("sft-self-"):  # samples between its rounds (set-up included)
                sampling = max(0.0, run.get("run_seconds", 0.0) - loop)
            if cells is None:
                split.update(training=loop, generation=sampling, unsplit=split["unsplit"] - loop - sampling)
            else:
                setup = max(0.0, split["training"] - loop - sampling)
                split.update(training=loop, generation=split["generation"] + sampling, data=split["data"] + setup)
        if name == "01_base" and os.path.isfile(os.path.join(timings, "base.json")):
            loop = _load(os.path.join(timings, "base.json"))["seconds"]
            if cells is None:
                split.update(training=loop, unsplit=split["unsplit"] - loop)
            else:
                split["data"] += max(0.0, split["training"] - loop)  # tokenizer, data conversion, save
                split["training"] = min(split["training"], loop)
        rows.append(dict(stage=name, seconds=record["seconds"], threads=record.get("threads"), **split))
    return pd.DataFrame(rows)


def throughput(timings: str, results: str) -> list[str]:
    lines = []
    base = os.path.join(timings, "base.json")
    if os.path.isfile(base):
        b = _load(base)
        lines.append(f"- pretraining: {b['tokens_seen'] / b['seconds']:,.0f} tokens/s ({b['seconds']:.0f} s, "
                     f"{b['seconds_per_step']:.3f} s/step, {b['threads']} thread(s)); {b['achieved_gflops']} GFLOP/s "
                     f"by 6 x parameters x tokens = {100 * b['share_of_matmul']:.0f}% of the {b['matmul_gflops']} GFLOP/s "
                     "measured for fp32 matmuls of the model's MLP shape")
    per_arm = {}
    for path in sorted(glob.glob(os.path.join(timings, "train", "*.json"))):
        run = os.path.splitext(os.path.basename(path))[0]
        record, curve_path = _load(path), os.path.join(results, "train", f"{run}_curve.csv")
        if not record.get("train_seconds") or not os.path.isfile(curve_path):
            continue
        tokens = pd.read_csv(curve_path)["tokens"].max()
        per_arm.setdefault(run.rsplit("-seed", 1)[0], []).append(tokens / record["train_seconds"])
    if per_arm:
        lines.append("- training loops, tokens/s (TRL's count of prompt and response tokens; GRPO's rollouts "
                     "inside the loop): " + ", ".join(f"{arm} {min(v):,.0f}-{max(v):,.0f}" for arm, v in per_arm.items()))
    gen = os.path.join(timings, "generation_speed.json")
    if os.path.isfile(gen):
        g = _load(gen)
        lines.append(f"- generation (benchmarks/generation_speed.py, {g['prompts']} prompts): batched "
                     f"{g['batched_tokens_per_second']:,.0f} tokens/s, one prompt at a time "
                     f"{g['single_tokens_per_second']:,.0f} tokens/s ({g['speedup']:.1f}x)")
    return lines


def report(timings: str, results: str) -> str:
    stages = stage_rows(timings)
    if stages.empty:
        return f"no stage timings in {timings}/stages: run `make repro` first"
    shown = [c for c in CATEGORIES if c != "unsplit" or stages[c].any()]
    total = stages[CATEGORIES].sum()
    stage_sum = stages.seconds.sum()
    lines = ["# Where `make repro` spends its time", ""]
    repro = os.path.join(timings, "repro.json")
    if os.path.isfile(repro):
        r = _load(repro)
        lines.append(f"Wall time of the run: {r['seconds'] / 60:.1f} min ({r['stages']} stages, up to {r['jobs']} at a time; "
                     f"the stages' own times add up to {stage_sum / 60:.1f} min).")
    else:
        lines.append(f"The stages' own times add up to {stage_sum / 60:.1f} min (no repro.json: not one complete `make repro` run).")
    lines += ["", "| part | minutes | share of the stages' time |", "|---|---|---|"]
    lines += [f"| {name} | {total[name] / 60:.1f} | {100 * total[name] / stage_sum:.0f}% |" for name in shown]
    lines += ["", "By stage (seconds):", "", "| stage | wall | " + " | ".join(shown) + " |",
              "|---|---|" + "---|" * len(shown)]
    groups = stages.assign(group=[re.sub(r"-seed\d+$", "", s) for s in stages.stage])
    for group, part in groups.groupby("group", sort=False):
        label = group if len(part) == 1 else f"{group} (x{len(part)}, mean)"
        mean = part[["seconds", *CATEGORIES]].mean()
        lines.append(f"| {label} | {mean.seconds:.0f} | " + " | ".join(f"{mean[c]:.0f}" for c in shown) + " |")
    lines += ["", "Throughput:", ""] + throughput(timings, results)
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timings", default="reports/timings")
    parser.add_argument("--results", default="reports/results")
    parser.add_argument("--out", default="benchmarks/profile_repro.md")
    args = parser.parse_args()
    text = report(args.timings, args.results)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()

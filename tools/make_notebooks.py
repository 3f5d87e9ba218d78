"""Write the source notebooks (no outputs) from the cell lists below: `python tools/make_notebooks.py`.

Editing a notebook in Jupyter works too; this file only makes the first versions reviewable as text.
"""
import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def notebook(cells):
    nb = new_notebook()
    for i, (kind, src) in enumerate(cells):
        if kind == "md":
            nb.cells.append(new_markdown_cell(src.strip(), id=f"cell-{i:02d}"))
        else:
            cell = new_code_cell(src.strip(), id=f"cell-{i:02d}")  # fixed ids: same text, same file
            if kind == "params":
                cell.metadata["tags"] = ["parameters"]
            nb.cells.append(cell)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


DATA = [
    ("md", """
# 00 · The mini-world: twelve verifiable tasks mirroring the paper's benchmarks

The paper (Huan et al., arXiv 2507.00432) scores models on **twelve benchmarks in three groups**:
math (MATH500, AIME24, AIME25, OlympiadBench), other reasoning (GPQA-Diamond, LiveCodeBench,
ACPBench, HeadQA) and non-reasoning (CoQA, IFEval, HaluEval, MC-TACO). The mini-world has one small,
seeded, automatically checkable task family for each, so that every later stage (pretraining,
SFT, GRPO, evaluation, the Transferability Index, PCA and KL) runs for real on a CPU in minutes.

Every item has a chat prompt, a gold answer, a scorer, and a response in the **base style** (brief
reasoning, then `Answer: X`). Math items also carry two **teacher** styles for SFT, mirroring the
paper's Qwen3-32B teacher in think and no-think mode. The base-style math traces are deliberately
imperfect: a share of them follows one systematic wrong strategy (stop one step early), so the
base model will hold the right strategy among a wrong one, as the prototype in
`shared/mini-world-notes.md` found necessary for RL to have something to select.

With `data.source: hub` (the consumer-GPU profile) the same stage loads the paper's real data
instead (`src/mathtransfer/hub.py`): `data.n_train` problems from each of the authors' math
training sets (math_sft_40K with Qwen3-32B teacher traces, math_rl_48k for GRPO and rft) and
`data.n_test` items of each of the twelve benchmarks; a benchmark that cannot be had (GPQA is
gated) is left out and listed below.
"""),
    ("params", """
# Parameters (papermill injects params.yaml below this cell)
seed = 0
data = {}
"""),
    ("code", """
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # no widgets in a report
import pandas as pd
from datasets.utils.logging import disable_progress_bar
from IPython.display import display

from mathtransfer import config, hub
from mathtransfer import data as miniworld
from mathtransfer.tasks import TASKS, score

disable_progress_bar()
shared = config.parse(config.SharedConfig, {"seed": seed}, "")
cfg = config.parse(config.DataConfig, data, "data")
cfg
"""),
    ("md", "## The twelve tasks\nEach task's group, the paper benchmark it mirrors (or, from the Hub, is), and the score of a uniform random guess."),
    ("code", """
if cfg.source == "hub":
    display(pd.DataFrame([dict(task=b.task, group=b.group, benchmark=b.benchmark, hub_id=b.hub_id, scorer=b.score.__name__,
                               chance=b.chance) for b in hub.BENCHMARKS.values()]))
else:
    display(pd.DataFrame([dict(task=t.name, group=t.group, mirrors=t.benchmark, scorer=t.score.__name__, chance=t.chance)
                          for t in TASKS.values()]))
"""),
    ("md", "## Generate and save\nGeneration is deterministic in the seed; the dataset is written atomically (Arrow, `datasets`)."),
    ("code", """
dataset = miniworld.build(cfg, shared.seed)
miniworld.save(dataset, cfg.out_dir)
for name, why in miniworld.missing(dataset).items():
    print(f"MISSING {name}: {why}")
dataset
"""),
    ("md", "## One example of every task\nThe prompt, the base-style target and the gold answer; for math also the two teacher styles."),
    ("code", """
examples = dataset["train"].to_pandas().groupby("task", sort=False).head(1)
for _, row in examples.iterrows():
    print(f"=== {row.task}  ({row.group}, mirrors {row.benchmark})")
    print(row.prompt)
    print(f"--- base target: {row.target}")
    print(f"--- gold: {row.answer}")
    if row.teacher_think or row.teacher_nothink:
        print(f"--- teacher (think):\\n{row.teacher_think[:1500]}")  # hub traces run to thousands of characters
        print(f"--- teacher (no-think): {row.teacher_nothink[:1500]}")
    print()
"""),
    ("md", "## Sizes\nItems per task and split, and mean lengths in characters (tokens follow in notebook 01)."),
    ("code", """
summary = miniworld.summary(dataset)
train = dataset["train"].to_pandas()
unique = train.groupby("task")["prompt"].nunique().rename("unique_train_prompts")
summary = summary.merge(unique, left_on="task", right_index=True, how="left")
summary.loc[summary.split == "test", "unique_train_prompts"] = pd.NA
summary.to_csv("reports/results/data_summary.csv", index=False)
summary
"""),
    ("md", """
## Checks on the generated data
- no test prompt occurs in the training split;
- the teacher traces are always correct, by the same scorer that evaluates models;
- the non-math base targets are correct by their scorers (mini-world only);
- the share of base-style math traces that follow the wrong strategy, measured, against `wrong_share` (mini-world only).
"""),
    ("code", """
test = dataset["test"].to_pandas()
leaks = set(test.prompt) & set(train.prompt)
print(f"test prompts found in train: {len(leaks)}")

math_train = train[train.group == "math"]
teacher_ok = {style: math_train[math_train[style] != ""].apply(lambda r: score(r.task, r[style], r.answer), axis=1).mean()
              for style in ("teacher_think", "teacher_nothink") if (math_train[style] != "").any()}
print("teacher traces correct:", {k: round(v, 4) for k, v in teacher_ok.items()})

if cfg.source == "miniworld":  # the base-style targets exist only in the mini-world
    other = train[train.group != "math"]
    print("non-math base targets correct:", round(other.apply(lambda r: score(r.task, r.target, r.answer, r.meta), axis=1).mean(), 4))
    math_train = math_train.assign(base_correct=math_train.apply(lambda r: score(r.task, r.target, r.answer), axis=1))
    shares = (1 - math_train.groupby("task", sort=False).base_correct.mean()).rename("measured_wrong_share").to_frame()
    shares["wrong_share_param"] = [cfg.wrong_share[t] for t in shares.index]
    display(shares)
"""),
]

BASE = [
    ("md", """
# 01 · The tiny base model: a generalist with headroom

The paper starts from Qwen3 base models. Here a **Qwen3-architecture** model is built from a config
and pretrained from scratch on the twelve-task mixture in the base style, so that it starts as a
generalist: every task above chance, and math in the middle (the notes' recommended 20-60% greedy),
so that GRPO later gets a reward signal and SFT and RL have room to raise math.

Steps: train a byte-level BPE tokenizer on the mini-world's text; build the model; pretrain it
with TRL's `SFTTrainer` (loss on the response only); save it with `save_pretrained`; reload it
through the project's one model loader; score it greedily on the held-out test split.

With `base.model` set (the consumer-GPU profile: a Qwen3 base from the Hub), nothing is built or
pretrained: `base.out_dir/base.json` records the model's name, and the rest of this notebook
(reload, evaluation, pass@k, headroom) runs on that model.
"""),
    ("params", """
# Parameters (papermill injects params.yaml below this cell)
seed = 0
threads = 2
data = {"out_dir": "data/miniworld"}
base = {}
evaluation = {}
"""),
    ("code", """
import json
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # no widgets in a report
import pandas as pd
import torch
from IPython.display import display
from transformers import set_seed
from transformers.utils import logging as hf_logging

from mathtransfer import config, evaluate, models, plots, pretrain
from mathtransfer import data as miniworld

shared = config.parse(config.SharedConfig, {"seed": seed, "threads": threads}, "")
cfg = config.parse(config.BaseConfig, base, "base")
ecfg = config.parse(config.EvalConfig, evaluation, "evaluation")
torch.set_num_threads(shared.threads)
set_seed(shared.seed)
hf_logging.disable_progress_bar()  # the report shows results, not progress bars
dataset = miniworld.load(data["out_dir"])
cfg
"""),
    ("md", "## Tokenizer\nByte-level BPE trained on every training text (teacher traces included, so their words exist in the vocabulary); digits are single tokens. (A pretrained base brings its own tokenizer: this and the next three steps are skipped.)"),
    ("code", """
train = dataset["train"]
if cfg.model:
    models.save_pointer(cfg.model, cfg.out_dir)
    print(f"pretrained base {cfg.model}: nothing to build; {cfg.out_dir}/{models.POINTER} records it")
else:
    texts = [t for column in ("prompt", "target", "teacher_think", "teacher_nothink") for t in train[column] if t]
    tokenizer = models.train_tokenizer(texts, cfg.vocab_size)
    example = evaluate.chat_prompts(tokenizer, [train[0]["prompt"]])[0] + train[0]["target"]
    print(f"vocabulary: {len(tokenizer)} tokens")
    print(tokenizer.convert_ids_to_tokens(tokenizer(example)["input_ids"]))
"""),
    ("code", """
if not cfg.model:
    frame = train.select_columns(["task", "prompt", "target"]).to_pandas()
    full = evaluate.chat_prompts(tokenizer, list(frame.prompt))
    frame["tokens"] = [len(p) + len(t) + 1 for p, t in zip(tokenizer(full)["input_ids"], tokenizer(list(frame.target))["input_ids"])]
    lengths = frame.groupby("task", sort=False).tokens.describe()[["mean", "min", "max"]].round(1)
    print(f"longest sequence: {frame.tokens.max()} tokens (max_length {cfg.max_length})")
    display(lengths.T)
"""),
    ("md", "## Model"),
    ("code", """
if not cfg.model:
    model = models.build_tiny_qwen3(cfg, tokenizer, shared.seed)
    n_params = models.count_parameters(model)
    print(model.config.model_type, n_params)
"""),
    ("md", "## Pretraining\nTRL `SFTTrainer` on prompt/completion pairs (completion-only loss), AdamW with warm-up and a cosine schedule, batches drawn at random from the twelve-task mixture."),
    ("code", """
if cfg.model:  # the stage's outputs exist either way: an empty loss curve, the base's name
    pd.DataFrame(columns=["step", "loss", "grad_norm", "learning_rate", "mean_token_accuracy"]).to_csv(
        "reports/results/pretrain_loss.csv", index=False)
else:
    log = pretrain.pretrain(cfg, train, model, tokenizer, shared.seed, cfg.out_dir)
    curve = log.dropna(subset=["loss"])[["step", "loss", "grad_norm", "learning_rate", "mean_token_accuracy"]]
    curve.to_csv("reports/results/pretrain_loss.csv", index=False)
    display(plots.loss_curve(curve, "Pretraining loss"))
"""),
    ("md", "### Speed\nAchieved training FLOP rate (6 x non-embedding parameters x tokens / time), against this CPU's measured fp32 matmul throughput at the model's MLP shape with the same threads."),
    ("code", """
if cfg.model:
    speed = dict(pretrained=cfg.model)
else:
    achieved = pretrain.flop_rate(n_params["non_embedding"], log.attrs["tokens_seen"], log.attrs["seconds"])
    peak = pretrain.matmul_gflops(k=cfg.hidden_size, m=cfg.intermediate_size)
    speed = dict(seconds=round(log.attrs["seconds"], 1), seconds_per_step=round(log.attrs["seconds"] / cfg.steps, 3),
                 tokens_seen=int(log.attrs["tokens_seen"]), achieved_gflops=round(achieved, 1),
                 matmul_gflops=round(peak, 1), share_of_matmul=round(achieved / peak, 3), threads=shared.threads)
speed
"""),
    ("md", "## Reload and evaluate\nThe saved model is reloaded through `models.load_model` (the one loader every stage uses) and scored greedily on the held-out test items (with 95% bootstrap intervals over the items)."),
    ("code", """
model, tokenizer = models.load_model(cfg.out_dir, "full")
n_params = models.count_parameters(model)
records = evaluate.evaluate(model, tokenizer, dataset["test"], ecfg.n_per_task, ecfg.batch_size, ecfg.max_new_tokens)
records.insert(0, "model", "base")
records.to_csv("reports/results/base_records.csv", index=False)
acc = evaluate.accuracy(records, model="base", method="base", seed=shared.seed,
                       n_resamples=ecfg.bootstrap_resamples, rng_seed=shared.seed)
acc.to_csv("reports/results/base_accuracy.csv", index=False)  # every model's: reports/results/accuracy.csv (notebook 04)
fig = plots.task_accuracy(acc, f"{cfg.model or 'Tiny base model'}, greedy")
fig.savefig("reports/figures/base_accuracy.png", dpi=120)
acc
"""),
    ("md", "### Sampled math: pass@1 and pass@k\nRL can only amplify what the model already samples: pass@k far above pass@1 means there is a correct mode to select."),
    ("code", """
math_tasks = [t for t in acc.task if acc.set_index("task").group[t] == "math"]
passk = evaluate.pass_at_k(model, tokenizer, dataset["test"], math_tasks, ecfg.pass_k_items, ecfg.pass_k,
                           ecfg.batch_size, ecfg.max_new_tokens, shared.seed)
passk.merge(acc[["task", "accuracy"]].rename(columns={"accuracy": "greedy"}), on="task")
"""),
    ("md", "### Headroom check\nComputed from the table above. A task counts as above chance only when its accuracy exceeds chance by more than two binomial standard errors at its n; and the math group should sit inside the 20-60% band."),
    ("code", """
groups = acc.groupby("group", sort=False).accuracy.mean()
margin = 2 * (acc.chance * (1 - acc.chance) / acc.n) ** 0.5
above = acc.assign(threshold=(acc.chance + margin).round(3), above_chance=acc.accuracy > acc.chance + margin)
print(f"tasks above chance: {int(above.above_chance.sum())} of {len(above)}")
if not above.above_chance.all():
    print("NOT above chance:", ", ".join(above.task[~above.above_chance]))
print(f"math group greedy accuracy: {groups['math']:.3f} -> "
      + ("inside" if 0.2 <= groups["math"] <= 0.6 else "OUTSIDE") + " the 0.20-0.60 band")
display(above[["task", "accuracy", "chance", "threshold", "above_chance"]])
groups.round(3).to_frame("greedy accuracy")
"""),
    ("md", "### Example outputs\nTwo test items per task with the model's response and its score."),
    ("code", """
pd.set_option("display.max_colwidth", 90)
records.groupby("task", sort=False).head(2)[["task", "prompt", "output", "answer", "score"]]
"""),
    ("code", """
metrics = dict(
    greedy={g: round(float(v), 4) for g, v in groups.items()},
    math_pass1=round(float(passk.pass1.mean()), 4), math_passk=round(float(passk.passk.mean()), 4), k=ecfg.pass_k,
    tasks_above_chance=int(above.above_chance.sum()), parameters=n_params["total"],
)
with open("reports/metrics/base.json", "w") as fh:
    json.dump(metrics, fh, indent=2)
with open("reports/results/base_speed.json", "w") as fh:  # timings vary run to run: not a metric
    json.dump(speed, fh, indent=2)
metrics
"""),
]

TRAIN = [
    ("md", """
# 02 · One training arm, one seed: math-only post-training of the base

The paper's controlled experiment (section 2.2) trains one base model on the same math problems in
different ways. This notebook runs **one arm for one seed** (papermill parameters `arm` and
`run_seed`; DVC runs it for every arm and seed):

| arm | what it learns from (math training split only) | paper |
|---|---|---|
| `sft-think` | the teacher's step-by-step traces (think style) | SFT on Qwen3-32B think traces |
| `sft-nothink` | the teacher's short traces | SFT on no-think traces |
| `rft` | the base model's own correct samples (rejection sampling) | on-policy SFT |
| `grpo` | its own rollouts, rewarded 1 when the scorer accepts the answer | GRPO |

Checkpoints are written every `train.save_steps` steps; a killed run resumes from the newest complete one.
Each checkpoint is then scored greedily on the first `train.checkpoint_items` test items of all
twelve tasks, so that arms can later be compared at equal math gain (notebook 03).
"""),
    ("params", """
# Parameters (papermill injects params.yaml and -p arm / -p run_seed below this cell)
seed = 0
threads = 2
data = {"out_dir": "data/miniworld"}
base = {"out_dir": "models/base"}
evaluation = {}
train = {}
arm = "grpo"
run_seed = 0
"""),
    ("code", """
import json
import os
import resource
import time
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # no widgets in a report
import pandas as pd
import torch
from datasets.utils.logging import disable_progress_bar
from transformers import set_seed
from transformers.utils import logging as hf_logging

from mathtransfer import arms, config, plots
from mathtransfer import data as miniworld

shared = config.parse(config.SharedConfig, {"seed": seed, "threads": threads}, "")
cfg = config.parse(config.TrainConfig, train, "train")
ecfg = config.parse(config.EvalConfig, evaluation, "evaluation")
torch.set_num_threads(shared.threads)
set_seed(run_seed)
hf_logging.disable_progress_bar()
hf_logging.set_verbosity_error()  # TRL/transformers deprecation chatter is not part of the report
disable_progress_bar()
dataset = miniworld.load(data["out_dir"])
name = arms.run_name(arm, run_seed)
os.makedirs("reports/results/train", exist_ok=True)
print(f"arm {arm}, seed {run_seed}, mode {cfg.mode}, from {base['out_dir']} -> {cfg.out_dir}/{name}")
"""),
    ("md", "## Train\nThe arm's trainer (TRL `SFTTrainer` or `GRPOTrainer`) with the settings of `train` in params.yaml; `resumed_from_step` is the checkpoint an interrupted run was picked up from (0: a fresh run)."),
    ("code", """
start = time.time()
curve, info = arms.run(arm, cfg, base["out_dir"], dataset["train"], run_seed, ecfg.batch_size)
train_seconds = time.time() - start
curve.insert(0, "seed", run_seed)
curve.insert(0, "arm", arm)
curve.to_csv(f"reports/results/train/{name}_curve.csv", index=False)
if arm == "rft":
    print(f"rejection sampling kept {info['kept']} of {info['samples']} samples "
          f"({info['kept'] / info['samples']:.1%}) from {info['prompts']} prompts in {info['sampling_seconds']} s")
info
"""),
    ("md", "## Curves\nLoss and gradient norm for every arm; for GRPO also the mean and spread of the reward within a step and the completion length. (TRL logs a KL to the base only when `beta` > 0; the paper and our default use none.)"),
    ("code", """
metrics = ["loss", "grad_norm", "reward", "reward_std", "completion_length", "kl"]
plots.training_curves(curve, metrics, f"{arm}, seed {run_seed}");
"""),
    ("md", "## Checkpoints on the test subset\nGreedy accuracy of the base (step 0), each checkpoint and the final model, on the first `checkpoint_items` test items of every task."),
    ("code", """
start = time.time()
final_step = int(curve["step"].max())
ckpt = arms.evaluate_checkpoints(base["out_dir"], info["out_dir"], info["checkpoint_dir"], final_step,
                                 dataset["test"], cfg.checkpoint_items, ecfg.batch_size, ecfg.max_new_tokens)
eval_seconds = time.time() - start
ckpt.insert(0, "seed", run_seed)
ckpt.insert(0, "arm", arm)
ckpt.to_csv(f"reports/results/train/{name}_checkpoints.csv", index=False)
freed = arms.prune_checkpoints(info["checkpoint_dir"])  # only the newest is resumed from
print(f"optimizer states of older checkpoints removed: {freed / 2**20:.0f} MB freed")
by_group = ckpt.groupby(["step", "group"], sort=False).accuracy.mean().unstack("group")[["math", "other", "non"]]
by_group.round(3)
"""),
    ("code", """
change = (by_group.iloc[-1] - by_group.iloc[0]).round(3)
print(f"final step {final_step}: change against the base on the same items -> "
      + ", ".join(f"{g} {v:+.3f}" for g, v in change.items()))
ckpt[ckpt.step.isin([0, final_step])].pivot(index="task", columns="step", values="accuracy").round(2)
"""),
    ("md", "## Run facts\nWall time of training and of the checkpoint evaluation, seconds per optimizer step, and the peak resident memory of this process (CPU) or peak GPU memory."),
    ("code", """
peak_mb = (torch.cuda.max_memory_allocated() if torch.cuda.is_available()
           else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024) / 2**20
steps_here = final_step - info["resumed_from_step"]  # steps trained by this process
optimizer_seconds = train_seconds - info.get("sampling_seconds", 0)
facts = dict(info, final_step=final_step, train_seconds=round(train_seconds, 1),
             seconds_per_step=round(optimizer_seconds / steps_here, 3) if steps_here else None,
             eval_seconds=round(eval_seconds, 1),
             peak_memory_mb=round(peak_mb), memory_kind="cuda_allocated" if torch.cuda.is_available() else "cpu_rss",
             threads=shared.threads)
with open(f"reports/results/train/{name}_run.json", "w") as fh:
    json.dump(facts, fh, indent=1)
facts
"""),
]

TRAINING = [
    ("md", """
# 03 · The training arms side by side: curves, gradient-norm dynamics, math gain and its cost

Every arm was trained for every seed from the same base on the same math problems (notebook 02,
one executed copy per run in `reports/train/`). This notebook collects their curves and
checkpoint scores and asks the paper's questions:

1. Did every arm raise math? (The Transferability Index is undefined without a math gain.)
2. How do the gradient norms of SFT and RL behave in the first steps (the paper's Table 7)?
3. At **equal math gain**, what did each arm cost on other reasoning and non-reasoning tasks?

The scores here come from the checkpoint subset (the first `train.checkpoint_items` test items per
task); the evaluate stage scores the final models on the full test split.
"""),
    ("params", """
# Parameters (papermill injects params.yaml below this cell)
train = {}
"""),
    ("code", """
import glob
import json
import math
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")
import pandas as pd
from IPython.display import display

from mathtransfer import config, dynamics, plots

cfg = config.parse(config.TrainConfig, train, "train")
curves = pd.concat([pd.read_csv(f) for f in sorted(glob.glob("reports/results/train/*_curve.csv"))])
ckpts = pd.concat([pd.read_csv(f) for f in sorted(glob.glob("reports/results/train/*_checkpoints.csv"))])
runs = pd.DataFrame([json.load(open(f)) for f in sorted(glob.glob("reports/results/train/*_run.json"))])
# only the seeds in params (files of seeds dropped from params stay on disk until removed)
curves, ckpts, runs = (t[t.seed.isin(cfg.seeds)] for t in (curves, ckpts, runs))
arm_order = [a for a in plots.ARM_ORDER if a in set(curves.arm)]
curves.to_csv("reports/results/train_curves.csv", index=False)
ckpts.to_csv("reports/results/train_checkpoints.csv", index=False)
runs[["arm", "seed", "final_step", "resumed_from_step", "train_seconds", "seconds_per_step", "eval_seconds", "peak_memory_mb"]]
"""),
    ("md", "## 1 · Math gain over the base, with seed spread\nChange in the math group's greedy accuracy from step 0 (the base) to the final step, on the checkpoint subset; mean, standard deviation and range over seeds."),
    ("code", """
run_gains = dynamics.gains(ckpts)
final = run_gains.loc[run_gains.groupby(["arm", "seed"]).step.idxmax()]
spread = final.groupby("arm")[["math", "other", "non"]].agg(["mean", "std", "min", "max"]).reindex(arm_order)
display(spread.round(3))
final.set_index(["arm", "seed"])[["step", "math", "other", "non"]].round(3)
"""),
    ("code", """
aim = 0.10
for arm, row in spread.iterrows():
    low = row[("math", "min")]
    verdict = "every seed reaches" if low >= aim else "NOT every seed reaches"
    print(f"{arm}: math gain {row[('math', 'mean')]:+.3f} (seeds {low:+.3f} to {row[('math', 'max')]:+.3f}); "
          f"{verdict} the +{aim:.2f} aim")
"""),
    ("md", "## 2 · Training curves\nMean over seeds (band: the seeds' range)."),
    ("code", """
if (curves.arm != "grpo").any():
    plots.training_curves(curves[curves.arm != "grpo"], ["loss", "grad_norm", "token_accuracy"], "SFT arms");
"""),
    ("code", """
if (curves.arm == "grpo").any():
    plots.training_curves(curves[curves.arm == "grpo"], ["grad_norm", "reward", "reward_std", "completion_length", "kl"], "GRPO");
"""),
    ("md", "## 3 · Gradient-norm dynamics (the paper's Table 7)\nIndicators over the same window for every run: the first `train.indicator_steps` steps, or the shortest run if that is shorter; per run, then mean over seeds. `half_life` is NaN for a run whose gradient norm never halves within the window (`halved` counts the seeds that did). Definitions in `src/mathtransfer/dynamics.py`."),
    ("code", """
window = int(min(cfg.indicator_steps, curves.groupby(["arm", "seed"]).step.max().min()))
print(f"window: the first {window} steps of every run")
indicators = dynamics.indicator_table(curves, window)
indicators.to_csv("reports/results/grad_norm_indicators.csv", index=False)
table7 = indicators.groupby("arm")[dynamics.INDICATORS].mean().reindex(arm_order)
table7["halved"] = indicators.groupby("arm").half_life.count().reindex(arm_order)
table7.round(4)
"""),
    ("code", """
sft_arms = [a for a in arm_order if a != "grpo"]
if "grpo" in table7.index and sft_arms:
    for name in ("oscillation", "decay_rate", "late_var"):
        higher = [a for a in sft_arms if table7.loc[a, name] > table7.loc["grpo", name]]  # NaN compares False
        print(f"{name}: grpo {table7.loc['grpo', name]:.4f}; higher than grpo in {len(higher)} of {len(sft_arms)} "
              f"SFT arms ({', '.join(higher) or 'none'})")
"""),
    ("md", "## 4 · Matched gain: what each unit of math gain cost\nEach line is one run along its checkpoints, starting at the base (0, 0). Lines that go right while staying level keep their other skills; lines that fall, forget."),
    ("code", """
fig = plots.matched_gain(run_gains)
fig.savefig("reports/figures/matched_gain.png", dpi=120)
"""),
    ("md", "Reading each run where its math gain first reaches a common level (linear between checkpoints): the level is the largest gain (to 0.001, rounded down) that every run with a gain reaches, capped at +0.10. Runs that never gain on math are listed and left out."),
    ("code", """
best = run_gains.groupby(["arm", "seed"]).math.max()
print("runs without any math gain (left out):", ", ".join(f"{a} seed {s}" for a, s in best[best <= 0].index) or "none")
level = math.floor(1000 * min(0.10, float(best[best > 0].min()) if (best > 0).any() else 0)) / 1000
matched = dynamics.at_math_gain(run_gains, level) if level > 0 else pd.DataFrame(columns=["arm", "seed", "math", "step", "other", "non"])
matched.to_csv("reports/results/matched_gain.csv", index=False)
print(f"matched math gain: {level:+.3f}" if level > 0 else "no run gained on math: no matched comparison")
matched.groupby("arm")[["step", "other", "non"]].agg(["mean", "std"]).reindex(arm_order).round(3)
"""),
    ("code", """
means = matched.dropna().groupby("arm")[["other", "non"]].mean()
if "grpo" in means.index:
    for group in ("other", "non"):
        worse = [a for a in sft_arms if a in means.index and means.loc[a, group] < means.loc["grpo", group]]
        print(f"{group}: at math {level:+.3f}, grpo changes by {means.loc['grpo', group]:+.3f}; "
              f"{len(worse)} of {len(sft_arms)} SFT arms lose more ({', '.join(worse) or 'none'})")
metrics = {arm: {f"{group}_change_{stat}": None if pd.isna(value) else round(float(value), 4)
                 for (group, stat), value in spread.loc[arm].items()} for arm in arm_order}
with open("reports/metrics/training.json", "w") as fh:
    json.dump(metrics, fh, indent=2)
"""),
]

EVALUATE = [
    ("md", """
# 04 · Every model on all twelve tasks: the paper's Table 1 and Figure 1

The paper scores each model on four math, four other-reasoning and four non-reasoning benchmarks
(its Table 1) and shows each tuning method's gain per group (its Figure 1). Here every model of
the pipeline (the base, and each arm for each seed) answers the full held-out test split of the
twelve mini-world tasks: greedy, except for the tasks listed in `evaluation.sampled_tasks`, which
average `evaluation.n_samples` sampled answers, as the paper does for AIME and GPQA. Each task's
accuracy carries a 95% bootstrap interval over its test items.
"""),
    ("params", """
# Parameters (papermill injects params.yaml below this cell)
seed = 0
threads = 2
data = {"out_dir": "data/miniworld"}
base = {"out_dir": "models/base"}
evaluation = {}
train = {}
"""),
    ("code", """
import json
import os
import time
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")
import pandas as pd
import torch
from datasets.utils.logging import disable_progress_bar
from IPython.display import display
from transformers.utils import logging as hf_logging

from mathtransfer import arms, config, evaluate, models, plots
from mathtransfer import data as miniworld

shared = config.parse(config.SharedConfig, {"seed": seed, "threads": threads}, "")
ecfg = config.parse(config.EvalConfig, evaluation, "evaluation")
tcfg = config.parse(config.TrainConfig, train, "train")
torch.set_num_threads(shared.threads)
hf_logging.disable_progress_bar()
hf_logging.set_verbosity_error()
disable_progress_bar()
test = miniworld.load(data["out_dir"])["test"]
runs = [("base", "base", shared.seed, base["out_dir"])]
runs += [(arms.run_name(arm, s), arm, s, os.path.join(tcfg.out_dir, arms.run_name(arm, s)))
         for arm in arms.ARMS for s in tcfg.seeds]
missing = [name for name, _, _, path in runs if not os.path.isdir(path)]
print("models missing (their stage has not run; left out):", ", ".join(missing) or "none")
runs = [r for r in runs if r[0] not in missing]
# released (tuned, base) pairs from the params' zoo list, scored on the same items (GPU profile)
for entry in ecfg.zoo:
    for name, method in ((entry["name"], "zoo"), (entry["base"], "zoo-base")):
        if name not in {r[0] for r in runs}:
            runs.append((name, method, -1, name))
print(f"{len(runs)} models; sampled tasks: {ecfg.sampled_tasks or 'none (all greedy)'}")
"""),
    ("md", "## Generate and score\nOne record per model and test item: the prompt, the response (the first sample, for sampled tasks), the parsed answer and the score."),
    ("code", """
records, accuracy, seconds = [], [], {}
for name, method, run_seed, path in runs:
    start = time.time()
    model, tokenizer = models.load_model(path, "full")
    rec = evaluate.evaluate(model, tokenizer, test, ecfg.n_per_task, ecfg.batch_size, ecfg.max_new_tokens,
                            ecfg.sampled_tasks, ecfg.n_samples, ecfg.sample_temperature, ecfg.top_p, shared.seed)
    records.append(rec.assign(model=name, method=method, seed=run_seed))
    accuracy.append(evaluate.accuracy(rec, name, method, run_seed, n_resamples=ecfg.bootstrap_resamples,
                                      rng_seed=shared.seed))
    seconds[name] = round(time.time() - start, 1)
records = pd.concat(records, ignore_index=True)
accuracy = pd.concat(accuracy, ignore_index=True)
records.to_csv("reports/results/records.csv.gz", index=False)
accuracy.to_csv("reports/results/accuracy.csv", index=False)
with open("reports/results/evaluate_speed.json", "w") as fh:
    json.dump(dict(seconds_per_model=seconds, total_seconds=round(sum(seconds.values()), 1),
                   items_per_model=int(len(records) / len(runs)), threads=shared.threads), fh, indent=1)
print(f"{len(records)} records; {sum(seconds.values()):.0f} s in all")
"""),
    ("md", "## Table 1 analogue\nAccuracy (%) per task: the base, and each arm's mean over seeds; then each arm's seed standard deviation."),
    ("code", """
arm_order = ["base"] + [a for a in plots.ARM_ORDER if a in set(accuracy.method)]
task_order = list(dict.fromkeys(accuracy.task))
table1 = (accuracy.assign(accuracy=100 * accuracy.accuracy).pivot_table(index="method", columns="task", values="accuracy", aggfunc="mean")
          .reindex(index=arm_order, columns=task_order))
group_of = accuracy.drop_duplicates("task").set_index("task").group
for group in ("math", "other", "non"):
    table1[f"[{group}]"] = table1[[t for t in task_order if group_of[t] == group]].mean(axis=1)
display(table1.round(1))
(accuracy.assign(accuracy=100 * accuracy.accuracy).pivot_table(index="method", columns="task", values="accuracy", aggfunc="std")
 .reindex(index=arm_order[1:], columns=task_order).round(1))
"""),
    ("md", "### Per-task intervals\n95% bootstrap intervals (percentile, over the test items) of every model and task, here for seed 0 of each arm."),
    ("code", """
first = accuracy[(accuracy.seed == accuracy.groupby("method").seed.transform("min"))]
first.assign(interval=[f"{100 * a:.0f} [{100 * l:.0f}, {100 * h:.0f}]" for a, l, h in zip(first.accuracy, first.ci_low, first.ci_high)]
             ).pivot(index="method", columns="task", values="interval").reindex(index=arm_order, columns=task_order)
"""),
    ("md", "## Figure 1 analogue: change over the base per group\nFor every arm and seed, the change of each group's mean accuracy (points) from the base."),
    ("code", """
groups = accuracy.groupby(["method", "seed", "group"]).accuracy.mean().mul(100).rename("score").reset_index()
base_score = groups[groups.method == "base"].set_index("group").score
gains = groups[groups.method != "base"].rename(columns={"method": "arm"})
gains["change"] = gains.score - gains.group.map(base_score)
gains.to_csv("reports/results/group_gains.csv", index=False)
fig = plots.group_gains(gains, "Change over the base (mini-world)")
fig.savefig("reports/figures/group_gains.png", dpi=120)
summary = gains.groupby(["arm", "group"]).change.agg(["mean", "std", "min", "max"]).round(1)
summary
"""),
    ("code", """
for arm in arm_order[1:]:
    part = gains[gains.arm == arm].set_index(["group", "seed"]).change
    print(f"{arm}: math {part['math'].mean():+.1f} (seeds {part['math'].min():+.1f} to {part['math'].max():+.1f}), "
          f"other {part['other'].mean():+.1f}, non-reasoning {part['non'].mean():+.1f} points")
metrics = {arm: {g: round(float(gains[(gains.arm == arm) & (gains.group == g)].change.mean()), 2) for g in ("math", "other", "non")}
           for arm in arm_order[1:]}
metrics["base"] = {g: round(float(base_score[g]), 2) for g in ("math", "other", "non")}
with open("reports/metrics/evaluate.json", "w") as fh:
    json.dump(metrics, fh, indent=2)
"""),
]

TRANSFER = [
    ("md", """
# 05 · The Transferability Index: the paper's model zoo and our controlled runs

The paper summarises transfer with the **Transferability Index** (TI, its v2 definition; see
`src/mathtransfer/transfer.py`): each group's score changes are scaled by their spread over the
comparison set, square-rooted with sign, weighted by the base's headroom, and expressed as a
percentage of the math term. TI > 0 means the math gain carried over; TI < 0 means forgetting.

First the paper's model zoo (section 2.1; 18 released model pairs, scores copied from the paper
into `data/paper/`), then the same index for our mini-world arms, per seed and with bootstrap
intervals, on one scale.
"""),
    ("params", """
# Parameters (papermill injects params.yaml below this cell)
seed = 0
evaluation = {}
"""),
    ("code", """
import json
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")
import pandas as pd
from IPython.display import display

from mathtransfer import config, plots, transfer

ecfg = config.parse(config.EvalConfig, evaluation, "evaluation")
zoo_scores = pd.read_csv("data/paper/zoo_scores.tsv", sep="\\t", index_col="Model")
zoo_pairs = pd.read_csv("data/paper/zoo_pairs.tsv", sep="\\t")
zoo_groups = {"math": ["AIME24", "AIME25", "MATH500", "Olympiad"],
              "other": ["GPQA", "LiveCodeBench2", "ACPBench", "HeadQA"],
              "non": ["CoQA", "MC-TACO", "IFEval", "HaluEval"]}
print(f"{len(zoo_scores)} models scored, {len(zoo_pairs)} (tuned, base) pairs")
"""),
    ("md", "## The model zoo (paper section 2.1, Figure 2)\nTI v2 with sigma pooled over the 18 pairs, and the simpler v1 (relative gains) beside it."),
    ("code", """
zoo = transfer.transferability_index(zoo_scores, zoo_pairs, zoo_groups, "v2")
zoo_v1 = transfer.transferability_index(zoo_scores, zoo_pairs, zoo_groups, "v1")
zoo = zoo.join(zoo_v1[["TI_other", "TI_non"]].add_suffix("_v1")).join(zoo_pairs.set_index("model")[["base", "method"]])
zoo.to_csv("reports/results/zoo_ti.csv")
zoo[["method", "base", "TI_other", "TI_non", "TI_other_v1", "TI_non_v1"]].sort_values("method").round(1)
"""),
    ("code", """
fig = plots.ti_scatter(zoo.reset_index(), "Model zoo: TI of 18 math-tuned models (paper section 2.1)")
fig.savefig("reports/figures/zoo_ti.png", dpi=120)
positive = (zoo[["TI_other", "TI_non"]] > 0).groupby(zoo.method).sum().add_suffix(" > 0")
zoo.groupby("method")[["TI_other", "TI_non"]].median().add_suffix(" median").join(positive).join(zoo.method.value_counts().rename("pairs")).round(1)
"""),
    ("code", """
rl, sft = zoo[zoo.method == "RL"], zoo[zoo.method == "SFT"]
for g in ("other", "non"):
    print(f"TI_{g}: median RL {rl[f'TI_{g}'].median():+.1f} ({(rl[f'TI_{g}'] > 0).sum()} of {len(rl)} positive), "
          f"median SFT {sft[f'TI_{g}'].median():+.1f} ({(sft[f'TI_{g}'] > 0).sum()} of {len(sft)} positive)")
"""),
    ("md", "## Our controlled runs\nThe same index for every arm and seed against the shared base, on the full test split (notebook 04's records). Tasks play the benchmarks' part; sigma is pooled over all our (arm, seed) pairs."),
    ("code", """
records = pd.read_csv("reports/results/records.csv.gz")
groups = {g: list(dict.fromkeys(records.task[records.group == g])) for g in ("math", "other", "non")}
tuned = records[~records.method.isin(["base", "zoo", "zoo-base"])].drop_duplicates("model")[["model", "method", "seed"]]
pairs = tuned.assign(base="base")[["model", "base"]]
scores = records.pivot_table(index="model", columns="task", values="score", aggfunc="mean") * 100
ours = transfer.transferability_index(scores, pairs, groups).join(tuned.set_index("model"))
ours.round(1)
"""),
    ("md", "### Intervals\nPer run and per arm (the mean of its seeds' TIs), 95% percentile intervals from resampling test items (the same resampled items for every model), `evaluation.bootstrap_resamples` times."),
    ("code", """
arm_of = dict(zip(tuned.model, tuned.method))
per_run = transfer.bootstrap_ti(records, pairs, groups, n_resamples=ecfg.bootstrap_resamples, seed=seed)
per_arm = transfer.bootstrap_ti(records, pairs, groups, labels=arm_of, n_resamples=ecfg.bootstrap_resamples, seed=seed)
results = pd.concat([per_run.join(tuned.set_index("model")).rename_axis("model").reset_index(),
                     per_arm.rename_axis("method").reset_index().assign(model="mean of seeds", seed=pd.NA)])
results.to_csv("reports/results/transfer.csv", index=False)
arm_order = [a for a in plots.ARM_ORDER if a in per_arm.index]
per_arm.reindex(arm_order).round(1)
"""),
    ("code", """
if "grpo" in per_arm.index:
    rl_arm = per_arm.loc["grpo"]
    for arm in [a for a in arm_order if a != "grpo"]:
        for g in ("other", "non"):
            sft_high, rl_low = per_arm.loc[arm, f"TI_{g}_high"], rl_arm[f"TI_{g}_low"]
            verdict = ("cannot be compared with (TI undefined: no math gain)" if pd.isna(rl_arm[f"TI_{g}"]) or pd.isna(per_arm.loc[arm, f"TI_{g}"]) else
                       "exceeds, with non-overlapping intervals" if sft_high < rl_low else
                       "exceeds, but the intervals overlap" if rl_arm[f"TI_{g}"] > per_arm.loc[arm, f"TI_{g}"] else
                       "does NOT exceed")
            print(f"TI_{g}: grpo {rl_arm[f'TI_{g}']:+.1f} [{rl_arm[f'TI_{g}_low']:+.1f}, {rl_arm[f'TI_{g}_high']:+.1f}] "
                  f"{verdict} {arm} {per_arm.loc[arm, f'TI_{g}']:+.1f} "
                  f"[{per_arm.loc[arm, f'TI_{g}_low']:+.1f}, {per_arm.loc[arm, f'TI_{g}_high']:+.1f}]")
"""),
    ("md", "### Released models, scored here\nThe (tuned, base) pairs of `evaluation.zoo`, scored by notebook 04 on the same items (the GPU profile; none in the mini-world): the paper's section 2.1 recomputed on our benchmark subsets, sigma pooled over these pairs."),
    ("code", """
live = pd.DataFrame(ecfg.zoo, columns=["name", "base"]).rename(columns={"name": "model"})
live = live[live.model.isin(records.model) & live.base.isin(records.model)]
live_ti = transfer.transferability_index(scores, live, groups) if len(live) else pd.DataFrame(columns=["TI_other", "TI_non"])
live_ti.rename_axis("model").to_csv("reports/results/zoo_live_ti.csv")
if len(live):
    display(live_ti.round(1))
else:
    print("no released models in evaluation.zoo (or none scored): nothing to show")
"""),
    ("md", "## The zoo and our runs on one scale"),
    ("code", """
zoo_points = zoo.rename_axis("model").reset_index()[["model", "method", "TI_other", "TI_non"]]
zoo_points["method"] = "zoo " + zoo_points.method
arm_points = per_arm.rename_axis("model").reset_index()
arm_points["method"] = "mini-world " + arm_points.model
both = pd.concat([zoo_points, arm_points])
fig = plots.ti_scatter(both, "TI: paper's model zoo and the mini-world arms (seed means, 95% intervals)")
fig.savefig("reports/figures/transfer_ti.png", dpi=120)
metrics = {arm: {k: (None if pd.isna(v) else round(float(v), 2)) for k, v in per_arm.loc[arm].items()} for arm in arm_order}
with open("reports/metrics/transfer.json", "w") as fh:
    json.dump(metrics, fh, indent=2)
"""),
]

# The (tuned, base) pairs both analyses read: every arm x seed against the pipeline's base, then the
# params' extra pairs (names or paths). Shared text, so 06 and 07 list models the same way.
PAIRS_CELL = """
pairs = [(arms.run_name(arm, s), arm, s, os.path.join(tcfg.out_dir, arms.run_name(arm, s)), base["out_dir"])
         for arm in arms.ARMS for s in tcfg.seeds]
pairs += [(p.get("name", p["tuned"]), "extra", -1, p["tuned"], p["base"]) for p in acfg.pairs]
missing = [name for name, method, _, path, _ in pairs if method != "extra" and not os.path.isdir(path)]
print("arms missing (their stage has not run; left out):", ", ".join(missing) or "none")
pairs = [p for p in pairs if p[0] not in missing]
print(f"{len(pairs)} (tuned, base) pairs")
"""

LATENT = [
    ("md", """
# 06 · Why transfer differs (1): how far each arm moves the hidden representations

The paper (section 4.1, Figure 3, Table 2) feeds 100 texts per benchmark through the base and a
tuned model, mean-pools every layer's hidden states, fits a 2-component PCA per layer on the
**base** model's features and projects the tuned model's features on the same axes. The shift of
the tuned model's centroid, averaged over layers, is its distance **d** from the base: larger for
SFT than for RL in the paper, most of all on non-reasoning data.

Here: the first `latent.n_per_task` test items of each task (question + reference answer),
cut to `latent.max_tokens` tokens; every arm and seed against the shared base (and any extra
pairs in `latent.pairs`). Two poolings, named: **paper** (pad positions averaged in, as the
authors' code does) and **mask** (the text's own tokens only). Definitions:
`src/mathtransfer/latent.py`.
"""),
    ("params", """
# Parameters (papermill injects params.yaml below this cell)
seed = 0
threads = 2
data = {"out_dir": "data/miniworld"}
base = {"out_dir": "models/base"}
train = {}
latent = {}
"""),
    ("code", """
import json
import os
import time
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")
import pandas as pd
import torch
from datasets.utils.logging import disable_progress_bar
from IPython.display import display
from transformers.utils import logging as hf_logging

from mathtransfer import arms, config, evaluate, latent as latent_shift, models, plots
from mathtransfer import data as miniworld

shared = config.parse(config.SharedConfig, {"seed": seed, "threads": threads}, "")
tcfg = config.parse(config.TrainConfig, train, "train")
acfg = config.parse(config.LatentConfig, latent, "latent")
torch.set_num_threads(shared.threads)
hf_logging.disable_progress_bar()
hf_logging.set_verbosity_error()
disable_progress_bar()
items = evaluate.first_per_task(miniworld.load(data["out_dir"])["test"], acfg.n_per_task)
tasks = list(dict.fromkeys(items["task"]))
group_of = dict(zip(items["task"], items["group"]))
""" + PAIRS_CELL),
    ("md", "## Features and PCA shift\nThe base's features are computed once per base; each tuned model's are projected on the base's axes, task by task and layer by layer."),
    ("code", """
start = time.time()
texts, base_features, summaries, layers = {}, {}, [], []
for name, method, run_seed, tuned_path, base_path in pairs:
    if base_path not in base_features:
        model, tokenizer = models.load_model(base_path, "full")
        of_task = {t: items.filter(lambda x: x == t, input_columns="task") for t in tasks}
        # question + answer text: the base-style target (mini-world) or the gold answer (hub items have no target)
        texts[base_path] = {t: latent_shift.texts(tokenizer, of_task[t]["prompt"],
                                                  [tg or a for tg, a in zip(of_task[t]["target"], of_task[t]["answer"])])
                            for t in tasks}
        base_features[base_path] = {t: latent_shift.features(model, tokenizer, texts[base_path][t], acfg.max_tokens,
                                                             acfg.batch_size, acfg.poolings) for t in tasks}
    model, tokenizer = models.load_model(tuned_path, "full")
    tuned_features = {t: latent_shift.features(model, tokenizer, texts[base_path][t], acfg.max_tokens, acfg.batch_size,
                                               acfg.poolings)
                      for t in tasks}
    summary, per_layer = latent_shift.shift(base_features[base_path], tuned_features)
    tags = dict(model=name, arm=method, seed=run_seed)
    summaries.append(summary.assign(**tags))
    layers.append(per_layer.assign(**tags))
results = pd.concat(summaries, ignore_index=True)
results["group"] = results.task.map(group_of)
results = results[["model", "arm", "seed", "task", "group", "pooling", "d", "d_layers"]]
layers = pd.concat(layers, ignore_index=True).assign(group=lambda f: f.task.map(group_of))
results.to_csv("reports/results/latent.csv", index=False)
layers.to_csv("reports/results/latent_layers.csv", index=False)
print(f"{len(pairs)} pairs x {len(tasks)} tasks x {len(acfg.poolings)} poolings in {time.time() - start:.0f} s")
"""),
    ("md", "## Table 2 analogue: distance d per group\nMean of d over a group's tasks, then over seeds (sd: over seeds). The paper's d for MATH500 / HeadQA / LCB / CoQA / HaluEval: RL 8.3 / 7.4 / 2.9 / 3.6 / 26.0; SFT-think 10.9 / 7.5 / 17.1 / 9.5 / 29.6; SFT-no-think 17.2 / 25.4 / 15.6 / 10.7 / 109.3 (a far larger model's hidden states: only the ordering compares)."),
    ("code", """
arm_order = [a for a in plots.ARM_ORDER if a in set(results.arm)] + (["extra"] if "extra" in set(results.arm) else [])
per_seed = results.groupby(["arm", "seed", "pooling", "group"]).d.mean().reset_index()
for pooling in acfg.poolings:
    part = per_seed[per_seed.pooling == pooling]
    table = part.pivot_table(index="arm", columns="group", values="d", aggfunc=["mean", "std"])
    print(f"pooling = {pooling}")
    display(table.reindex(index=arm_order, columns=["math", "other", "non"], level=1).round(3))
"""),
    ("code", """
results.pivot_table(index=["pooling", "arm"], columns="task", values="d", aggfunc="mean").reindex(columns=tasks).round(3)
"""),
    ("md", "## Figure 3 analogue: the shift layer by layer\nThe tuned model's mean PC1 shift and PC2 mean on the base's axes (the base sits at 0, 0), per group; band: seed range."),
    ("code", """
for pooling in acfg.poolings:
    fig = plots.latent_layers(layers[(layers.pooling == pooling) & (layers.arm != "extra")],
                              f"Hidden-state shift per layer, {pooling} pooling")
    fig.savefig(f"reports/figures/latent_layers_{pooling}.png", dpi=120)
"""),
    ("md", "## What the numbers say\nFor every SFT-type arm against GRPO: on how many of the three groups is its seed-mean d larger? Then the same with the sign-free `d_layers` (mean of per-layer distances)."),
    ("code", """
group_means = results.groupby(["pooling", "arm", "seed", "group"])[["d", "d_layers"]].mean().groupby(["pooling", "arm", "group"]).mean()
metrics = {}
for pooling in acfg.poolings:
    if "grpo" not in set(results.arm):
        break
    for measure in ("d", "d_layers"):
        rl = group_means.loc[(pooling, "grpo"), measure]
        for arm in [a for a in arm_order if a not in ("grpo", "extra")]:
            other = group_means.loc[(pooling, arm), measure]
            larger = [g for g in ("math", "other", "non") if other[g] > rl[g]]
            print(f"{pooling:5} {measure:8}: {arm:11} moves further than grpo on {len(larger)} of 3 groups "
                  f"({', '.join(larger) or 'none'}); " + ", ".join(f"{g} {other[g]:.3f} vs {rl[g]:.3f}" for g in ("math", "other", "non")))
            metrics.setdefault(pooling, {}).setdefault(arm, {})[f"{measure}_groups_larger_than_grpo"] = len(larger)
for (pooling, arm, group), row in group_means.iterrows():
    metrics.setdefault(pooling, {}).setdefault(arm, {})[f"d_{group}"] = round(float(row.d), 4)
with open("reports/metrics/latent.json", "w") as fh:
    json.dump(metrics, fh, indent=2)
"""),
]

TOKENS = [
    ("md", """
# 07 · Why transfer differs (2): how far each arm moves the output distribution

The paper (section 4.2, Figures 4-5, Table 8) lets each tuned model answer benchmark prompts,
then scores every response token under the tuned and the base model with teacher forcing. It
reports a "KL" (in fact the sampled-token estimate |mean log p_tuned(y) - log p_base(y)|),
the mean shift of the token's rank, and which tokens shift: few, logic-structure tokens for RL
("But", "Wait", "confirm"), many for SFT.

Here every arm and seed (and any extra pair in `tokens.pairs`) answers the first
`tokens.n_per_task` test prompts of every task (temperature `tokens.temperature`, top-p
`tokens.top_p`); both models score the responses. Reported per model and task: the paper's
estimate **kl_paper**, the exact full-vocabulary **kl_exact** = KL(tuned || base) averaged over
positions, the mean **rank_shift** and the **share_changed** of tokens whose rank moved (the
"shifted" tokens). Definitions: `src/mathtransfer/tokens.py`.
"""),
    ("params", """
# Parameters (papermill injects params.yaml below this cell)
seed = 0
threads = 2
data = {"out_dir": "data/miniworld"}
base = {"out_dir": "models/base"}
train = {}
tokens = {}
"""),
    ("code", """
import json
import os
import time
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")
import pandas as pd
import torch
from datasets.utils.logging import disable_progress_bar
from IPython.display import HTML, display
from transformers.utils import logging as hf_logging

from mathtransfer import arms, config, evaluate, models, plots, tokens as token_shift
from mathtransfer import data as miniworld

shared = config.parse(config.SharedConfig, {"seed": seed, "threads": threads}, "")
tcfg = config.parse(config.TrainConfig, train, "train")
acfg = config.parse(config.TokensConfig, tokens, "tokens")
torch.set_num_threads(shared.threads)
hf_logging.disable_progress_bar()
hf_logging.set_verbosity_error()
disable_progress_bar()
items = evaluate.first_per_task(miniworld.load(data["out_dir"])["test"], acfg.n_per_task).to_pandas()
tasks = list(dict.fromkeys(items.task))
# case studies: the first test item of each group's first task, the same for every model
cases = items.groupby("group", sort=False).head(1).set_index("group")
""" + PAIRS_CELL),
    ("md", "## Responses and teacher-forced scoring\nEach tuned model answers (seeded by `seed`); the base and the tuned model then score the same tokens."),
    ("code", """
start = time.time()
loaded_bases, rows, words, case_details = {}, [], [], {}
for name, method, run_seed, tuned_path, base_path in pairs:
    if base_path not in loaded_bases:
        loaded_bases[base_path] = models.load_model(base_path, "full")
    base_model, tokenizer = loaded_bases[base_path]
    tuned_model, _ = models.load_model(tuned_path, "full")
    torch.manual_seed(shared.seed)
    responses = evaluate.generate(tuned_model, tokenizer, list(items.prompt), acfg.batch_size, acfg.max_new_tokens,
                                  do_sample=acfg.temperature > 0, temperature=acfg.temperature or 1.0, top_p=acfg.top_p)
    details = token_shift.compare(base_model, tuned_model, tokenizer, list(items.prompt), responses, acfg.batch_size)
    for (task, group), index in items.groupby(["task", "group"], sort=False).groups.items():
        rows.append(dict(model=name, arm=method, seed=run_seed, task=task, group=group,
                         **token_shift.summary([details[i] for i in index])))
    words.append(token_shift.shifted_words(details, tokenizer).assign(model=name, arm=method, seed=run_seed))
    for group, case in cases.iterrows():
        i = items.index[items.id == case.id][0]
        case_details[(name, group)] = (responses[i], details[i])
results = pd.DataFrame(rows)
words = pd.concat(words, ignore_index=True)
results.to_csv("reports/results/tokens.csv", index=False)
words.to_csv("reports/results/shifted_tokens.csv", index=False)
print(f"{len(pairs)} models x {len(items)} responses, {results.tokens.sum()} tokens scored, in {time.time() - start:.0f} s")
"""),
    ("md", "## Figure 4 analogue: shift per task and arm\nBars: seed mean; dots: seeds (log scale near zero). The paper's KL (its estimate) for MATH500 / Olympiad / GPQA / IFEval / CoQA: RL 0.084 / 0.057 / 0.009 / 0.019 / 0.048; SFT-think 0.35 / 0.31 / 0.25 / 0.25 / 0.25; SFT-no-think 0.37 / 0.34 / 0.28 / 0.28 / 0.49. Its rank shift: RL 0.98, SFT-no-think 10.6."),
    ("code", """
measures = ["kl_paper", "kl_exact", "rank_shift", "share_changed"]
fig = plots.token_shift(results[results.arm != "extra"], measures, "Token-distribution shift of each arm from the base")
fig.savefig("reports/figures/token_shift.png", dpi=120)
arm_order = [a for a in plots.ARM_ORDER if a in set(results.arm)] + (["extra"] if "extra" in set(results.arm) else [])
per_group = results.groupby(["arm", "seed", "group"])[measures].mean().groupby(["arm", "group"]).mean()
per_group.unstack("group").reindex(index=arm_order, columns=pd.MultiIndex.from_product([measures, ["math", "other", "non"]])).round(3)
"""),
    ("md", "## What the numbers say\nPer measure: the arms ordered by their mean over tasks and seeds, and on how many of the twelve tasks GRPO's value is below each other arm's."),
    ("code", """
per_task = results.groupby(["arm", "task"])[measures].mean()
metrics = {}
for measure in measures:
    means = results.groupby("arm")[measure].mean().reindex(arm_order)
    print(f"{measure:14}: " + " < ".join(f"{arm} {value:.4g}" for arm, value in means.sort_values().items()))
    for arm in arm_order:
        metrics.setdefault(arm, {})[measure] = round(float(means[arm]), 5)
    if "grpo" in means:
        for arm in [a for a in arm_order if a not in ("grpo", "extra")]:
            lower = sum(per_task.loc[("grpo", t), measure] < per_task.loc[(arm, t), measure] for t in tasks)
            print(f"{'':16}grpo below {arm} on {lower} of {len(tasks)} tasks")
            metrics[arm][f"{measure}_tasks_above_grpo"] = int(lower)
"""),
    ("md", "## Figure 5 analogue: which tokens shift\nThe most-shifted tokens of each arm (summed over seeds and tasks), coloured by kind: logic-structure words (`tokens.LOGIC_WORDS`), content words and numbers, symbols. Then the share of each kind among the shifted tokens."),
    ("code", """
by_arm = words[words.arm != "extra"].groupby(["arm", "token", "kind"], as_index=False)[["shifted", "occurrences"]].sum()
fig = plots.shifted_tokens(by_arm, acfg.top_tokens, "Most-shifted tokens per arm (all seeds and tasks)")
fig.savefig("reports/figures/shifted_tokens.png", dpi=120)
kinds = words.groupby(["arm", "kind"]).shifted.sum().unstack("kind").reindex(arm_order).fillna(0)
shares = kinds.div(kinds.sum(axis=1), axis=0).add_prefix("share_")
kinds.add_prefix("shifted_").join(shares.round(3))
"""),
    ("code", """
for arm in arm_order:
    part = by_arm[by_arm.arm == arm] if arm != "extra" else words[words.arm == "extra"]
    for kind in ("logic", "content"):
        top = part[(part.kind == kind) & (part.shifted > 0)].nlargest(acfg.top_tokens, "shifted")
        print(f"{arm:11} {kind:7}: " + (", ".join(f"{t} ({n})" for t, n in zip(top.token, top.shifted)) or "none"))
for arm in arm_order:
    metrics[arm]["share_logic_of_shifted"] = round(float(shares.loc[arm].get("share_logic", 0.0)), 4)
with open("reports/metrics/tokens.json", "w") as fh:
    json.dump(metrics, fh, indent=2)
"""),
    ("md", "## Table 8 analogue: case studies\nOne prompt per group (the first test item of the group's first task, chosen by that rule, not by its result), answered by each arm's first seed. Highlighted: the shifted tokens (orange: logic words; blue: others); hover for the two ranks."),
    ("code", """
shown = [(name, method) for name, method, run_seed, *_ in pairs if method == "extra" or run_seed == min(tcfg.seeds)]
for group, case in cases.iterrows():
    parts = [f"<h4>{plots.GROUP_LABELS[group]} &middot; {case.task} &middot; {case.id}</h4><pre>{case.prompt}</pre>"]
    for name, method in shown:
        response, detail = case_details[(name, group)]
        moved = int((detail["rank_base"] != detail["rank_tuned"]).sum())
        parts.append(f"<b>{name}</b>: {moved} of {len(detail['ids'])} tokens shifted" + token_shift.highlight_html(detail, tokenizer))
    display(HTML("".join(parts)))
"""),
]

if __name__ == "__main__":
    nbformat.write(notebook(DATA), "notebooks/00_data.ipynb")
    nbformat.write(notebook(BASE), "notebooks/01_base.ipynb")
    nbformat.write(notebook(TRAIN), "notebooks/02_train.ipynb")
    nbformat.write(notebook(TRAINING), "notebooks/03_training.ipynb")
    nbformat.write(notebook(EVALUATE), "notebooks/04_evaluate.ipynb")
    nbformat.write(notebook(TRANSFER), "notebooks/05_transfer.ipynb")
    nbformat.write(notebook(LATENT), "notebooks/06_latent.ipynb")
    nbformat.write(notebook(TOKENS), "notebooks/07_tokens.ipynb")

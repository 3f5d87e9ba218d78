# %% [markdown]
# # 02 · One training arm, one seed: math-only post-training of the base
#
# The paper's controlled experiment (section 2.2) trains one base model on the same math problems in
# different ways. This notebook runs **one arm for one seed** (papermill parameters `arm` and
# `run_seed`; DVC runs it for every arm and seed):
#
# | arm | what it learns from (math training split only) | paper |
# |---|---|---|
# | `sft-think` | the teacher's step-by-step traces (think style) | SFT on Qwen3-32B think traces |
# | `sft-nothink` | the teacher's short traces | SFT on no-think traces |
# | `rft` | the base model's own correct samples (rejection sampling) | on-policy SFT |
# | `grpo` | its own rollouts, rewarded 1 when the scorer accepts the answer | GRPO |
#
# Checkpoints are written every `train.save_steps` steps; a killed run resumes from the newest complete one.
# Each checkpoint is then scored greedily on the first `train.checkpoint_items` test items of all
# twelve tasks, so that arms can later be compared at equal math gain (notebook 03).

# %% tags=["parameters"]
# Parameters (papermill injects params.yaml and -p arm / -p run_seed below this cell)
seed = 0
threads = 2
data = {"out_dir": "data/miniworld"}
base = {"out_dir": "models/base"}
evaluation = {}
train = {}
arm = "grpo"
run_seed = 0

# %%
import json
import resource
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # no widgets in a report
import torch
from datasets.utils.logging import disable_progress_bar
from mathtransfer import arms, config, schema, storage  # first: it silences a bitsandbytes line that differs by CPU kind
from transformers import set_seed
from transformers.utils import logging as hf_logging


shared = config.parse(config.SharedConfig, {"seed": seed, "threads": threads}, "")
cfg = config.parse(config.TrainConfig, train, "train")
ecfg = config.parse(config.EvalConfig, evaluation, "evaluation")
torch.set_num_threads(shared.threads)
set_seed(run_seed)
hf_logging.disable_progress_bar()
hf_logging.set_verbosity_error()  # TRL/transformers deprecation chatter is not part of the report
disable_progress_bar()
dataset = storage.load_dataset(data["out_dir"])
name = schema.run_name(arm, run_seed)
print(f"arm {arm}, seed {run_seed}, mode {cfg.mode}, from {base['out_dir']} -> {cfg.out_dir}/{name}")

# %% [markdown]
# ## Train
# The arm's trainer (TRL `SFTTrainer` or `GRPOTrainer`) with the settings of `train` in params.yaml. An interrupted run is picked up from its newest complete checkpoint and ends with the same model; how this execution went (the step it resumed from, wall times, seconds per step, peak memory) changes from run to run and is recorded in `reports/timings/train/` (not committed), not shown here.

# %%
curve, facts, timing = arms.run(arm, cfg, base["out_dir"], dataset["train"], run_seed, ecfg.batch_size)
curve.insert(0, "seed", run_seed)
curve.insert(0, "arm", arm)
curve.to_csv(f"reports/results/train/{name}_curve.csv", index=False)
if arm == "rft":
    print(f"rejection sampling kept {facts['kept']} of {facts['samples']} samples "
          f"({facts['kept'] / facts['samples']:.1%}) from {facts['prompts']} prompts")
facts

# %% [markdown]
# ## Curves
# Loss and gradient norm for every arm; for GRPO also the mean and spread of the reward within a step and the completion length. (TRL logs a KL to the base only when `beta` > 0; the paper and our default use none.) Every run's curves side by side: notebook 03 and `dvc plots show`.

# %%
logged = [m for m in ("loss", "grad_norm", "reward", "reward_std", "completion_length", "kl") if curve[m].notna().any()]
# markers: with rollout batches of several steps, GRPO logs its reward only on the steps that generate
curve.plot(x="step", y=logged, subplots=True, layout=(1, len(logged)), figsize=(4 * len(logged), 3), legend=False, style=".-",
           title=[f"{arm} seed {run_seed}: {metric}" for metric in logged]);

# %% [markdown]
# ## Checkpoints on the test subset
# Greedy accuracy of the base (step 0), each checkpoint and the final model, on the first `checkpoint_items` test items of every task.

# %%
scores = arms.score_checkpoints(base["out_dir"], facts["out_dir"], facts["checkpoint_dir"], facts["final_step"],
                                dataset["test"], cfg.checkpoint_items, ecfg.batch_size, ecfg.max_new_tokens)
scores.insert(0, "seed", run_seed)
scores.insert(0, "arm", arm)
scores.to_csv(f"reports/results/train/{name}_checkpoints.csv", index=False)
by_group = arms.group_change(scores)
by_group.round(3)

# %%
change = (by_group.iloc[-1] - by_group.iloc[0]).round(3)
print(f"final step {facts['final_step']}: change against the base on the same items -> "
      + ", ".join(f"{g} {v:+.3f}" for g, v in change.items()))
scores[scores.step.isin([0, facts["final_step"]])].pivot(index="task", columns="step", values="accuracy").round(2)

# %%
with open(f"reports/results/train/{name}_run.json", "w") as fh:
    json.dump(facts, fh, indent=1)
peak_mb = (torch.cuda.max_memory_allocated() if torch.cuda.is_available()
           else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024) / 2**20
storage.write_timing(f"train/{name}", dict(timing, peak_memory_mb=round(peak_mb), threads=shared.threads,
                                           memory_kind="cuda_allocated" if torch.cuda.is_available() else "cpu_rss"));

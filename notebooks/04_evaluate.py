# %% [markdown]
# # 04 · Every model on all twelve tasks: the paper's Table 1 and Figure 1
#
# The paper scores each model on four math, four other-reasoning and four non-reasoning benchmarks
# (its Table 1) and shows each tuning method's gain per group (its Figure 1). Here every model of
# the pipeline (the base, and each arm for each seed) answers the full held-out test split of the
# twelve mini-world tasks: greedy, except for the tasks listed in `evaluation.sampled_tasks`, which
# average `evaluation.n_samples` sampled answers, as the paper does for AIME and GPQA. Each task's
# accuracy carries a 95% bootstrap interval over its test items.

# %% tags=["parameters"]
# Parameters (papermill injects params.yaml below this cell)
seed = 0
threads = 2
data = {"out_dir": "data/miniworld"}
base = {"out_dir": "models/base"}
evaluation = {}
train = {}

# %%
import json
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")
import torch
from datasets.utils.logging import disable_progress_bar
from IPython.display import display
from transformers.utils import logging as hf_logging

from mathtransfer import config, evaluate, models, plots, storage

shared = config.parse(config.SharedConfig, {"seed": seed, "threads": threads}, "")
ecfg = config.parse(config.EvalConfig, evaluation, "evaluation")
tcfg = config.parse(config.TrainConfig, train, "train")
torch.set_num_threads(shared.threads)
hf_logging.disable_progress_bar()
hf_logging.set_verbosity_error()
disable_progress_bar()
test = storage.load_dataset(data["out_dir"])["test"]
trained, missing = models.trained_runs(base["out_dir"], tcfg.out_dir, tcfg.seeds)
print("models missing (their stage has not run; left out):", ", ".join(missing) or "none")
# released (tuned, base) pairs from the params' zoo list, scored on the same items (GPU profile)
runs = evaluate.models_to_evaluate(base["out_dir"], trained, ecfg.zoo, shared.seed)
print(f"{len(runs)} models; sampled tasks: {ecfg.sampled_tasks or 'none (all greedy)'}")

# %% [markdown]
# ## Generate and score
# One record per model and test item: the prompt, the response (the first sample, for sampled tasks), the parsed answer and the score. How long each model took changes from run to run and is recorded in `reports/timings/evaluate.json` (not committed), not shown here.

# %%
records, accuracy, timings = evaluate.evaluate_models(runs, test, ecfg, shared.seed)
# mtime 0: no timestamp in the gzip header, so a rerun with the same records leaves the file unchanged
records.to_csv("reports/results/records.csv.gz", index=False, compression={"method": "gzip", "mtime": 0})
accuracy.to_csv("reports/results/accuracy.csv", index=False)
storage.write_timing("evaluate", dict(timings, threads=shared.threads))
print(f"{len(records)} records: {len(runs)} models x {timings['items_per_model']} items")

# %% [markdown]
# ## Table 1 analogue
# Accuracy (%) per task: the base, and each arm's mean over seeds; then each arm's seed standard deviation.

# %%
display(evaluate.table1(accuracy).round(1))
evaluate.seed_spread(accuracy).round(1)

# %% [markdown]
# ### Per-task intervals
# 95% bootstrap intervals (percentile, over the test items) of every model and task, here for the first seed of each arm.

# %%
evaluate.first_seed_intervals(accuracy)

# %% [markdown]
# ## Figure 1 analogue: change over the base per group
# For every arm and seed, the change of each group's mean accuracy (points) from the base.

# %%
gains = evaluate.group_gains(accuracy)
gains.to_csv("reports/results/group_gains.csv", index=False)
fig = plots.group_gains(gains, "Change over the base (mini-world)")
fig.savefig("reports/figures/group_gains.png", dpi=120)
evaluate.gain_summary(gains)

# %%
print("\n".join(evaluate.gain_sentences(gains)))

# %% [markdown]
# ## Format or content?
# The scores above are strict: an answer counts only behind its marker (`Answer:` or `\boxed{}`). A model that still knows the answer but stopped marking it loses the item all the same. The lenient score reads a response without a marker from its end instead (the last number for math, the last word for yes/no, the last line for choice and short answers; format has no marker, so it is unchanged). Per arm and group, seed means, points: the change over the base scored strictly and leniently; `format` = strict - lenient is the part of the strict change that is the lost marker, the lenient change is the content.

# %%
format_content = evaluate.format_vs_content(accuracy)
format_content.to_csv("reports/results/format_content.csv", index=False)
print("\n".join(evaluate.format_sentences(format_content)))
format_content.round(1)

# %% [markdown]
# ## Does math training carry the shared step over? (world v2)
# The non-math tasks split in two (notebook 00): those that share math's step (code_trace, blocks, format: the base stops one step early there too) and the controls, which share nothing with math. Per arm and seed, the change over the base (points, mean over the split's tasks, same test items), with a 95% paired bootstrap interval over items; "seed -1" is the mean of the seeds. A gain on the shared-step tasks with the controls in place would be transfer of the skill; a loss on both, forgetting.

# %%
split = evaluate.step_split(records[records.method.isin(["base", *evaluate.arms_in(accuracy)])],
                            n_resamples=ecfg.bootstrap_resamples, rng_seed=shared.seed)
split.to_csv("reports/results/step_split.csv", index=False)
split.set_index(["arm", "seed", "split"])[["change", "low", "high"]].unstack("split").round(1) if len(split) else split

# %%
with open("reports/metrics/evaluate.json", "w") as fh:
    json.dump(evaluate.metrics(gains, accuracy, split), fh, indent=2)

# %% [markdown]
# # 01 · The base model's headroom: what it can do before any math training
#
# The base model of notebook `01_base` (or, with `base.model` set, a pretrained Qwen3 base) is
# reloaded through the project's one model loader and scored greedily on the held-out test split,
# with 95% bootstrap intervals over the items. Then the two properties the study needs, measured
# before any arm is trained: every task above chance (there is something to keep or forget), and
# math with a correct mode among the model's samples (pass@k far above pass@1: something for RL to
# select).

# %% tags=["parameters"]
# Parameters (papermill injects params.yaml below this cell)
seed = 0
threads = 2
data = {"out_dir": "data/miniworld"}
base = {}
evaluation = {}

# %%
import json
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # no widgets in a report
import pandas as pd
import torch
from IPython.display import display
from mathtransfer import config, evaluate, generation, models, plots, registry, storage  # first: it silences a bitsandbytes line that differs by CPU kind
from transformers import set_seed
from transformers.utils import logging as hf_logging

from datasets.utils.logging import disable_progress_bar


shared = config.parse(config.SharedConfig, {"seed": seed, "threads": threads}, "")
cfg = config.parse(config.BaseConfig, base, "base")
ecfg = config.parse(config.EvalConfig, evaluation, "evaluation")
torch.set_num_threads(shared.threads)
set_seed(shared.seed)
hf_logging.disable_progress_bar()  # the report shows results, not progress bars
disable_progress_bar()  # datasets' filter bar prints a speed that changes from run to run
dataset = storage.load_dataset(data["out_dir"])

# %% [markdown]
# ## Reload and evaluate
# The saved model is reloaded through `models.load_model` (the one loader every stage uses) and scored greedily on the held-out test items (with 95% bootstrap intervals over the items).

# %%
model, tokenizer = models.load_model(cfg.out_dir, "full")
n_params = models.count_parameters(model)
records = generation.records(model, tokenizer, dataset["test"], ecfg.n_per_task, ecfg.batch_size, ecfg.max_new_tokens)
records.insert(0, "model", "base")
records.to_csv("reports/results/base_records.csv", index=False)
acc = evaluate.accuracy(records, model="base", method="base", seed=shared.seed,
                       n_resamples=ecfg.bootstrap_resamples, rng_seed=shared.seed)
acc.to_csv("reports/results/base_accuracy.csv", index=False)  # every model's: reports/results/accuracy.csv (notebook 04)
fig = plots.task_accuracy(acc, f"{cfg.model or 'Tiny base model'}, greedy")
fig.savefig("reports/figures/base_accuracy.png", dpi=120)
acc

# %% [markdown]
# ### Sampled answers: pass@1 and pass@k
# RL can only amplify what the model already samples: pass@k far above pass@1 means there is a correct mode to select. Shown for the math tasks and, in the mini-world, the tasks that share math's step (code_trace, blocks, format): there the base should hold the right and the wrong strategy too.

# %%
sampled_tasks = [t for t in acc.task if t in registry.STEP_TASKS or acc.set_index("task").group[t] == "math"]
passk = generation.pass_at_k(model, tokenizer, dataset["test"], sampled_tasks, ecfg.pass_k_items, ecfg.pass_k,
                             ecfg.batch_size, ecfg.max_new_tokens, shared.seed)
passk.to_csv("reports/results/base_passk.csv", index=False)
passk = passk.merge(acc[["task", "group", "accuracy"]].rename(columns={"accuracy": "greedy"}), on="task")
passk

# %% [markdown]
# ### Headroom check
# Computed from the table above. A task counts as above chance only when its accuracy exceeds chance by more than two binomial standard errors at its n; every task's greedy accuracy should lie in the 25-85% band (`registry.HEADROOM_BAND`: a gain and a loss can both show, and every task carries TI weight); and the math group should sit inside the 20-60% band.

# %%
groups = acc.groupby("group", sort=False).accuracy.mean()
margin = 2 * (acc.chance * (1 - acc.chance) / acc.n) ** 0.5
above = acc.assign(threshold=(acc.chance + margin).round(3), above_chance=acc.accuracy > acc.chance + margin,
                   in_band=acc.accuracy.between(*registry.HEADROOM_BAND))
print(f"tasks above chance: {int(above.above_chance.sum())} of {len(above)}")
print(f"tasks inside the {registry.HEADROOM_BAND[0]:.2f}-{registry.HEADROOM_BAND[1]:.2f} band: {int(above.in_band.sum())} of {len(above)}"
      + ("" if above.in_band.all() else " (outside: " + ", ".join(above.task[~above.in_band]) + ")"))
if not above.above_chance.all():
    print("NOT above chance:", ", ".join(above.task[~above.above_chance]))
print(f"math group greedy accuracy: {groups['math']:.3f} -> "
      + ("inside" if 0.2 <= groups["math"] <= 0.6 else "OUTSIDE") + " the 0.20-0.60 band")
display(above[["task", "accuracy", "chance", "threshold", "above_chance", "in_band"]])
groups.round(3).to_frame("greedy accuracy")

# %% [markdown]
# ### Example outputs
# Two test items per task with the model's response and its score.

# %%
pd.set_option("display.max_colwidth", 90)
records.groupby("task", sort=False).head(2)[["task", "prompt", "output", "answer", "score"]]

# %%
metrics = dict(
    greedy={g: round(float(v), 4) for g, v in groups.items()},
    math_pass1=round(float(passk[passk.group == "math"].pass1.mean()), 4),
    math_passk=round(float(passk[passk.group == "math"].passk.mean()), 4), k=ecfg.pass_k,
    tasks_above_chance=int(above.above_chance.sum()), tasks_in_band=int(above.in_band.sum()),
    parameters=n_params["total"],
)
with open("reports/metrics/base.json", "w") as fh:
    json.dump(metrics, fh, indent=2)
metrics

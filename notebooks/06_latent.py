# %% [markdown]
# # 06 · Why transfer differs (1): how far each arm moves the hidden representations
#
# The paper (section 4.1, Figure 3, Table 2) feeds 100 texts per benchmark through the base and a
# tuned model, mean-pools every layer's hidden states, fits a 2-component PCA per layer on the
# **base** model's features and projects the tuned model's features on the same axes. The shift of
# the tuned model's centroid, averaged over layers, is its distance **d** from the base: larger for
# SFT than for RL in the paper, most of all on non-reasoning data.
#
# Here: the first `latent.n_per_task` test items of each task with a correct reference answer
# (question + that answer: the world's base-style target where it is right, the world writes
# wrong ones at a share; `latent.probe_items`),
# cut to `latent.max_tokens` tokens; every arm and seed against the shared base (and any extra
# pairs in `latent.pairs`). Two poolings, named: **paper** (pad positions averaged in, as the
# authors' code does) and **mask** (the text's own tokens only). Definitions:
# `src/mathtransfer/latent.py`.

# %% tags=["parameters"]
# Parameters (papermill injects params.yaml below this cell)
seed = 0
threads = 2
data = {"out_dir": "data/miniworld"}
base = {"out_dir": "models/base"}
train = {}
latent = {}

# %%
import json
import time
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")
import torch
from datasets.utils.logging import disable_progress_bar
from IPython.display import display
from transformers.utils import logging as hf_logging

from mathtransfer import config, latent as latent_shift, models, plots, storage

shared = config.parse(config.SharedConfig, {"seed": seed, "threads": threads}, "")
tcfg = config.parse(config.TrainConfig, train, "train")
acfg = config.parse(config.LatentConfig, latent, "latent")
torch.set_num_threads(shared.threads)
hf_logging.disable_progress_bar()
hf_logging.set_verbosity_error()
disable_progress_bar()
items = latent_shift.probe_items(storage.load_dataset(data["out_dir"])["test"].to_pandas(), acfg.n_per_task)
tasks = list(dict.fromkeys(items.task))
print("texts per task (those with a correct reference answer):", items.task.value_counts(sort=False).to_dict())
runs, missing = models.trained_runs(base["out_dir"], tcfg.out_dir, tcfg.seeds, acfg.pairs)
print("arms missing (their stage has not run; left out):", ", ".join(missing) or "none")
print(f"{len(runs)} (tuned, base) pairs")

# %% [markdown]
# ## Features and PCA shift
# The base's features are computed once per base; each tuned model's are projected on the base's axes, task by task and layer by layer (`latent.shift_table`). Wall times vary from run to run while the numbers do not: they go to `reports/timings/latent.json` (not committed), not here.

# %%
started = time.perf_counter()
results, layers = latent_shift.shift_table(runs, items, acfg)
storage.write_timing("latent", dict(seconds=round(time.perf_counter() - started, 1), pairs=len(runs),
                                    texts=len(items), threads=shared.threads))
results.to_csv("reports/results/latent.csv", index=False)
layers.to_csv("reports/results/latent_layers.csv", index=False)
print(f"{len(runs)} pairs x {len(tasks)} tasks x {len(acfg.poolings)} poolings")

# %% [markdown]
# ## Table 2 analogue: distance d per group
# Mean of d over a group's tasks, then over seeds (sd: over seeds). The paper's d for MATH500 / HeadQA / LCB / CoQA / HaluEval: RL 8.3 / 7.4 / 2.9 / 3.6 / 26.0; SFT-think 10.9 / 7.5 / 17.1 / 9.5 / 29.6; SFT-no-think 17.2 / 25.4 / 15.6 / 10.7 / 109.3 (a far larger model's hidden states: only the ordering compares).

# %%
per_seed = latent_shift.group_distances(results)
arm_order = list(dict.fromkeys(results.arm))  # the runs' order: the arms, then any extra pairs
for pooling in acfg.poolings:
    table = per_seed[per_seed.pooling == pooling].pivot_table(index="arm", columns="group", values="d",
                                                              aggfunc=["mean", "std"])
    print(f"pooling = {pooling}")
    display(table.reindex(index=arm_order, columns=["math", "other", "non"], level=1).round(3))

# %%
results.pivot_table(index=["pooling", "arm"], columns="task", values="d", aggfunc="mean").reindex(columns=tasks).round(3)

# %% [markdown]
# ## Figure 3 analogue: the shift layer by layer
# The tuned model's mean PC1 shift and PC2 mean on the base's axes (the base sits at 0, 0), per group; band: seed range.

# %%
for pooling in acfg.poolings:
    fig = plots.latent_layers(layers[(layers.pooling == pooling) & (layers.arm != "extra")],
                              f"Hidden-state shift per layer, {pooling} pooling")
    fig.savefig(f"reports/figures/latent_layers_{pooling}.png", dpi=120)

# %% [markdown]
# ## What the numbers say
# For every SFT-type arm against GRPO: on how many of the three groups is its seed-mean d larger? Then the same with the sign-free `d_layers` (mean of per-layer distances).

# %%
comparison = latent_shift.versus_grpo(per_seed)
print("\n".join(f"{r.pooling:5} {r.measure:8}: {r.arm:11} moves further than grpo on {r.groups_larger} of 3 groups "
                f"({r.larger or 'none'}); math {r.math:.3f} vs {r.grpo_math:.3f}, other {r.other:.3f} vs "
                f"{r.grpo_other:.3f}, non {r.non:.3f} vs {r.grpo_non:.3f}" for r in comparison.itertuples())
      or "grpo has not run: no comparison")
with open("reports/metrics/latent.json", "w") as fh:
    json.dump(latent_shift.metrics(per_seed), fh, indent=2)

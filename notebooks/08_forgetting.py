# %% [markdown]
# # 08 · What predicts forgetting
#
# The paper's section 5 asks which part of RL matters, by an ablation over the sampling
# distribution q, the weights w and a KL term. Later work asks sharper questions: is forgetting
# predicted by the forward KL to the base on the training task (RL's Razor, Shenfeld et al. 2025:
# a quadratic fit with R^2 0.96 on a toy task, 0.71 on an LLM)? Does the update touch only a small
# subnetwork? Does a net change of zero hide items both forgotten and gained?
#
# Beside the four arms of the main comparison (sft-think, sft-nothink, rft, grpo), five arms answer these questions (each trained for every
# seed at its own learning rate, chosen by the same sweep rule on math alone):
# - `rl-offpolicy`, the paper's off-policy RL: groups of teacher responses (think style), a share of
#   them following the world's wrong strategy (stop one step early), weighted by their
#   group-normalised advantage, negative ones included (`src/mathtransfer/offpolicy.py`);
# - `grpo-kl`: grpo with a KL penalty to the base; `grpo-random`: grpo rewarded by a seeded coin
#   flip, blind to correctness (the Spurious Rewards control);
# - `sft-self`: rft with its samples drawn again from the current policy in rounds (Retaining by
#   Doing); `sft-think-lora`: sft-think through LoRA adapters.
#
# Here, for every arm of the study (schema.ARMS):
# 1. the ablation table: each arm's q, w and KL beta beside its changes and TI readings;
# 2. forgetting against three distances from the base, every checkpoint of every arm;
# 3. update sparsity and rank of the final models;
# 4. items forgotten and gained, per arm and task;
# 5. conclusions computed from these tables.
# Definitions: `src/mathtransfer/forgetting.py`.

# %% tags=["parameters"]
# Parameters (papermill injects params.yaml below this cell)
seed = 0
threads = 2
data = {"out_dir": "data/miniworld"}
base = {"out_dir": "models/base"}
train = {}
evaluation = {}

# %%
import json
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # no widgets in a report
import pandas as pd
import torch
from IPython.display import display
from mathtransfer import config, dynamics, forgetting, models, plots, schema, storage  # first: it silences a bitsandbytes line that differs by CPU kind
from transformers.utils import logging as hf_logging

shared = config.parse(config.SharedConfig, {"seed": seed, "threads": threads}, "")
tcfg = config.parse(config.TrainConfig, train, "train")
ecfg = config.parse(config.EvalConfig, evaluation, "evaluation")
torch.set_num_threads(shared.threads)
hf_logging.disable_progress_bar()
hf_logging.set_verbosity_error()
arm_order = list(schema.ARMS)
print(f"grpo-kl's KL coefficient (train.kl_beta): {tcfg.kl_beta}; rl-offpolicy's share of wrong teacher responses "
      f"(train.offpolicy_wrong_share): {tcfg.offpolicy_wrong_share} in groups of {tcfg.num_generations}; "
      f"sft-self draws every {tcfg.self_every} steps (train.self_every)")
print("learning rates:", {arm: config.arm_lr(tcfg, arm) for arm in arm_order})

# %% [markdown]
# ## 1 · The ablation table (paper Tables 3-4)
# The paper's unified view: every arm maximises E_{y~q}[w(y) log pi(y|x)] for some sampling distribution q and weight w, with or without a KL term. Changes are in accuracy points over the base (full test split, seed means; notebook 04), TI readings from notebook 05 (v2 with pooled and with the zoo's sigma).

# %%
gains = pd.read_csv("reports/results/group_gains.csv")
transfer_arms = pd.read_csv("reports/results/transfer.csv").query("model == 'mean of seeds'").set_index("method")
ablation = forgetting.ablation_table(gains, transfer_arms, tcfg.beta, tcfg.kl_beta)
ablation.to_csv("reports/results/ablation.csv", index=False)
ablation[["arm", "q", "w", "beta", "change_math", "change_other", "change_non", "TI_other", "TI_non",
          "TI_fixed_other", "TI_fixed_non"]].round(1)

# %% [markdown]
# ## 2 · Forgetting against distance from the base
# At every checkpoint (every `train.save_steps` steps; the base itself left out) the training stage measured the change on every group (the first 50 test items of each task) and three distances from the base on math, all on the base's own greedy answers to the math items: the forward KL, KL(base || model), exact over the vocabulary (RL's Razor's measure); the paper's token-level estimate |mean log p_base(y) - log p_model(y)| over the same answers' tokens; and the parameter distance ||theta - theta_base||. For each, the drop on a group (minus its change) is fitted as a*x + b*x^2 across all arms and checkpoints (no intercept: no distance, no forgetting); R^2 with a 95% bootstrap interval over checkpoints.

# %%
points = dynamics.distance_path(pd.read_csv("reports/results/train_checkpoints.csv")).query("step > 0")
points.to_csv("reports/results/forgetting_points.csv", index=False)
fits = forgetting.predictor_fits(points, list(forgetting.PREDICTORS), ecfg.bootstrap_resamples, seed)
fits.to_csv("reports/results/forgetting_fits.csv", index=False)
fig = plots.forgetting_fits(points, fits, forgetting.PREDICTORS)
fig.savefig("reports/figures/forgetting_fits.png", dpi=120)
fits.round(3)

# %%
print("\n".join(forgetting.best_predictors(fits)))
print("RL's Razor reports R^2 0.96 (toy) and 0.71 (LLM) for the forward KL.")

# %% [markdown]
# The checkpoints fall into two clusters, the teacher-trace arms far from the base and the on-policy arms near it, and a fit across two clusters explains much with any distance that separates them. The same fits within the on-policy arms alone (`forgetting.ON_POLICY`) say whether a distance also orders the small changes.

# %%
print("on-policy arms:", ", ".join(forgetting.ON_POLICY))
near = points[points["arm"].isin(forgetting.ON_POLICY)]
near_fits = forgetting.predictor_fits(near, list(forgetting.PREDICTORS), ecfg.bootstrap_resamples, seed)
near_fits.to_csv("reports/results/forgetting_fits_near.csv", index=False)
print("\n".join(forgetting.best_predictors(near_fits)))
near_fits.round(3)

# %% [markdown]
# ## 3 · How much of the model each arm changes
# Sparsity: the share of parameters whose value changes once base and tuned are both rounded to bf16 (a change below bf16's resolution does not count), per module kind. Rank: per weight matrix, the share of the update's singular values above 1e-3 of the largest (`forgetting.RANK_TOL`). Final models, every seed.

# %%
runs, missing = models.trained_runs(base["out_dir"], tcfg.out_dir, tcfg.seeds)
print("arms missing (their stage has not run; left out):", ", ".join(missing) or "none")
sparsity, rank = forgetting.run_updates(runs)
sparsity.to_csv("reports/results/update_sparsity.csv", index=False)
rank.to_csv("reports/results/update_rank.csv", index=False)
sparsity.pivot_table(index="arm", columns="kind", values="changed").reindex(arm_order).round(3)

# %%
rank.pivot_table(index="arm", columns="kind", values="rank_share").reindex(arm_order).round(3)

# %% [markdown]
# ## 4 · Items forgotten and gained
# Per arm and task, greedy, on the full test split: the share of items right for the base and wrong for the arm (forgotten) and the reverse (gained), seed means with 95% bootstrap intervals over items.

# %%
moves = forgetting.transitions(pd.read_csv("reports/results/records.csv.gz"), n_resamples=ecfg.bootstrap_resamples,
                               seed=seed)
moves.to_csv("reports/results/transitions.csv", index=False)
fig = plots.transitions(moves)
fig.savefig("reports/figures/transitions.png", dpi=120)
moves.groupby(["arm", "group"], sort=False)[["forgotten", "gained"]].mean().round(3)

# %% [markdown]
# ## 4b · How the math answers fail
# A mini-world math answer is a chain of steps ("7+5=12. 12-3=9."). Per arm, the share of the greedy math answers (full test split, seed means) that are right, that take every step of their item (the world's wrong strategy stops one step early), and that hold a step with a wrong result: an arm can learn the strategy and lose the arithmetic. Hub data has no steps: the table is then empty.

# %%
traces = forgetting.math_traces(pd.read_csv("reports/results/records.csv.gz"),
                                forgetting.item_steps(storage.load_dataset(data["out_dir"])["test"]))
traces.to_csv("reports/results/math_traces.csv", index=False)
traces.round(3)

# %% [markdown]
# ## 5 · Conclusions, computed from the tables above
# Which of the paper's ablation orderings hold here: each pair of arms compared on the change of the other and the non-reasoning groups (points, seed means, 95% intervals over items and seeds); an ordering is stated only where the two intervals do not overlap. Then the random-reward arm, and the predictor of forgetting.

# %%
print("\n".join(forgetting.ordering_sentences(ablation)))
print(forgetting.random_reward_sentence(ablation))
print("Across all arms:", *forgetting.best_predictors(fits), sep="\n  ")
print("Within the on-policy arms:", *forgetting.best_predictors(near_fits), sep="\n  ")

# %%
with open("reports/metrics/forgetting.json", "w") as fh:
    json.dump(forgetting.metrics(fits, sparsity, moves), fh, indent=2)

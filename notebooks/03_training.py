# %% [markdown]
# # 03 · The training arms side by side: curves, gradient-norm dynamics, math gain and its cost
#
# Every arm was trained for every seed from the same base on the same math problems (notebook 02,
# one executed copy per run in `reports/train/`). This notebook collects their curves and
# checkpoint scores and asks the paper's questions:
#
# 1. Did every arm raise math? (The Transferability Index is undefined without a math gain.)
# 2. How do the gradient norms of SFT and RL behave in the first steps (the paper's Table 7)?
# 3. At **equal math gain**, what did each arm cost on other reasoning and non-reasoning tasks?
#
# The scores here come from the checkpoint subset (the first `train.checkpoint_items` test items per
# task); the evaluate stage scores the final models on the full test split.

# %% tags=["parameters"]
# Parameters (papermill injects params.yaml below this cell)
train = {}
sweep = {}

# %%
import json
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")
from IPython.display import display

from mathtransfer import config, dynamics, plots, schema

cfg = config.parse(config.TrainConfig, train, "train")
sweep_cfg = config.parse(config.SweepConfig, sweep, "sweep")
curves, ckpts, runs = dynamics.read_runs("reports/results/train", cfg.seeds)
arm_order = [a for a in plots.ARM_ORDER if a in set(curves.arm)]
curves.to_csv("reports/results/train_curves.csv", index=False)
ckpts.to_csv("reports/results/train_checkpoints.csv", index=False)
runs[[c for c in ("arm", "seed", "final_step", "math_rows", "prompts", "samples", "kept") if c in runs]]

# %% [markdown]
# ## 1 · Math gain over the base, with seed spread
# Change in the math group's greedy accuracy from step 0 (the base) to the final step, on the checkpoint subset; mean, standard deviation and range over seeds.

# %%
run_gains = dynamics.gains(ckpts)
final, spread = dynamics.final_gains(run_gains, arm_order)
display(spread.round(3))
final.set_index(["arm", "seed"])[["step", "math", "other", "non"]].round(3)

# %%
print("\n".join(dynamics.aim_verdicts(spread, aim=0.10)))

# %% [markdown]
# ## 2 · Training curves
# Mean over seeds (band: the seeds' range). The arms trained by TRL's SFTTrainer (the SFT arms and rl-offpolicy, whose loss is advantage-weighted and can fall below zero), then the GRPO arms.

# %%
grpo_arms = schema.arms_trained_by("grpo")
if (~curves.arm.isin(grpo_arms)).any():
    plots.training_curves(curves[~curves.arm.isin(grpo_arms)], ["loss", "grad_norm", "token_accuracy"], "Arms trained by SFTTrainer");

# %%
if curves.arm.isin(grpo_arms).any():
    plots.training_curves(curves[curves.arm.isin(grpo_arms)], ["grad_norm", "reward", "reward_std", "completion_length", "kl"], "GRPO arms");

# %% [markdown]
# ## 3 · Gradient-norm dynamics (the paper's Table 7)
# Indicators over the same window for every run: the first `train.indicator_steps` steps, or the shortest run if that is shorter; per run, then mean over seeds. `half_life` is NaN for a run whose gradient norm never halves within the window (`halved` counts the seeds that did). Definitions in `src/mathtransfer/dynamics.py`.

# %%
window = int(min(cfg.indicator_steps, curves.groupby(["arm", "seed"]).step.max().min()))
print(f"window: the first {window} steps of every run")
indicators = dynamics.indicator_table(curves, window)
indicators.to_csv("reports/results/grad_norm_indicators.csv", index=False)
table7 = dynamics.indicator_summary(indicators, arm_order)
table7.round(4)

# %%
print("\n".join(dynamics.versus(table7, "grpo", ["oscillation", "decay_rate", "late_var"])))

# %% [markdown]
# ## 4 · Matched gain: what each unit of math gain cost
# Each line is one run along its checkpoints, starting at the base (0, 0). Lines that go right while staying level keep their other skills; lines that fall, forget.

# %%
fig = plots.matched_gain(run_gains)
fig.savefig("reports/figures/matched_gain.png", dpi=120)

# %% [markdown]
# Reading each run where its math gain first reaches a common level (linear between checkpoints): the level is the largest gain (to 0.001, rounded down) that every run with a gain reaches, capped at +0.10 (`dynamics.matched_level`). Runs that never gain on math are listed and left out. This and the two matched views below compare the four arms of the main comparison (`dynamics.MAIN_ARMS`): the ablation's arms, some of which barely move (grpo-random, rl-offpolicy), would pull every common level down to where nothing has happened yet; notebook 08 compares them.

# %%
main_gains = run_gains[run_gains["arm"].isin(dynamics.MAIN_ARMS)]
level, without_gain = dynamics.matched_level(main_gains, cap=0.10)
print("runs without any math gain (left out):", ", ".join(f"{a} seed {s}" for a, s in without_gain) or "none")
matched = dynamics.at_math_gain(main_gains, level)
matched.to_csv("reports/results/matched_gain.csv", index=False)
print(f"matched math gain: {level:+.3f}" if level > 0 else "no run gained on math: no matched comparison")
matched.groupby("arm")[["step", "other", "non"]].agg(["mean", "std"]).reindex(arm_order).round(3)

# %%
print(f"change on each group at math {level:+.3f}, against grpo's (lower: loses more):")
print("\n".join(dynamics.versus(matched.dropna().groupby("arm")[["other", "non"]].mean(), "grpo", ["other", "non"], lower=True)))
with open("reports/metrics/training.json", "w") as fh:
    json.dump(dynamics.training_metrics(spread), fh, indent=2)

# %% [markdown]
# ## 4b · At equal distance from the base
# Equal math gain is one footing; equal *distance* is another. At every checkpoint, the training stage measured how far the model has moved from the base on math: the forward KL, KL(base || model) of the next-token distributions, exact over the vocabulary, averaged over the tokens of the base's own greedy answers to the checkpoint's math items (with their end of turn) — the measure that RL's Razor (Shenfeld et al. 2025) finds to predict forgetting. Below, each run's other and non-reasoning change along that distance, then every run read at the largest KL that all runs reach (`dynamics.matched_kl`; linear between checkpoints). A reading marked `first_segment` lies between the base and the run's first checkpoint: it is an interpolation from the base, not a measurement.

# %%
run_kl = dynamics.distance_path(ckpts)
fig = plots.matched_kl(run_kl)
fig.savefig("reports/figures/matched_kl.png", dpi=120)
final_kl = run_kl.loc[run_kl.groupby(["arm", "seed"]).step.idxmax()].groupby("arm").kl.agg(["mean", "min", "max"])
final_kl.reindex(arm_order).round(4)

# %%
main_kl = run_kl[run_kl["arm"].isin(dynamics.MAIN_ARMS)]
kl_level = dynamics.matched_kl(main_kl)
at_kl = dynamics.at_level(main_kl, "kl", kl_level)
at_kl.to_csv("reports/results/matched_kl.csv", index=False)
print(f"matched forward KL: {kl_level:g} nats per token")
at_kl.groupby("arm")[["step", "math", "other", "non", "first_segment"]].mean().reindex(arm_order).round(3)

# %% [markdown]
# ## 4c · At an equal number of training tokens
# A third footing: the same amount of training text. TRL counts the tokens each run has trained on (prompt + response, padding excluded; GRPO counts a rollout batch when it generates it, rft counts what it trains on, not what it sampled to build its data). Below, each run's other and non-reasoning change against those tokens, then every run read at the largest count that all runs reach (`dynamics.reached_level`, linear between checkpoints; `first_segment` as above).

# %%
run_tokens = dynamics.token_path(curves, ckpts)
fig = plots.matched_tokens(run_tokens)
fig.savefig("reports/figures/matched_tokens.png", dpi=120)
main_tokens = run_tokens[run_tokens["arm"].isin(dynamics.MAIN_ARMS)]
token_level = dynamics.reached_level(main_tokens, "tokens")
at_tokens = dynamics.at_level(main_tokens, "tokens", token_level)
at_tokens.to_csv("reports/results/matched_tokens.csv", index=False)
print(f"equal training tokens: {token_level:,.0f}")
at_tokens.groupby("arm")[["step", "math", "other", "non", "first_segment"]].mean().reindex(arm_order).round(3)

# %% [markdown]
# ## 5 · How the learning rates were chosen
# Each arm was trained at several learning rates on one seed (`make sweep`, `python -m mathtransfer.sweep`; not part of `dvc repro`), from the same base, with the budgets above. The rule reads **math alone**, the arm's own objective: among the swept rates, the one with the best final math accuracy, leaving out any rate whose math accuracy fell more than `sweep.max_drop` below the base's at some checkpoint (a practitioner would not keep a run that first breaks the model); ties go to the smaller rate. When every swept rate falls that far, the rule falls back to the best final math among all of them, and says so (`fallback`). A choice at the edge of the swept range is flagged (`at_edge`); the sweep is then widened, once, by a rate a factor of 3 beyond that edge (`sweep.lrs` lists every rate tried) (`dynamics.choose_lr`). Other and non-reasoning changes are shown, never used. `in_params` is the rate the arms above trained at: the rule's choice, copied into params.yaml by hand.

# %%
sweep_scores = dynamics.read_sweep("reports/sweep")
choice = dynamics.choose_lr(sweep_scores, sweep_cfg.max_drop, current=config.arm_lrs(cfg))
choice.to_csv("reports/results/lr_sweep.csv", index=False)
choice.round({"math": 3, "other": 3, "non": 3, "min_math": 3})

# %%
print("\n".join(dynamics.sweep_verdicts(choice)))
fig = plots.lr_sweep(dynamics.sweep_gains(sweep_scores))
fig.savefig("reports/figures/lr_sweep.png", dpi=120)

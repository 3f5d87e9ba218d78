# %% [markdown]
# # 07 · Why transfer differs (2): how far each arm moves the output distribution
#
# The paper (section 4.2, Figures 4-5, Table 8) lets each tuned model answer benchmark prompts,
# then scores every response token under the tuned and the base model with teacher forcing. It
# reports a "KL" (in fact the sampled-token estimate |mean log p_tuned(y) - log p_base(y)|),
# the mean shift of the token's rank, and which tokens shift: few, logic-structure tokens for RL
# ("But", "Wait", "confirm"), many for SFT.
#
# Here every arm and seed (and any extra pair in `tokens.pairs`) answers the first
# `tokens.n_per_task` test prompts of every task (temperature `tokens.temperature`, top-p
# `tokens.top_p`); both models score the responses. Reported per model and task: the paper's
# estimate **kl_paper**, the exact full-vocabulary **kl_exact** = KL(tuned || base) averaged over
# positions, the mean **rank_shift** and the **share_changed** of tokens whose rank moved (the
# "shifted" tokens). Definitions: `src/mathtransfer/tokens.py`.

# %% tags=["parameters"]
# Parameters (papermill injects params.yaml below this cell)
seed = 0
threads = 2
data = {"out_dir": "data/miniworld"}
base = {"out_dir": "models/base"}
train = {}
tokens = {}

# %%
import json
import time
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")
import pandas as pd
import torch
from datasets.utils.logging import disable_progress_bar
from IPython.display import HTML
from transformers.utils import logging as hf_logging

from mathtransfer import config, generation, models, plots, storage, tokens as token_shift

shared = config.parse(config.SharedConfig, {"seed": seed, "threads": threads}, "")
tcfg = config.parse(config.TrainConfig, train, "train")
acfg = config.parse(config.TokensConfig, tokens, "tokens")
torch.set_num_threads(shared.threads)
hf_logging.disable_progress_bar()
hf_logging.set_verbosity_error()
disable_progress_bar()
items = generation.first_per_task(storage.load_dataset(data["out_dir"])["test"], acfg.n_per_task).to_pandas()
tasks = list(dict.fromkeys(items.task))
runs, missing = models.trained_runs(base["out_dir"], tcfg.out_dir, tcfg.seeds, acfg.pairs)
print("arms missing (their stage has not run; left out):", ", ".join(missing) or "none")
print(f"{len(runs)} (tuned, base) pairs")

# %% [markdown]
# ## Responses and teacher-forced scoring
# Each tuned model answers (seeded by `seed`); the base and the tuned model then score the same tokens (`tokens.shift_table`). Wall times go to `reports/timings/tokens.json` (not committed), not here.

# %%
started = time.perf_counter()
results, words, case_details = token_shift.shift_table(runs, items, acfg, shared.seed)
storage.write_timing("tokens", dict(seconds=round(time.perf_counter() - started, 1), models=len(runs),
                                    responses=len(items), tokens=int(results.tokens.sum()), threads=shared.threads))
results.to_csv("reports/results/tokens.csv", index=False)
words.to_csv("reports/results/shifted_tokens.csv", index=False)
print(f"{len(runs)} models x {len(items)} responses, {results.tokens.sum()} tokens scored")

# %% [markdown]
# ## Figure 4 analogue: shift per task and arm
# Bars: seed mean; dots: seeds (log scale near zero). The paper's KL (its estimate) for MATH500 / Olympiad / GPQA / IFEval / CoQA: RL 0.084 / 0.057 / 0.009 / 0.019 / 0.048; SFT-think 0.35 / 0.31 / 0.25 / 0.25 / 0.25; SFT-no-think 0.37 / 0.34 / 0.28 / 0.28 / 0.49. Its rank shift: RL 0.98, SFT-no-think 10.6.

# %%
measures = list(token_shift.MEASURES)
fig = plots.token_shift(results[results.arm != "extra"], measures, "Token-distribution shift of each arm from the base")
fig.savefig("reports/figures/token_shift.png", dpi=120)
arm_order = list(dict.fromkeys(results.arm))  # the runs' order: the arms, then any extra pairs
per_group = results.groupby(["arm", "seed", "group"])[measures].mean().groupby(["arm", "group"]).mean()
per_group.unstack("group").reindex(index=arm_order, columns=pd.MultiIndex.from_product([measures, ["math", "other", "non"]])).round(3)

# %% [markdown]
# ## What the numbers say
# Per measure: the arms ordered by their mean over tasks and seeds, and on how many of the tasks GRPO's mean is below each other arm's.

# %%
comparison = token_shift.versus_grpo(results)
for measure in measures:
    print(f"{measure:14}: " + " < ".join(f"{arm} {value:.4g}" for arm, value in comparison[measure].sort_values().items()))
    if f"{measure}_tasks_above_grpo" in comparison:
        print("\n".join(f"{'':16}grpo below {arm} on {n:.0f} of {len(tasks)} tasks"
                        for arm, n in comparison[f"{measure}_tasks_above_grpo"].dropna().items()))

# %% [markdown]
# ## Figure 5 analogue: which tokens shift
# The most-shifted tokens of each arm (summed over seeds and tasks), coloured by kind: logic-structure words (`tokens.LOGIC_WORDS`: connectives, checking), the answer's scaffolding (`tokens.SCAFFOLD_WORDS`: Step, boxed, Answer, final, ..., which frame an answer in the base's or the teacher's style and are kept apart so that a change of format does not count as logic), content words and numbers, symbols. Then the share of each kind among the shifted tokens.

# %%
by_arm = token_shift.shifted_by_arm(words[words.arm != "extra"])
fig = plots.shifted_tokens(by_arm, acfg.top_tokens, "Most-shifted tokens per arm (all seeds and tasks)")
fig.savefig("reports/figures/shifted_tokens.png", dpi=120)
token_shift.kind_shares(words)

# %%
top = token_shift.top_shifted(words, acfg.top_tokens)
print("\n".join(f"{r.arm:11} {r.kind:7}: {r.tokens}" for r in top.itertuples()))
with open("reports/metrics/tokens.json", "w") as fh:
    json.dump(token_shift.metrics(results, words), fh, indent=2)

# %% [markdown]
# ## Table 8 analogue: case studies
# One prompt per group (the first test item of the group's first task, chosen by that rule, not by its result), answered by each arm's first seed. Highlighted: the shifted tokens (orange: logic words; blue: others); hover for the two ranks.

# %%
HTML(token_shift.case_studies_html(token_shift.case_items(items), case_details, runs))

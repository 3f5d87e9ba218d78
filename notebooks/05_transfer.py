# %% [markdown]
# # 05 · The Transferability Index: the paper's model zoo and our controlled runs
#
# The paper summarises transfer with the **Transferability Index** (TI, its v2 definition; see
# `src/mathtransfer/ti.py`): each group's score changes are scaled by their spread over the
# comparison set, square-rooted with sign, weighted by the base's headroom, and expressed as a
# percentage of the math term. TI > 0 means the math gain carried over; TI < 0 means forgetting.
#
# First the paper's model zoo (section 2.1; 18 released model pairs, scores copied from the paper
# into `data/paper/`), then the same index for our mini-world arms, per seed and with bootstrap
# intervals, on one scale. Because TI v2 pools its scale over the pairs compared and takes a
# signed square root (infinitely steep at no change), our arms are also shown in three more
# readings: the raw change in points, TI v2 with the zoo's sigma (fixed, declared), and v1.

# %% tags=["parameters"]
# Parameters (papermill injects params.yaml below this cell)
seed = 0
evaluation = {}

# %%
import json
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")
import pandas as pd
from IPython.display import display

from mathtransfer import config, plots, transfer, zoo

ecfg = config.parse(config.EvalConfig, evaluation, "evaluation")
zoo_scores, zoo_pairs = zoo.read_zoo("data/paper")
print(f"{len(zoo_scores)} models scored, {len(zoo_pairs)} (tuned, base) pairs")

# %% [markdown]
# ## The model zoo (paper section 2.1, Figure 2)
# TI v2 with sigma pooled over the 18 pairs, and the simpler v1 (relative gains) beside it.

# %%
zoo_ti = zoo.zoo_table(zoo_scores, zoo_pairs)
zoo_ti.to_csv("reports/results/zoo_ti.csv")
zoo_ti[["method", "base", "TI_other", "TI_non", "TI_other_v1", "TI_non_v1"]].sort_values("method").round(1)

# %%
fig = plots.ti_scatter(zoo_ti.reset_index(), "Model zoo: TI of 18 math-tuned models (paper section 2.1)")
fig.savefig("reports/figures/zoo_ti.png", dpi=120)
zoo.zoo_by_method(zoo_ti).round(1)

# %%
print("\n".join(zoo.zoo_sentences(zoo_ti)))

# %% [markdown]
# ### Published and recomputed side by side
# The TIs above are recomputed from the paper's per-benchmark scores (`data/paper/zoo_scores.tsv`). The paper also publishes the TI values themselves (`data/paper/ti_reported.tsv`); a recomputed value within 1.1 points of the published one counts as reproduced (rounding of the published scores accounts for up to about a point).

# %%
reported = zoo.reported_vs_recomputed(zoo_ti, zoo.read_reported("data/paper"))
reported.to_csv("reports/results/zoo_ti_reported.csv", index=False)
print(zoo.reproduction_sentence(reported))
reported.round(1)

# %% [markdown]
# ## Our controlled runs
# The same index for every arm and seed against the shared base, on the full test split (notebook 04's records). Tasks play the benchmarks' part; sigma is pooled over all our (arm, seed) pairs.

# %%
records = pd.read_csv("reports/results/records.csv.gz")
transfer.run_ti(records).round(1)

# %% [markdown]
# ### Four readings, with intervals over items and seeds
# Per run and per arm (the mean of its seeds), 95% percentile intervals, `evaluation.bootstrap_resamples` resamples: per run the test items are resampled (the same items for every model); per arm its seeds are drawn with replacement as well, so the interval covers training-seed variation. The readings: `change` (mean change over the group's tasks, points), `TI` (v2, sigma pooled over our runs, the paper's reading), `TI_fixed` (v2 with the zoo's sigma below, so an arm's value does not depend on the other arms) and `TI_v1` (relative gains).

# %%
fixed_sigma = zoo.zoo_sigma(zoo_scores, zoo_pairs)
print("fixed sigma (the zoo's, pooled over its 18 pairs), points: " + ", ".join(f"{g} {s:.2f}" for g, s in fixed_sigma.items()))
results, per_arm = transfer.bootstrap_runs(records, ecfg.bootstrap_resamples, seed, fixed_sigma)
results.to_csv("reports/results/transfer.csv", index=False)
per_arm.reindex(transfer.arm_order(per_arm)).filter(regex="^(change|TI)_(math|other|non)$|^TI_(fixed|v1)_(other|non)$").round(1)

# %% [markdown]
# What each interval supports: a direction is stated only where the interval excludes 0.

# %%
print("\n".join(transfer.direction_sentences(per_arm)))

# %%
print("\n".join(transfer.grpo_sentences(per_arm)) or "no grpo arm: no comparison to state")

# %% [markdown]
# ### How much one test item moves each reading
# One more (or one fewer) item right on one task of the group, in one run, sigma held: the largest move over the group's tasks, averaged over the arm's runs (an arm's seed mean moves by this divided by its number of seeds). Near no change the signed square root of TI v2 is steep, so a change of a few items can read as a large TI.

# %%
moves = transfer.one_item_moves(records, fixed_sigma)
moves.to_csv("reports/results/ti_one_item.csv", index=False)
moves.round(2)

# %% [markdown]
# ### Released models, scored here
# The (tuned, base) pairs of `evaluation.zoo`, scored by notebook 04 on the same items (the GPU profile; none in the mini-world): the paper's section 2.1 recomputed on our benchmark subsets, sigma pooled over these pairs.

# %%
live_ti = transfer.live_zoo_ti(records, ecfg.zoo)
live_ti.to_csv("reports/results/zoo_live_ti.csv")
if len(live_ti):
    display(live_ti.round(1))
else:
    print("no released models in evaluation.zoo (or none scored): nothing to show")

# %% [markdown]
# ## The zoo and our runs on one scale

# %%
fig = plots.ti_scatter(zoo.ti_points(zoo_ti, per_arm), "TI: paper's model zoo and the mini-world arms (seed means, 95% intervals)")
fig.savefig("reports/figures/transfer_ti.png", dpi=120)
with open("reports/metrics/transfer.json", "w") as fh:
    json.dump(transfer.metrics(per_arm), fh, indent=2)

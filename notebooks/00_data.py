# %% [markdown]
# # 00 · The mini-world: twelve verifiable tasks mirroring the paper's benchmarks
#
# The paper (Huan et al., arXiv 2507.00432) scores models on **twelve benchmarks in three groups**:
# math (MATH500, AIME24, AIME25, OlympiadBench), other reasoning (GPQA-Diamond, LiveCodeBench,
# ACPBench, HeadQA) and non-reasoning (CoQA, IFEval, HaluEval, MC-TACO). The mini-world has one small,
# seeded, automatically checkable task family for each, so that every later stage (pretraining,
# SFT, GRPO, evaluation, the Transferability Index, PCA and KL) runs for real on a CPU in minutes.
#
# Every item has a chat prompt, a gold answer, a scorer, and a response in the **base style** (brief
# reasoning, then `Answer: X`). Math items also carry two **teacher** styles for SFT, mirroring the
# paper's Qwen3-32B teacher in think and no-think mode. The base-style math traces are deliberately
# imperfect: a share of them follows one systematic wrong strategy (stop one step early), so the
# base model will hold the right strategy among a wrong one, as the prototype in
# `shared/mini-world-notes.md` found necessary for RL to have something to select.
#
# **World v2: a shared-skill channel, and controls.** The paper's skills that RL sharpens (carrying
# a chain of steps through) are general. Here three non-math tasks need the math tasks' step, each
# in a surface form of its own, and their base-style targets carry the same systematic error
# (stopping one step early) at a share of their own: **code_trace** (a loop's value through every
# iteration, written in the math steps' own notation `a+d=b`: near transfer), **blocks** (every one
# of the moves, written as stack states: far transfer) and **format** (every one of the n
# repetitions: far transfer). The other five share nothing with math and are the **controls**:
# kb_chain and med_kb (retrieval of memorised facts), passage_qa (reading), support and duration
# (judgement). A third of each knowledge base (half of the duration table) is never stated in
# training but asked about in the test split, as a real benchmark asks what a base model cannot
# know; this is what keeps the knowledge tasks off the ceiling.
#
# **How the world's parameters were chosen.** Only from the base's properties, before any arm was
# trained on this world: the wrong-strategy shares (`data.wrong_share`), the unseen share of each
# knowledge base, the number of blocks and moves and the passages' length were set so that, for
# two pretraining seeds, every task's greedy accuracy lies between 25% and 85% and the shared-step
# tasks sample the right strategy far more often than greedy decoding shows it (pass@8 above
# pass@1; notebooks `01_base_eval` and `01_world_check`). Whether a math-only arm then carries the
# fix over to the shared-step tasks is the study's result, whatever its sign (notebooks 04-05).
#
# With `data.source: hub` (the consumer-GPU profile) the same stage loads the paper's real data
# instead (`src/mathtransfer/hub.py`): `data.n_train` problems from each of the authors' math
# training sets (math_sft_40K with Qwen3-32B teacher traces, math_rl_48k for GRPO and rft) and
# `data.n_test` items of each of the twelve benchmarks; a benchmark that cannot be had (GPQA is
# gated) is left out and listed below.

# %% tags=["parameters"]
# Parameters (papermill injects params.yaml below this cell)
seed = 0
data = {}

# %%
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # no widgets in a report
import pandas as pd
from datasets.utils.logging import disable_progress_bar
from IPython.display import display

from mathtransfer import config, storage
from mathtransfer import data as miniworld

disable_progress_bar()
shared = config.parse(config.SharedConfig, {"seed": seed}, "")
cfg = config.parse(config.DataConfig, data, "data")
cfg

# %% [markdown]
# ## The twelve tasks
# Each task's group, the paper benchmark it mirrors (or, from the Hub, is), the score of a uniform random guess, and (mini-world) what it shares with math.

# %%
miniworld.task_table(cfg.source)

# %% [markdown]
# ## Generate and save
# Generation is deterministic in the seed; the dataset is written atomically (Arrow, `datasets`).

# %%
dataset = miniworld.build(cfg, shared.seed)
storage.save_dataset(dataset, cfg.out_dir)
print("\n".join(f"MISSING {name}: {why}" for name, why in miniworld.missing(dataset).items()) or "every benchmark loaded")
dataset

# %% [markdown]
# ## One example of every task
# The prompt, the base-style target and the gold answer; for math also the two teacher styles.

# %%
pd.set_option("display.max_colwidth", None)
examples = dataset["train"].to_pandas().groupby("task", sort=False).head(1)
# hub traces run to thousands of characters: the first 1,500 of each are shown
examples[["task", "group", "benchmark", "prompt", "target", "answer", "teacher_think", "teacher_nothink"]].set_index("task").T.map(
    lambda text: text[:1500])

# %% [markdown]
# ## Sizes
# Items per task and split, and mean lengths in characters (tokens follow in notebook 01).

# %%
summary = miniworld.summary(dataset)
summary.to_csv("reports/results/data_summary.csv", index=False)
summary

# %% [markdown]
# ## Checks on the generated data
# - no test prompt occurs in the training split;
# - the teacher traces are always correct, by the same scorer that evaluates models;
# - the control tasks' base targets are correct by their scorers (mini-world only);
# - the share of base-style targets that follow the wrong strategy (stop one step early), measured, against `wrong_share`, for every task that shares math's step (mini-world only).

# %%
checks = miniworld.checks(dataset, cfg.wrong_share)
print(f"test prompts found in train: {checks['test_prompts_in_train']}")
print("teacher traces correct:", checks["teacher_correct"])
if "control_targets_correct" in checks:
    print("control tasks' base targets correct:", checks["control_targets_correct"])
    display(checks["wrong_share"])

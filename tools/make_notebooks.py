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

from mathtransfer import config
from mathtransfer import data as miniworld
from mathtransfer.tasks import TASKS, score

disable_progress_bar()
shared = config.parse(config.SharedConfig, {"seed": seed}, "")
cfg = config.parse(config.DataConfig, data, "data")
cfg
"""),
    ("md", "## The twelve tasks\nEach task's group, the paper benchmark it mirrors, and the score of a uniform random guess."),
    ("code", """
pd.DataFrame([dict(task=t.name, group=t.group, mirrors=t.benchmark, scorer=t.score.__name__, chance=t.chance)
              for t in TASKS.values()])
"""),
    ("md", "## Generate and save\nGeneration is deterministic in the seed; the dataset is written atomically (Arrow, `datasets`)."),
    ("code", """
dataset = miniworld.build(cfg, shared.seed)
miniworld.save(dataset, cfg.out_dir)
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
    if row.teacher_think:
        print(f"--- teacher (think):\\n{row.teacher_think}")
        print(f"--- teacher (no-think): {row.teacher_nothink}")
    print()
"""),
    ("md", "## Sizes\nItems per task and split, and mean lengths in characters (tokens follow in notebook 01)."),
    ("code", """
summary = miniworld.summary(dataset)
train = dataset["train"].to_pandas()
unique = train.groupby("task")["prompt"].nunique().rename("unique_train_prompts")
summary = summary.merge(unique, left_on="task", right_index=True)
summary.loc[summary.split == "test", "unique_train_prompts"] = pd.NA
summary.to_csv("reports/results/data_summary.csv", index=False)
summary
"""),
    ("md", """
## Checks on the generated data
- no test prompt occurs in the training split;
- the teacher traces are always correct, by the same scorer that evaluates models;
- the non-math base targets are correct by their scorers;
- the share of base-style math traces that follow the wrong strategy, measured, against `wrong_share`.
"""),
    ("code", """
test = dataset["test"].to_pandas()
leaks = set(test.prompt) & set(train.prompt)
print(f"test prompts found in train: {len(leaks)}")

math_train = train[train.group == "math"]
teacher_ok = {style: math_train.apply(lambda r: score(r.task, r[style], r.answer), axis=1).mean()
              for style in ("teacher_think", "teacher_nothink")}
print("teacher traces correct:", {k: round(v, 4) for k, v in teacher_ok.items()})

other = train[train.group != "math"]
print("non-math base targets correct:", round(other.apply(lambda r: score(r.task, r.target, r.answer, r.meta), axis=1).mean(), 4))

math_train = math_train.assign(base_correct=math_train.apply(lambda r: score(r.task, r.target, r.answer), axis=1))
shares = (1 - math_train.groupby("task", sort=False).base_correct.mean()).rename("measured_wrong_share").to_frame()
shares["wrong_share_param"] = [cfg.wrong_share[t] for t in shares.index]
shares
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
    ("md", "## Tokenizer\nByte-level BPE trained on every training text (teacher traces included, so their words exist in the vocabulary); digits are single tokens."),
    ("code", """
train = dataset["train"]
texts = [t for column in ("prompt", "target", "teacher_think", "teacher_nothink") for t in train[column] if t]
tokenizer = models.train_tokenizer(texts, cfg.vocab_size)
example = evaluate.chat_prompts(tokenizer, [train[0]["prompt"]])[0] + train[0]["target"]
print(f"vocabulary: {len(tokenizer)} tokens")
print(tokenizer.convert_ids_to_tokens(tokenizer(example)["input_ids"]))
"""),
    ("code", """
frame = train.select_columns(["task", "prompt", "target"]).to_pandas()
full = evaluate.chat_prompts(tokenizer, list(frame.prompt))
frame["tokens"] = [len(p) + len(t) + 1 for p, t in zip(tokenizer(full)["input_ids"], tokenizer(list(frame.target))["input_ids"])]
lengths = frame.groupby("task", sort=False).tokens.describe()[["mean", "min", "max"]].round(1)
print(f"longest sequence: {frame.tokens.max()} tokens (max_length {cfg.max_length})")
lengths.T
"""),
    ("md", "## Model"),
    ("code", """
model = models.build_tiny_qwen3(cfg, tokenizer, shared.seed)
n_params = models.count_parameters(model)
print(model.config.model_type, n_params)
"""),
    ("md", "## Pretraining\nTRL `SFTTrainer` on prompt/completion pairs (completion-only loss), AdamW with warm-up and a cosine schedule, batches drawn at random from the twelve-task mixture."),
    ("code", """
log = pretrain.pretrain(cfg, train, model, tokenizer, shared.seed, cfg.out_dir)
curve = log.dropna(subset=["loss"])[["step", "loss", "grad_norm", "learning_rate", "mean_token_accuracy"]]
curve.to_csv("reports/results/pretrain_loss.csv", index=False)
plots.loss_curve(curve, "Pretraining loss");
"""),
    ("md", "### Speed\nAchieved training FLOP rate (6 x non-embedding parameters x tokens / time), against this CPU's measured fp32 matmul throughput at the model's MLP shape with the same threads."),
    ("code", """
achieved = pretrain.flop_rate(n_params["non_embedding"], log.attrs["tokens_seen"], log.attrs["seconds"])
peak = pretrain.matmul_gflops(k=cfg.hidden_size, m=cfg.intermediate_size)
speed = dict(seconds=round(log.attrs["seconds"], 1), seconds_per_step=round(log.attrs["seconds"] / cfg.steps, 3),
             tokens_seen=int(log.attrs["tokens_seen"]), achieved_gflops=round(achieved, 1),
             matmul_gflops=round(peak, 1), share_of_matmul=round(achieved / peak, 3), threads=shared.threads)
speed
"""),
    ("md", "## Reload and evaluate\nThe saved model is reloaded through `models.load_model` (the one loader every stage uses) and scored greedily on the held-out test items."),
    ("code", """
model, tokenizer = models.load_model(cfg.out_dir, "full")
records = evaluate.evaluate(model, tokenizer, dataset["test"], ecfg.n_per_task, ecfg.batch_size, ecfg.max_new_tokens)
records.insert(0, "model", "base")
records.to_csv("reports/results/base_records.csv", index=False)
acc = evaluate.accuracy(records, model="base", method="base", seed=shared.seed)
acc.to_csv("reports/results/accuracy.csv", index=False)
fig = plots.task_accuracy(acc, "Tiny base model, greedy")
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

if __name__ == "__main__":
    nbformat.write(notebook(DATA), "notebooks/00_data.ipynb")
    nbformat.write(notebook(BASE), "notebooks/01_base.ipynb")

# %% [markdown]
# # 01 · The tiny base model: a generalist with headroom
#
# The paper starts from Qwen3 base models. Here a **Qwen3-architecture** model is built from a config
# and pretrained from scratch on the twelve-task mixture in the base style, so that it starts as a
# generalist: every task above chance, and math in the middle (the notes' recommended 20-60% greedy),
# so that GRPO later gets a reward signal and SFT and RL have room to raise math.
#
# Steps: train a byte-level BPE tokenizer on the mini-world's text; build the model; pretrain it
# with TRL's `SFTTrainer` (loss on the response only); save it with `save_pretrained`. Notebook
# `01_base_eval` (stage `base_eval`) then reloads it and measures its headroom, so that a change
# to the evaluation or a figure never retrains the model.
#
# With `base.model` set (the consumer-GPU profile: a Qwen3 base from the Hub), nothing is built or
# pretrained: `base.out_dir/base.json` records the model's name, and every later stage loads it.

# %% tags=["parameters"]
# Parameters (papermill injects params.yaml below this cell)
seed = 0
threads = 2
data = {"out_dir": "data/miniworld"}
base = {}

# %%
import json
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # no widgets in a report
import pandas as pd
import torch
from IPython.display import display
from mathtransfer import config, models, pretrain, storage  # first: it silences a bitsandbytes line that differs by CPU kind
from transformers import set_seed
from transformers.utils import logging as hf_logging


shared = config.parse(config.SharedConfig, {"seed": seed, "threads": threads}, "")
cfg = config.parse(config.BaseConfig, base, "base")
torch.set_num_threads(shared.threads)
set_seed(shared.seed)
hf_logging.disable_progress_bar()  # the report shows results, not progress bars
dataset = storage.load_dataset(data["out_dir"])
cfg

# %% [markdown]
# ## Tokenizer
# Byte-level BPE trained on every training text (teacher traces included, so their words exist in the vocabulary); digits are single tokens. (A pretrained base brings its own tokenizer: this and the next three steps are skipped.)

# %%
train = dataset["train"]
if cfg.model:
    models.save_pointer(cfg.model, cfg.out_dir)
    print(f"pretrained base {cfg.model}: nothing to build; {cfg.out_dir}/{models.POINTER} records it")
else:
    tokenizer = models.train_tokenizer(pretrain.tokenizer_texts(train), cfg.vocab_size)
    example = models.chat_prompts(tokenizer, [train[0]["prompt"]])[0] + train[0]["target"]
    print(f"vocabulary: {len(tokenizer)} tokens")
    print(tokenizer.convert_ids_to_tokens(tokenizer(example)["input_ids"]))

# %%
if not cfg.model:
    frame = train.select_columns(["task", "prompt", "target"]).to_pandas()
    full = models.chat_prompts(tokenizer, list(frame.prompt))
    frame["tokens"] = [len(p) + len(t) + 1 for p, t in zip(tokenizer(full)["input_ids"], tokenizer(list(frame.target))["input_ids"])]
    lengths = frame.groupby("task", sort=False).tokens.describe()[["mean", "min", "max"]].round(1)
    print(f"longest sequence: {frame.tokens.max()} tokens (max_length {cfg.max_length})")
    display(lengths.T)

# %% [markdown]
# ## Model

# %%
if not cfg.model:
    model = models.build_tiny_qwen3(cfg, tokenizer, shared.seed)
    n_params = models.count_parameters(model)
    print(model.config.model_type, n_params)

# %% [markdown]
# ## Pretraining
# TRL `SFTTrainer` on prompt/completion pairs (completion-only loss), AdamW with warm-up and a cosine schedule, batches drawn at random from the twelve-task mixture.

# %%
if cfg.model:  # the stage's outputs exist either way: an empty loss curve, the base's name
    pd.DataFrame(columns=["step", "loss", "grad_norm", "learning_rate", "mean_token_accuracy"]).to_csv(
        "reports/results/pretrain_loss.csv", index=False)
else:
    log = pretrain.pretrain(cfg, train, model, tokenizer, shared.seed, cfg.out_dir)
    curve = log.dropna(subset=["loss"])[["step", "loss", "grad_norm", "learning_rate", "mean_token_accuracy"]]
    curve.to_csv("reports/results/pretrain_loss.csv", index=False)
    curve.plot(x="step", y="loss", logy=True, legend=False, title="Pretraining loss", figsize=(6, 3.5));

# %% [markdown]
# ### Speed
# Achieved training FLOP rate (6 x non-embedding parameters x tokens / time), against this CPU's measured fp32 matmul throughput at the model's MLP shape with the same threads. Wall times change from run to run while the model does not, so they are recorded in `reports/timings/base.json` (not committed; `benchmarks/` reads them), not shown here.

# %%
if not cfg.model:
    achieved = pretrain.flop_rate(n_params["non_embedding"], log.attrs["tokens_seen"], log.attrs["seconds"])
    peak = pretrain.matmul_gflops(k=cfg.hidden_size, m=cfg.intermediate_size)
    storage.write_timing("base", dict(
        seconds=round(log.attrs["seconds"], 1), seconds_per_step=round(log.attrs["seconds"] / cfg.steps, 3),
        tokens_seen=int(log.attrs["tokens_seen"]), achieved_gflops=round(achieved, 1),
        matmul_gflops=round(peak, 1), share_of_matmul=round(achieved / peak, 3), threads=shared.threads))

"""params.yaml sections -> validated, documented config dataclasses.

One dataclass per params.yaml section (one section per stage); every field is documented where
it is defined, with the values it accepts. `parse` turns a raw dict into a dataclass or stops
with ONE line naming the file, the key, the bad value and what is valid, e.g.

    params.yaml: base.n_layers: expected an integer >= 1, got 'two'

`python -m mathtransfer.config params.yaml base evaluation --exists=data.out_dir` checks sections
(and that the input paths a stage reads exist) from the shell: DVC stages run it before their
notebook, so a bad value stops a stage before it writes anything.
Left out: cross-section checks (each stage checks what it reads).
"""
from __future__ import annotations

import dataclasses
import os
import sys
import typing
from dataclasses import dataclass, field

import yaml

from . import registry
from .schema import ARMS


MATH_TASKS = tuple(registry.tasks_in("math"))
STEP_TASKS = registry.STEP_TASKS
# Folders of the repository itself: an output written there would replace source files.
PROTECTED = {".git", ".dvc", ".ci", "src", "notebooks", "tests", "profiles", "tools", "benchmarks", "reports"}


def _output_dir_ok(value: str) -> bool:
    """A relative folder inside the repository, not the repository itself nor one of its sources."""
    parts = os.path.normpath(value).split(os.sep) if value else []
    return bool(parts) and not os.path.isabs(value) and parts[0] not in PROTECTED | {".", ".."} \
        and ".." not in parts


OUTPUT_DIR = (_output_dir_ok, "a relative folder inside the repository, outside "
              + ", ".join(sorted(PROTECTED)))


class ConfigError(ValueError):
    """A params value that is wrong; str(error) is the one-line message for the user."""


def param(default, help: str, *, ge=None, gt=None, le=None, choices=None, valid=None, must_exist=False):
    """A documented config field. ge/gt/le bound numbers; choices lists allowed values;
    valid=(predicate, description) adds a custom check; must_exist requires an existing path."""
    meta = dict(help=help, ge=ge, gt=gt, le=le, choices=choices, valid=valid, must_exist=must_exist)
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class SharedConfig:
    """Top-level keys every stage may read."""

    seed: int = param(0, "Seed of every random choice (data generation, init, sampling).", ge=0)
    threads: int = param(1, "torch CPU threads of each stage's process. `make repro` (mathtransfer.repro) runs "
                         "cores // threads stages side by side: the mini-world's stages leave a second thread "
                         "half idle (one at 2 threads takes 0.66-0.73 of its time at 1, while two at 1 thread "
                         "side by side run as fast as one alone), so 1 thread per stage and one stage per core. "
                         "Set deliberately: oversubscription is 5-8x slower.", ge=1)


def _benchmarks_ok(value) -> bool:
    try:
        return all(isinstance(name, str) and registry.benchmark(name) for name in value)
    except KeyError:
        return False


BENCHMARK_NAMES = f"benchmark names of registry.BENCHMARKS ({registry.BENCHMARK_NAMES})"


@dataclass
class DataConfig:
    """Stage `data`: the mini-world's twelve tasks, generated from `seed`."""

    n_train: int = param(2000, "Training items per task (prompts repeat where a task has few).", ge=1)
    n_test: int = param(150, "Held-out test items per task; no test prompt occurs in training.", ge=1)
    wrong_share: dict = param(
        {task: [0.2, 0.65] for task in STEP_TASKS},
        "Per task that shares math's step (the math tasks, code_trace, blocks, format): the share of "
        "base-style targets that follow the systematic wrong strategy (stop one step early), as [on "
        "short chains, on long ones]. Teacher traces are always correct; the controls' targets too.",
        valid=(lambda v: isinstance(v, dict) and set(v) == set(STEP_TASKS) and all(
            isinstance(x, list) and len(x) == 2 and all(
                isinstance(y, (int, float)) and not isinstance(y, bool) and 0 <= y <= 1 for y in x)
            for x in v.values()),
            f"a mapping of exactly {', '.join(STEP_TASKS)} to [short, long] pairs of numbers in [0, 1]"))
    out_dir: str = param("data/miniworld", "Where the DatasetDict (Arrow) is written.", valid=OUTPUT_DIR)
    source: str = param("miniworld", "miniworld: generate the twelve synthetic tasks; hub: the paper's math "
                        "training sets and the twelve real benchmarks from the Hugging Face Hub "
                        "(n_train rows per training set, n_test items per benchmark; mathtransfer/hub.py).",
                        choices=("miniworld", "hub"))
    hub_sft: str = param("ReasoningTransferability/math_sft_40K", "hub source: the SFT set with teacher traces "
                         "(a hub id, or a local .jsonl/.json/.parquet file with the same columns).")
    hub_rl: str = param("ReasoningTransferability/math_rl_48k", "hub source: the RL set (prompts and gold answers) "
                        "for GRPO and rft (a hub id or a local file).")
    rl_prompt_suffix: str = param(" Let's think step by step and output the final answer in the \\boxed{}.",
                                  "hub source: the RL set's training prompts (rft and grpo) are its question followed "
                                  "by this suffix, as in the paper's RL; empty: the evaluation's math prompt "
                                  "(hub.math_prompt). Evaluation always keeps the benchmarks' prompts.")
    sft_columns: dict = param({}, "hub source: our field -> the SFT set's column, where it differs from "
                              "hub.MATH_SFT_COLUMNS (e.g. {teacher_think: response}).")
    rl_columns: dict = param({}, "hub source: our field -> the RL set's column, where it differs from hub.MATH_RL_COLUMNS.")
    benchmarks: list = param([], "hub source: benchmark names to evaluate on (registry.BENCHMARKS); [] means all twelve. "
                             "A gated or unreachable one is left out and reported missing.",
                             valid=(lambda v: isinstance(v, list) and _benchmarks_ok(v), "a list of " + BENCHMARK_NAMES))
    benchmark_sources: dict = param({}, "hub source: benchmark name -> local file or hub id that replaces its "
                                    "default (an offline snapshot, or a fixture in tests).",
                                    valid=(lambda v: isinstance(v, dict) and _benchmarks_ok(list(v))
                                           and all(isinstance(x, str) for x in v.values()),
                                           "a mapping of " + BENCHMARK_NAMES + " to file paths or hub ids"))


@dataclass
class BaseConfig:
    """Stage `base`: tokenizer, tiny Qwen3 model and its pretraining on the base-style mixture."""

    vocab_size: int = param(768, "BPE vocabulary size, special tokens included (bytes need 256).", ge=300)
    hidden_size: int = param(128, "Model width.", ge=8)
    n_layers: int = param(4, "Transformer layers.", ge=1)
    n_heads: int = param(4, "Attention heads; must divide hidden_size.", ge=1)
    n_kv_heads: int = param(2, "Key/value heads (grouped-query attention); must divide n_heads.", ge=1)
    intermediate_size: int = param(256, "MLP width.", ge=8)
    max_length: int = param(160, "Longest sequence in tokens (prompt + response); longer items are cut.", ge=64)
    steps: int = param(1200, "Optimizer steps of pretraining.", ge=1)
    batch_size: int = param(32, "Sequences per optimizer step.", ge=1)
    lr: float = param(3e-3, "Peak learning rate (AdamW, betas 0.9/0.98).", gt=0, le=1)
    warmup_steps: int = param(50, "Linear warm-up steps.", ge=0)
    min_lr_ratio: float = param(0.05, "Cosine schedule ends at lr * min_lr_ratio.", ge=0, le=1)
    weight_decay: float = param(0.01, "AdamW weight decay.", ge=0)
    max_grad_norm: float = param(1.0, "Gradient clipping norm.", gt=0)
    logging_steps: int = param(10, "Log the training loss every this many steps.", ge=1)
    out_dir: str = param("models/base", "Where the model and tokenizer are saved (save_pretrained).",
                         valid=OUTPUT_DIR)
    model: str = param("", "A pretrained base instead of the tiny one: a hub id (e.g. Qwen/Qwen3-0.6B-Base) or a "
                       "local folder. The stage then pretrains nothing: out_dir records the name (base.json) and "
                       "every later stage loads that model. Empty: build and pretrain the tiny Qwen3.")

    def cross_check(self) -> tuple[str, str] | None:
        """(key, message) for a combination of values that cannot work, else None."""
        if self.hidden_size % self.n_heads or (self.hidden_size // self.n_heads) % 2:
            return "n_heads", (f"n_heads must divide hidden_size into an even head size (rotary "
                               f"embeddings), got hidden_size={self.hidden_size}, n_heads={self.n_heads}")
        if self.n_heads % self.n_kv_heads:
            return "n_kv_heads", f"n_kv_heads must divide n_heads={self.n_heads}, got {self.n_kv_heads}"
        return None


def _tasks_ok(value) -> bool:
    return isinstance(value, list) and all(isinstance(t, str) and registry.known(t) for t in value)


@dataclass
class EvalConfig:
    """Generation and scoring settings used wherever models are evaluated (stage `evaluate`
    scores every model on the full test split; training stages score checkpoints on a subset)."""

    n_per_task: int = param(150, "Test items per task to evaluate (the first n of the test split).", ge=1)
    batch_size: int = param(128, "Prompts per generation batch.", ge=1)
    max_new_tokens: int = param(80, "Generation budget per response, in tokens (teacher-style traces reach ~60).", ge=1)
    sampled_tasks: list = param([], "Tasks scored by the mean over n_samples sampled answers, as the paper does for "
                                "AIME and GPQA (e.g. [word, algebra, kb_chain]); all others greedy.",
                                valid=(_tasks_ok, "a list of task names (registry.TASKS, or registry.BENCHMARKS' tasks)"))
    n_samples: int = param(4, "Sampled answers per item of a sampled task.", ge=1)
    sample_temperature: float = param(0.6, "Temperature for sampled tasks (the paper: 0.6).", gt=0)
    top_p: float = param(0.95, "Nucleus sampling for sampled tasks (the paper: 0.95).", gt=0, le=1)
    pass_k: int = param(8, "Samples (temperature 1.0) per math item for pass@1 and pass@k.", ge=1)
    pass_k_items: int = param(50, "Math test items per task used for pass@k (sampling is costly).", ge=1)
    bootstrap_resamples: int = param(1000, "Bootstrap resamples of test items for the 95% intervals.", ge=100)
    zoo: list = param([], "Released models scored beside ours, each {name: hub id or path, base: its base's hub id "
                      "or path}: the evaluate stage scores both on the same items, so notebook 05 gives their TI "
                      "(the paper's section 2.1, live).", valid=(
                          lambda v: isinstance(v, list) and all(isinstance(m, dict) and set(m) == {"name", "base"}
                                                                and all(isinstance(x, str) and x for x in m.values())
                                                                for m in v),
                          "a list of mappings with string keys name and base"))


def _seeds_ok(value) -> bool:
    return isinstance(value, list) and 0 < len(value) == len(set(value)) and all(
        isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in value)


@dataclass
class TrainConfig:
    """The arm stages (`sft`, `rft`, `grpo`, `sft-self`, `rl-offpolicy`, `grpo-kl`, `grpo-random`; and
    `training`, which reads seeds and indicator_steps): the math-only post-training arms of
    schema.ARMS, each reading the keys arms.ARM_KEYS lists for it.

    Every arm starts from the same base and sees only the math training split. SFT and RL learning
    rates are separate keys, as in the paper (its RL rate is 50x lower)."""

    seeds: list = param([0, 1, 2], "Training seeds; every arm is trained once per seed (data order, "
                        "sampling, adapter init). The base model is the same for all.",
                        valid=(_seeds_ok, "a non-empty list of distinct integers >= 0"))
    mode: str = param("full", "Weights trained: full, lora, or qlora (4-bit NF4 base + LoRA).",
                      choices=("full", "lora", "qlora"))
    lora_r: int = param(16, "LoRA rank (lora and qlora modes).", ge=1)
    lora_alpha: int = param(32, "LoRA alpha (lora and qlora modes).", ge=1)
    save_steps: int = param(25, "Checkpoint every this many steps (resume and matched-gain curves).", ge=1)
    max_grad_norm: float = param(0.5, "Gradient clipping norm (all arms).", gt=0)
    sft_lr: float = param(5e-4, "Peak learning rate of the arms trained by SFTTrainer (the SFT arms and rl-offpolicy) "
                          "that lr_by_arm does not list: linear warmup over "
                          "sft_warmup_ratio of the steps, then cosine decay to 0 (the paper's released config). "
                          "Chosen per arm by the sweep rule (mathtransfer.sweep); arms that need another value "
                          "take it from lr_by_arm.", gt=0, le=1)
    lr_by_arm: dict = param({}, "Per-arm learning rates that replace sft_lr (SFT arms) or rl_lr (GRPO arms), e.g. "
                            "{rft: 0.0003}, as the sweep rule chose them.", valid=(
                                lambda v: isinstance(v, dict) and all(
                                    k in ARMS and isinstance(x, (int, float))
                                    and not isinstance(x, bool) and 0 < x <= 1 for k, x in v.items()),
                                "a mapping from an arm (" + ", ".join(ARMS) + ") to a number in (0, 1]"))
    sft_warmup_ratio: float = param(0.1, "Share of the SFT steps with a linear learning-rate warmup (the paper's "
                                    "released config: 0.1), followed by cosine decay.", ge=0, le=0.5)
    sft_steps: int = param(200, "SFT optimizer steps.", ge=1)
    sft_batch_size: int = param(32, "SFT sequences per step.", ge=1)
    rft_prompts: int = param(2000, "rft: math training prompts sampled from the base (a seeded subset).", ge=1)
    rft_samples: int = param(4, "rft: samples per prompt from the base (temperature 1.0); correct ones are kept.", ge=1)
    rl_lr: float = param(5e-5, "GRPO learning rate, constant (the paper's verl recipe: constant, no warmup). "
                         "Chosen by the sweep rule (mathtransfer.sweep).", gt=0, le=1)
    rl_steps_per_rollout: int = param(4, "Optimizer steps one rollout batch serves: the rollouts of "
                                      "rl_steps_per_rollout x rl_prompts_per_step prompts are generated together and "
                                      "split into that many steps (TRL's steps_per_generation), so from the second "
                                      "step on the policy has moved and the clipped ratio acts (the paper: 512 "
                                      "prompts per rollout batch, mini-batch 128 -> 4). 1: every step on fresh "
                                      "rollouts (ratio always 1, the clip never acts).", ge=1)
    rl_steps: int = param(75, "GRPO optimizer steps.", ge=1)
    rl_prompts_per_step: int = param(4, "GRPO prompts per step (each sampled num_generations times).", ge=1)
    num_generations: int = param(16, "GRPO group size: completions per prompt.", ge=2)
    max_completion_length: int = param(64, "Longest completion, in tokens (GRPO rollouts and rft samples).", ge=8)
    temperature: float = param(1.0, "GRPO rollout temperature.", gt=0)
    beta: float = param(0.0, "GRPO KL coefficient of the arms without a KL term (the paper uses none; TRL logs "
                        "the KL only when > 0).", ge=0)
    kl_beta: float = param(0.04, "KL coefficient of the grpo-kl arm (the ablation's KL term; 0.04 was TRL's default "
                           "and the value of the paper's ablation configs).", gt=0)
    self_every: int = param(50, "sft-self: steps between two draws of samples from the current policy (50: four "
                            "draws in 200 steps; each draw takes rft_prompts / draws fresh prompts).", ge=1)
    offpolicy_wrong_share: float = param(0.5, "rl-offpolicy: the share of the teacher's responses that follow the "
                                         "world's wrong strategy (0.5: the share that makes a group's rewards "
                                         "differ most often; fixed before any training).", gt=0, le=0.99)
    epsilon: float = param(0.2, "GRPO lower clipping range.", gt=0, le=1)
    epsilon_high: float = param(0.28, "GRPO upper clipping range (DAPO clip-higher).", gt=0, le=1)
    generation_batch_size: int = param(0, "GRPO rollouts generated in one call (the KV cache of a call grows with it; "
                                       "mathtransfer.memory): a multiple of num_generations that divides a step's "
                                       "rollouts (rl_prompts_per_step x num_generations), generated in turn; 0: all of "
                                       "a step's rollouts in one call.", ge=0)
    qlora_fp32_upcast: bool = param(True, "qlora: cast the weights left unquantised (embeddings, norms) to fp32, as "
                                    "peft's prepare_model_for_kbit_training does. The residual stream and the KV "
                                    "cache then run in fp32, twice their bf16 memory; false keeps them in the compute "
                                    "dtype (the 6 GB variant). No effect on CPU (fp32 throughout).")
    use_vllm: bool = param(False, "GRPO rollouts through vLLM (TRL's colocate mode; needs a GPU and the optional "
                           "vllm extra: pip install -e '.[vllm]'). Refused with train.mode qlora (TRL's QLoRA "
                           "notebook: the adapter would be merged into 4-bit weights every step).")
    vllm_max_model_length: int = param(4096, "vLLM's context in tokens (prompt + completion); it reserves KV cache for "
                                       "this length, so keep it near the longest prompt + max_completion_length.", ge=64)
    vllm_gpu_memory_utilization: float = param(0.3, "Share of GPU memory vLLM reserves (colocate mode: the rest is "
                                               "training's).", gt=0, le=1)
    format_weight: float = param(0.0, "Weight of the optional format reward (0: off).", ge=0)
    checkpoint_items: int = param(50, "Test items per task scored greedily at every checkpoint "
                                  "(the matched-gain curves); the evaluate stage scores final models fully.", ge=1)
    gradient_checkpointing: bool = param(False, "Recompute activations in the backward pass (GPU memory for time; "
                                         "slower and not needed on CPU).")
    optim: str = param("adamw_torch_fused", "Optimizer (transformers names): adamw_torch_fused (the Trainer's "
                       "default, which produced the committed reports; adamw_torch differs numerically), "
                       "adamw_torch, or the bitsandbytes 8-bit paged_adamw_8bit / adamw_8bit of the GPU profile.",
                       choices=("adamw_torch_fused", "adamw_torch", "paged_adamw_8bit", "adamw_8bit"))
    sft_max_length: int = param(0, "Longest SFT sequence in tokens (longer ones are cut); 0: the model's context.", ge=0)
    grad_accum: int = param(1, "Gradient accumulation steps (SFT and GRPO): the batch sizes above are per step, "
                            "split into this many micro-batches to save memory.", ge=1)
    indicator_steps: int = param(100, "Gradient-norm indicators use the first this many steps (the paper: 100).", ge=4)
    out_dir: str = param("models/arms", "Folder of the final trained models, <out_dir>/<arm>-seed<seed> "
                         "(DVC outputs; the evaluate stage reads them all).", valid=OUTPUT_DIR)
    checkpoint_dir: str = param("models/checkpoints", "Folder of the runs' checkpoints, <checkpoint_dir>/<arm>-seed<seed> "
                                "(kept for resuming; not DVC outputs).", valid=OUTPUT_DIR)

    def cross_check(self) -> tuple[str, str] | None:
        """(key, message) when the two output folders overlap (DVC would hash the checkpoints) or
        grad_accum does not divide a batch."""
        a, b = os.path.normpath(self.out_dir) + os.sep, os.path.normpath(self.checkpoint_dir) + os.sep
        if a.startswith(b) or b.startswith(a):
            return "checkpoint_dir", f"must not overlap out_dir ({self.out_dir!r}), got {self.checkpoint_dir!r}"
        for name, size in (("sft_batch_size", self.sft_batch_size),
                           ("rl_prompts_per_step x num_generations", self.rl_prompts_per_step * self.num_generations)):
            if size % self.grad_accum:
                return "grad_accum", f"must divide {name} ({size}) into equal micro-batches, got {self.grad_accum}"
        rollouts, micro = self.rl_prompts_per_step * self.num_generations, rollouts_per_micro_batch(self)
        if self.generation_batch_size and (self.generation_batch_size % self.num_generations
                                           or self.generation_batch_size % micro or rollouts % self.generation_batch_size):
            return "generation_batch_size", (f"must be a multiple of num_generations ({self.num_generations}) and of "
                                             f"the micro-batch ({micro} rollouts) that divides a step's {rollouts} "
                                             f"rollouts, or 0, got {self.generation_batch_size}")
        if self.generation_batch_size and self.rl_steps_per_rollout > 1:
            return "rl_steps_per_rollout", (f"must be 1 when generation_batch_size splits a step's rollouts into "
                                            f"calls ({self.generation_batch_size}): TRL generates one rollout batch "
                                            f"in one call, so several steps' rollouts cannot be split; got "
                                            f"{self.rl_steps_per_rollout}")
        if self.use_vllm and self.mode == "qlora":
            return "use_vllm", ("cannot be combined with mode qlora: vLLM would merge the adapter into 4-bit weights "
                                "every step (TRL's QLoRA GRPO notebook advises against it); use mode lora or full, or "
                                "use_vllm: false")
        return None


def rollouts_per_micro_batch(cfg: "TrainConfig") -> int:
    """GRPO rollouts in one forward/backward pass: a step's rollouts split into grad_accum parts."""
    return max(1, cfg.rl_prompts_per_step * cfg.num_generations // cfg.grad_accum)


def arm_lr(cfg: "TrainConfig", arm: str) -> float:
    """The (peak) learning rate `arm` trains at: its lr_by_arm entry, else rl_lr for a GRPO arm and
    sft_lr for an SFT arm."""
    return float(cfg.lr_by_arm.get(arm, cfg.rl_lr if ARMS[arm].trainer == "grpo" else cfg.sft_lr))


def arm_mode(cfg: "TrainConfig", arm: str) -> str:
    """The weights `arm` trains: LoRA adapters for an arm that asks for them (schema.Arm.lora) when
    train.mode is full; else train.mode (qlora trains adapters already)."""
    return "lora" if ARMS[arm].lora and cfg.mode == "full" else cfg.mode


def arm_beta(cfg: "TrainConfig", arm: str) -> float:
    """The KL coefficient a GRPO arm trains with: kl_beta for an arm with a KL term, else beta."""
    return float(cfg.kl_beta if ARMS[arm].kl else cfg.beta)


def arm_lrs(cfg: "TrainConfig") -> dict[str, float]:
    """arm_lr of every arm of the study."""
    return {arm: arm_lr(cfg, arm) for arm in ARMS}


def _pairs_ok(value) -> bool:
    return isinstance(value, list) and all(
        isinstance(p, dict) and {"tuned", "base"} <= set(p) <= {"name", "tuned", "base"}
        and all(isinstance(v, str) and v for v in p.values()) for p in value)


PAIRS_HELP = ("Extra (tuned, base) model pairs to analyse, each {tuned: NAME_OR_PATH, base: NAME_OR_PATH, "
              "name: optional label}: local folders or hub ids (the GPU profile's released models). "
              "Every arm x seed under train.out_dir is always analysed against base.out_dir.")
PAIRS = (_pairs_ok, "a list of mappings with string keys tuned and base (and optionally name)")


@dataclass
class LatentConfig:
    """Stage `latent`: hidden-state PCA shift between each tuned model and its base (paper
    section 4.1; the recipe is in mathtransfer/latent.py)."""

    n_per_task: int = param(100, "Texts per task: the first n test items, question + reference answer (the paper: 100).", ge=2)
    max_tokens: int = param(128, "Texts are cut to this many tokens (the paper: 128).", ge=2)
    batch_size: int = param(50, "Texts per forward pass (results do not depend on it).", ge=1)
    poolings: list = param(["paper", "mask"], "Mean-pooling over positions: paper (pad positions included, as the "
                           "authors' code does) and/or mask (the text's own tokens only).",
                           valid=(lambda v: isinstance(v, list) and 0 < len(v) == len(set(v))
                                  and set(v) <= {"paper", "mask"}, "a non-empty list of paper, mask"))
    pairs: list = param([], PAIRS_HELP, valid=PAIRS)


@dataclass
class TokensConfig:
    """Stage `tokens`: token-distribution shift between each tuned model and its base (paper
    section 4.2; definitions in mathtransfer/tokens.py). The tuned model writes the responses;
    both models then score them with teacher forcing."""

    n_per_task: int = param(50, "Test prompts per task answered by each tuned model (the paper: 100, on 5 benchmarks).", ge=1)
    max_new_tokens: int = param(80, "Response budget in tokens.", ge=1)
    temperature: float = param(0.6, "Sampling temperature of the responses; 0 means greedy.", ge=0)
    top_p: float = param(0.95, "Nucleus sampling of the responses.", gt=0, le=1)
    batch_size: int = param(64, "Sequences per generation and scoring batch.", ge=1)
    top_tokens: int = param(15, "Most-shifted tokens listed per model and kind (logic / content).", ge=1)
    pairs: list = param([], PAIRS_HELP, valid=PAIRS)


def _channel_task_ok(value) -> bool:
    return value in STEP_TASKS and registry.TASKS[value].group != "math"


@dataclass
class WorldCheckConfig:
    """Stage `world_check` (mini-world): the world's headroom on a second base, and the channel
    check (GRPO with the grpo arm's `train` settings on one non-math task that shares math's step)."""

    base_seed: int = param(1, "Pretraining seed of the second base (same data and settings as the default base).", ge=0)
    channel_task: str = param("code_trace", "The non-math shared-step task GRPO is trained on in the channel check.",
                              valid=(_channel_task_ok, "a non-math task that shares math's step ("
                                     + ", ".join(t for t in STEP_TASKS if registry.TASKS[t].group != "math") + ")"))
    out_dir: str = param("models/world_check", "Where the second base and the channel-check model are saved.",
                         valid=OUTPUT_DIR)


def _lrs_ok(value) -> bool:
    return isinstance(value, dict) and all(
        arm in ARMS and isinstance(lrs, list) and len(lrs) >= 1
        and all(isinstance(x, (int, float)) and not isinstance(x, bool) and 0 < x <= 1 for x in lrs)
        for arm, lrs in value.items())


@dataclass
class SweepConfig:
    """`make sweep` (mathtransfer.sweep; not a DVC stage, not part of `make repro`): each arm trained
    at several learning rates on one seed, and the rule that chose train.lr_by_arm / train.sft_lr / train.rl_lr."""

    seed: int = param(0, "Training seed of the sweep's runs (one seed, as a practitioner's sweep).", ge=0)
    lrs: dict = param({"sft-think": [1e-4, 3e-4, 1e-3], "sft-nothink": [1e-4, 3e-4, 1e-3], "rft": [1e-4, 3e-4, 1e-3],
                       "grpo": [3e-5, 1e-4, 3e-4], "grpo-kl": [3e-5, 1e-4, 3e-4], "grpo-random": [3e-5, 1e-4, 3e-4],
                       "sft-think-lora": [1e-3, 3e-3, 1e-2], "rl-offpolicy": [1e-4, 3e-4, 1e-3],
                       "sft-self": [1e-4, 3e-4, 1e-3]},
                      "Learning rates swept per arm (at least three each, a factor of about 3 apart).",
                      valid=(_lrs_ok, "a mapping from an arm (" + ", ".join(ARMS) + ") to a list of numbers "
                             "in (0, 1]"))
    max_drop: float = param(0.10, "The rule leaves out a rate whose math accuracy falls more than this below the "
                            "base's at some checkpoint (0.10: ten points).", ge=0, le=1)
    out_dir: str = param("models/sweep", "Where the sweep's models and checkpoints go (<arm>-lr<lr>).",
                         valid=OUTPUT_DIR)


SECTIONS = {"data": DataConfig, "base": BaseConfig, "evaluation": EvalConfig, "train": TrainConfig,
            "latent": LatentConfig, "tokens": TokensConfig, "world_check": WorldCheckConfig,
            "sweep": SweepConfig}


def _describe(f: dataclasses.Field, tp) -> str:
    m = f.metadata
    if m.get("valid"):
        return m["valid"][1]
    if m.get("choices"):
        return "one of " + ", ".join(map(repr, m["choices"]))
    base = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
            dict: "a mapping", list: "a list"}.get(tp, str(tp))
    bounds = [f"{op} {m[k]}" for k, op in (("ge", ">="), ("gt", ">"), ("le", "<=")) if m.get(k) is not None]
    return base + (" " + " and ".join(bounds) if bounds else "")


def _type_ok(value, tp) -> bool:
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, tp)


def _value_ok(value, m: dict) -> bool:
    if m.get("choices") and value not in m["choices"]:
        return False
    for key, ok in (("ge", lambda a, b: a >= b), ("gt", lambda a, b: a > b), ("le", lambda a, b: a <= b)):
        if m.get(key) is not None and not ok(value, m[key]):
            return False
    return not m.get("valid") or m["valid"][0](value)


def parse(cls, raw, section: str, source: str = "params.yaml"):
    """Build `cls` from the raw dict of one section, or raise ConfigError with one line."""
    prefix = f"{source}: {section}." if section else f"{source}: "
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: {section or 'top level'}: expected a mapping of keys, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in raw:
        if key not in fields:
            raise ConfigError(f"{prefix}{key}: unknown key; valid keys: {', '.join(fields)}")
    values = {}
    for name, f in fields.items():
        if name not in raw:
            continue
        value, tp = raw[name], hints[name]
        key = prefix + name
        if not (_type_ok(value, tp) and _value_ok(value, f.metadata)):
            raise ConfigError(f"{key}: expected {_describe(f, tp)}, got {value!r}")
        if f.metadata.get("must_exist") and not os.path.exists(value):
            raise ConfigError(f"{key}: no such file or folder {value!r}; give an existing path")
        values[name] = float(value) if tp is float else value
    instance = cls(**values)
    problem = instance.cross_check() if hasattr(instance, "cross_check") else None
    if problem:
        raise ConfigError(f"{prefix}{problem[0]}: {problem[1]}")
    return instance


def read_params(path: str = "params.yaml") -> dict:
    """The whole params file as a dict, or ConfigError naming the file."""
    try:
        with open(path) as fh:
            raw = yaml.safe_load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file; run from the repository root") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, got {raw!r}")
    return raw


def merge_profile(params: dict, profile: dict) -> dict:
    """params with a profile's keys laid over them (nested sections merged key by key)."""
    merged = dict(params)
    for key, value in profile.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_profile(merged[key], value)
        else:
            merged[key] = value
    return merged


def check(path: str, sections: list[str], inputs: tuple[str, ...] = ()) -> None:
    """Validate the shared keys and the named sections of a params file; `inputs` are dotted keys
    (e.g. data.out_dir) naming paths that a stage reads and that must therefore exist."""
    raw = read_params(path)
    shared_keys = [f.name for f in dataclasses.fields(SharedConfig)]
    for key in raw:
        if key not in shared_keys and key not in SECTIONS:
            raise ConfigError(f"{path}: {key}: unknown key; valid top-level keys: "
                              f"{', '.join(shared_keys + list(SECTIONS))}")
    shared = {k: raw[k] for k in shared_keys if k in raw}
    parse(SharedConfig, shared, "", path)
    for name in sections:
        if name not in SECTIONS:
            raise ConfigError(f"unknown section {name!r}; valid sections: {', '.join(SECTIONS)}")
        parse(SECTIONS[name], raw.get(name), name, path)
    for dotted in inputs:
        section, key = dotted.split(".", 1)
        cfg = parse(SECTIONS[section], raw.get(section), section, path)
        value = getattr(cfg, key)
        if not os.path.exists(value):
            raise ConfigError(f"{path}: {dotted}: no such file or folder {value!r}; "
                              f"run the stage that writes it (dvc repro {section}) or give an existing path")


def apply_profile(path: str, profile_path: str) -> None:
    """Lay a profile's keys over the params file in place (comments kept), after checking that the
    merged result is valid in every section; on any error the file is left as it was."""
    from ruamel.yaml import YAML

    try:
        with open(profile_path) as fh:
            profile = yaml.safe_load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{profile_path}: no such profile; see the profiles/ folder") from None
    if not isinstance(profile, dict):
        raise ConfigError(f"{profile_path}: expected a mapping of sections, got {profile!r}")
    merged = merge_profile(read_params(path), profile)
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        yaml.safe_dump(merged, fh)
    try:
        check(tmp, list(SECTIONS))
    except ConfigError as err:
        raise ConfigError(str(err).replace(tmp, f"{path} + {profile_path}")) from None
    finally:
        os.remove(tmp)
    rt = YAML()  # round trip: the params file keeps its comments
    with open(path) as fh:
        doc = rt.load(fh)

    def lay(target, over):
        for key, value in over.items():
            if isinstance(value, dict) and isinstance(target.get(key), dict):
                lay(target[key], value)
            else:
                target[key] = value

    lay(doc, profile)
    with open(tmp, "w") as fh:
        rt.dump(doc, fh)
    os.replace(tmp, path)


USAGE = ("usage: python -m mathtransfer.config PARAMS_FILE [SECTION ...] [--exists=SECTION.KEY ...]\n"
         "       python -m mathtransfer.config PARAMS_FILE --apply=PROFILE_FILE")

def main(args: list[str]) -> int:
    """The command line (USAGE): 0 when the params are valid (or the profile was applied), else 2
    with one line on stderr."""
    try:
        if len(args) == 2 and args[1].startswith("--apply="):
            apply_profile(args[0], args[1].split("=", 1)[1])
            return 0
        inputs = tuple(a.split("=", 1)[1] for a in args if a.startswith("--exists="))
        if not args or args[0].startswith("--") or any(i.split(".")[0] not in SECTIONS or "." not in i for i in inputs):
            print(USAGE, file=sys.stderr)
            return 2
        check(args[0], [a for a in args[1:] if not a.startswith("--")], inputs)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

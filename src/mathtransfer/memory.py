"""Predicted peak GPU memory of a profile's settings, per stage, for the two Qwen3 bases.

    python -m mathtransfer.memory profiles/consumer-gpu.yaml     # the README's memory table

`predict(shape, train, evaluation, latent, tokens)` returns, per stage (sft, rft, grpo, evaluate,
latent, tokens), the phases the stage goes through (a training step, a generate call, loading the
next model ...), each a sum of named components in bytes; the stage's peak is its largest phase.
Every component is an exact tensor size from the published shapes (SHAPES) and the config, with
the source it follows cited where it is computed, except these stated assumptions:
- prompt lengths (PROMPT_TOKENS): RL / rft prompts 256 tokens, benchmark prompts 512 (the batch
  is padded to its longest prompt); every answer runs to its token limit (the worst case);
- activations of one decoder layer per token (LAYER_ACTIVATIONS: counts of hidden-, attention- and
  MLP-width tensors, forward plus the gradients alive in its backward), all in the residual
  stream's dtype (fp32 under qlora_fp32_upcast, else bf16);
- the CUDA context (CUDA_CONTEXT_GIB, outside torch's allocator: kernels, cuBLAS workspace) and
  the caching allocator's slack (ALLOCATOR_SLACK, a share of the non-weight tensors, which are
  allocated and freed every step: fragmentation, and the KV cache grown by torch.cat).
Left out: vLLM, multi-GPU, evaluation.zoo models (any size), beta > 0 (no reference model is
loaded at beta 0), the tiny mini-world model, CPU memory, and tensors under ~10 MiB (token ids,
masks, per-token log-probabilities, rotary tables). Not yet compared with a measurement: run
benchmarks/gpu_check.py on a GPU, which prints the prediction beside the measured peaks.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

from . import config

GiB = 2 ** 30
# The published configs of the two bases (config.json on the Hub), shapes only; "tiny" is
# benchmarks/gpu_check.py's CPU check.
SHAPES = {
    "0.6b": dict(hidden_size=1024, intermediate_size=3072, num_hidden_layers=28, num_attention_heads=16,
                 num_key_value_heads=8, head_dim=128, tie_word_embeddings=True),
    "1.7b": dict(hidden_size=2048, intermediate_size=6144, num_hidden_layers=28, num_attention_heads=16,
                 num_key_value_heads=8, head_dim=128, tie_word_embeddings=True),
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, head_dim=16, tie_word_embeddings=True),
}
QWEN3_VOCAB = 151936  # the embedding rows of both bases (the tokenizer uses 151,669 of them)
MODELS = {"0.6b": "Qwen/Qwen3-0.6B-Base", "1.7b": "Qwen/Qwen3-1.7B-Base"}
STAGES = ("sft", "rft", "grpo", "evaluate", "latent", "tokens")

# --- assumptions (see the module docstring) ---
PROMPT_TOKENS = {"rl": 256, "benchmark": 512}
CUDA_CONTEXT_GIB = 0.5
ALLOCATOR_SLACK = 0.10
MARGIN_GIB = 1.0  # the profiles' defaults are chosen to stay this far under the card's memory
# One decoder layer's activations per token, in units of (hidden, q+k+v width, MLP width) elements:
# norms (their fp32 copy and output), q/k/v/o outputs, q/k norms and rotary copies, the attention
# output, gate/up outputs, SiLU, the product, bf16 input casts of LoRA and bnb, residual adds; plus
# the gradients alive while that layer's backward runs (about 2 hidden + 1 q+k+v + 2 MLP widths).
LAYER_ACTIVATIONS = (12, 4, 7)
# One prefill step of generation (no backward): normed input, q/k/v, attention out, gate, up, product.
PREFILL_ACTIVATIONS = (4, 2, 3)

# 4-bit NF4 with double quantisation (models.load_model: bnb_4bit_use_double_quant=True): 4 bits per
# weight, one 8-bit absmax per block of 64 weights, one fp32 absmax per 256 such blocks
# (bitsandbytes/functional.py quantize_4bit: blocksize 64; nested quantize_blockwise: blocksize 256).
NF4_BYTES = 0.5 + 1 / 64 + 4 / (64 * 256)
# TRL's fused LM head (trl/kernels/chunked_logprob.py, ChunkedLogProbFunction): logit tiles of
# TOKEN_CHUNK_SIZE tokens x _CHUNKED_LOGPROB_CHUNK_SIZE vocabulary rows (trl/trainer/utils.py)
TRL_TOKEN_CHUNK, TRL_VOCAB_CHUNK = 4096, 32768


@dataclass
class Phase:
    """One moment of a stage: named components in bytes, and its total."""
    name: str
    parts: dict

    @property
    def total(self) -> float:
        return sum(self.parts.values())

    def largest(self) -> tuple[str, float]:
        return max(self.parts.items(), key=lambda kv: kv[1])


# --- sizes from the shapes ---

def _dims(s: dict) -> tuple[int, int, int, int, int]:
    """(hidden, intermediate, layers, q width, k (= v) width)."""
    return (s["hidden_size"], s["intermediate_size"], s["num_hidden_layers"],
            s["num_attention_heads"] * s["head_dim"], s["num_key_value_heads"] * s["head_dim"])


def linear_shapes(s: dict) -> list[tuple[int, int]]:
    """(in, out) of every linear layer of one decoder layer (Qwen3Attention, Qwen3MLP): the layers
    peft's target_modules="all-linear" adapts and bitsandbytes quantises (not the LM head)."""
    h, i, _, q, kv = _dims(s)
    return [(h, q), (h, kv), (h, kv), (q, h), (h, i), (h, i), (i, h)]


def linear_params(s: dict) -> int:
    return s["num_hidden_layers"] * sum(a * b for a, b in linear_shapes(s))


def lora_params(s: dict, r: int) -> int:
    """LoRA A (r x in) and B (out x r) on every linear layer."""
    return s["num_hidden_layers"] * sum(r * (a + b) for a, b in linear_shapes(s))


def embedding_params(s: dict, vocab: int = QWEN3_VOCAB) -> int:
    """The embedding, tied to the LM head (tie_word_embeddings): counted once."""
    return vocab * s["hidden_size"]


def norm_params(s: dict) -> int:
    """Two RMSNorms of hidden width per layer, q_norm and k_norm of head_dim, the final norm."""
    return s["num_hidden_layers"] * (2 * s["hidden_size"] + 2 * s["head_dim"]) + s["hidden_size"]


def kv_bytes_per_token(s: dict, dtype_bytes: int) -> int:
    """Keys and values of every layer for one token (DynamicCache, transformers/cache_utils.py)."""
    return s["num_hidden_layers"] * s["num_key_value_heads"] * s["head_dim"] * 2 * dtype_bytes


def _width(s: dict, counts: tuple[int, int, int]) -> int:
    h, i, _, q, kv = _dims(s)
    return counts[0] * h + counts[1] * (q + 2 * kv) + counts[2] * i


# --- components ---

def _bf16_model(s: dict, vocab: int, adapter_r: int) -> dict:
    """A model loaded with mode "full" (evaluate, latent, tokens, rft sampling, checkpoint scores):
    models.load_model loads the base in bf16 without quantisation and a trained adapter onto it
    (PeftModel.from_pretrained, which keeps adapter weights in fp32: autocast_adapter_dtype=True)."""
    parts = {"bf16 weights": 2 * (linear_params(s) + embedding_params(s, vocab) + norm_params(s))}
    if adapter_r:
        parts["adapter (fp32)"] = 4 * lora_params(s, adapter_r)
    return parts


def _trained_model(s: dict, cfg: config.TrainConfig, vocab: int) -> dict:
    """The model under training with its adapter's gradients and optimizer state."""
    if cfg.mode == "full":
        n = linear_params(s) + embedding_params(s, vocab) + norm_params(s)
        return {"bf16 weights": 2 * n, "gradients (bf16)": 2 * n, "optimizer state": n * _optimizer_bytes(cfg)}
    parts = {}
    if cfg.mode == "qlora":
        # 4-bit linears; peft's prepare_model_for_kbit_training (peft/utils/other.py) casts every
        # other parameter to fp32, undone when qlora_fp32_upcast is false (models.load_model)
        parts["4-bit linears"] = NF4_BYTES * linear_params(s)
        kept = 4 if cfg.qlora_fp32_upcast else 2
        parts[f"embedding + norms ({'fp32' if kept == 4 else 'bf16'})"] = kept * (embedding_params(s, vocab)
                                                                                 + norm_params(s))
    else:
        parts["bf16 weights"] = 2 * (linear_params(s) + embedding_params(s, vocab) + norm_params(s))
    n = lora_params(s, cfg.lora_r)
    parts["LoRA weights (fp32)"] = 4 * n  # get_peft_model's autocast_adapter_dtype=True: fp32 adapters
    parts["LoRA gradients (fp32)"] = 4 * n  # one gradient per trainable weight, in its dtype
    parts["optimizer state"] = _optimizer_bytes(cfg) * n
    return parts


def _optimizer_bytes(cfg: config.TrainConfig) -> float:
    """AdamW's two moments per trainable weight: fp32 (8 bytes), or bitsandbytes' 8-bit states
    (2 bytes plus an fp32 absmax per block of 256: bitsandbytes/optim/optimizer.py, Optimizer2State)."""
    return 2 + 8 / 256 if cfg.optim in ("paged_adamw_8bit", "adamw_8bit") else 8


def _residual_bytes(cfg: config.TrainConfig) -> int:
    """The residual stream's dtype in training and rollouts: bnb's Linear4bit returns its input's
    dtype (bitsandbytes/nn/modules.py, Linear4bit.forward: .to(inp_dtype)) and Qwen3RMSNorm returns
    weight * x (transformers/models/qwen3/modeling_qwen3.py), so fp32 embeddings and norms keep the
    hidden states, the keys and the values in fp32."""
    return 4 if cfg.mode == "qlora" and cfg.qlora_fp32_upcast else 2


def _train_step(s: dict, cfg: config.TrainConfig, vocab: int, sequences: int, length: int,
                scored: int) -> dict:
    """Activations of one micro-batch (sequences x length tokens, `scored` of them with a label)."""
    h, _, layers, _, _ = _dims(s)
    b = _residual_bytes(cfg)
    tokens = sequences * length
    parts = {}
    if cfg.gradient_checkpointing:
        # checkpointing keeps each decoder layer's input; backward recomputes one layer at a time
        parts["saved layer inputs"] = layers * tokens * h * b
        parts["one layer's activations"] = tokens * _width(s, LAYER_ACTIVATIONS) * b
    else:
        parts["activations (all layers)"] = layers * tokens * _width(s, LAYER_ACTIVATIONS) * b
    # TRL's fused LM head (add_fused_lm_head in trl/trainer/utils.py, used by SFTTrainer.compute_loss
    # and GRPOTrainer._get_per_token_logps_and_entropies): no (tokens x vocab) logits, only one bf16
    # tile of min(scored, 4096) x 32768 logits, the scored hidden states (hidden[mask]), their fp32
    # gradient, and a bf16 copy of one 32768-row slice of an fp32 LM head (weight[...].to(bf16))
    tile = min(scored, TRL_TOKEN_CHUNK) * min(vocab, TRL_VOCAB_CHUNK) * 2
    copy = min(vocab, TRL_VOCAB_CHUNK) * h * 2 if b == 4 else 0
    parts["fused LM head"] = tile + copy + scored * h * (b + 4)
    return parts


def _generate_call(s: dict, batch: int, prompt: int, new: int, dtype_bytes: int, vocab: int) -> tuple[dict, dict]:
    """(prefill, decode) of one model.generate call: the KV cache of batch x (prompt + new) tokens at
    its end (plus one layer's torch.cat copy as it grows: DynamicLayer.update in
    transformers/cache_utils.py), or the prompt's cache and one layer's prefill activations at its
    start. Logits: one position per sequence (generate sets logits_to_keep=1), fp32 copies for
    sampling (transformers/generation/utils.py: .to(dtype=torch.float32))."""
    kv = kv_bytes_per_token(s, dtype_bytes)
    logits = batch * vocab * 4 * 3  # next-token logits, processed scores, probabilities
    grow = 1 + 1 / s["num_hidden_layers"]
    decode = {"KV cache": batch * (prompt + new) * kv * grow, "sampling logits": logits}
    prefill = {"KV cache": batch * prompt * kv, "prefill activations": batch * prompt * _width(s, PREFILL_ACTIVATIONS)
               * dtype_bytes, "sampling logits": logits}
    return prefill, decode


def _overheads(parts: dict, weights: set) -> dict:
    """The named parts plus the allocator's slack on the non-weight tensors and the CUDA context."""
    dynamic = sum(v for k, v in parts.items() if k not in weights)
    return {**parts, "allocator slack": ALLOCATOR_SLACK * dynamic, "CUDA context": CUDA_CONTEXT_GIB * GiB}


def _phase(name: str, weights: dict, work: dict) -> Phase:
    return Phase(name, _overheads({**weights, **work}, set(weights)))


def _scoring(s: dict, train: config.TrainConfig, evaluation: config.EvalConfig, vocab: int,
             name: str = "generate") -> list[Phase]:
    """Greedy generation at evaluation's batch size and length with one bf16 model (evaluate, and
    arms.score_checkpoints after training)."""
    r = train.lora_r if train.mode != "full" else 0
    model = _bf16_model(s, vocab, r)
    prefill, decode = _generate_call(s, evaluation.batch_size, PROMPT_TOKENS["benchmark"],
                                     evaluation.max_new_tokens, 2, vocab)
    return [_phase(name, model, decode), _phase(name + " prefill", model, prefill)]


def predict(shape: str | dict, train: config.TrainConfig, evaluation: config.EvalConfig,
            latent: config.LatentConfig, tokens: config.TokensConfig, vocab: int = QWEN3_VOCAB) -> dict:
    """stage -> list of Phase (bytes per component) for a shape (a SHAPES key or dict)."""
    s = SHAPES[shape] if isinstance(shape, str) else shape
    h, _, layers, _, _ = _dims(s)
    rl, bench = PROMPT_TOKENS["rl"], PROMPT_TOKENS["benchmark"]
    trained = _trained_model(s, train, vocab)
    # checkpoints are scored one model at a time (arms.score_checkpoints frees each before the next)
    scoring = _scoring(s, train, evaluation, vocab, "checkpoint scores")
    stages = {}

    # sft: micro-batches of sft_batch_size // grad_accum sequences (sft.train_sft), each up to
    # sft_max_length tokens (0: the model's 32,768-token context); every token may carry a label
    micro = max(1, train.sft_batch_size // train.grad_accum)
    length = train.sft_max_length or 32768
    stages["sft"] = [_phase("train step", trained, _train_step(s, train, vocab, micro, length, micro * length))] + scoring

    # rft: the base (bf16, no adapter) samples rft_samples answers per prompt at evaluation's batch
    # size (arms.rft_rows -> sft.rejection_sample), then SFT on prompt + answer
    base = _bf16_model(s, vocab, 0)
    prefill, decode = _generate_call(s, evaluation.batch_size, rl, train.max_completion_length, 2, vocab)
    length = min(train.sft_max_length or 32768, rl + train.max_completion_length)
    stages["rft"] = [_phase("sampling", base, decode), _phase("sampling prefill", base, prefill),
                     _phase("train step", trained, _train_step(s, train, vocab, micro, length, micro * length))] + scoring

    # grpo: generation_batch_size rollouts per generate call (0: all of a rollout batch's, which
    # serves rl_steps_per_rollout steps: TRL's steps_per_generation),
    # without autocast (GRPOTrainer._generate_single_turn), so in the residual stream's dtype; then
    # micro-batches of rollouts_per_micro_batch rollouts, only completion tokens scored
    rollouts = train.rl_prompts_per_step * train.num_generations
    per_call = train.generation_batch_size or rollouts * train.rl_steps_per_rollout
    prefill, decode = _generate_call(s, per_call, rl, train.max_completion_length, _residual_bytes(train), vocab)
    micro = config.rollouts_per_micro_batch(train)
    step = _train_step(s, train, vocab, micro, rl + train.max_completion_length, micro * train.max_completion_length)
    stages["grpo"] = [_phase("rollouts", trained, decode), _phase("rollouts prefill", trained, prefill),
                      _phase("train step", trained, step)] + scoring

    # evaluate: one model at a time (evaluate.evaluate_models deletes the previous one)
    stages["evaluate"] = _scoring(s, train, evaluation, vocab)

    # latent: a forward of batch_size texts of max_tokens with output_hidden_states (latent.features):
    # bf16 logits of every position (no logits_to_keep) and layers + 1 hidden states, then their
    # fp32 stack and, for mask pooling, the masked product of that stack
    r = train.lora_r if train.mode != "full" else 0
    model = _bf16_model(s, vocab, r)
    t = latent.batch_size * latent.max_tokens
    states = (layers + 1) * t * h
    forward = {"logits (bf16)": t * vocab * 2, "hidden states (bf16)": states * 2}
    pooling = {"hidden states (bf16)": states * 2, "fp32 stack": states * 4,
               **({"masked product (fp32)": states * 4} if "mask" in latent.poolings else {})}
    stages["latent"] = [_phase("forward", model, forward), _phase("pooling", model, pooling)]

    # tokens: the tuned model generates, then it and the base score the answers with teacher forcing
    # (tokens._score: bf16 logits of the response positions, fp32 log_softmax per sequence;
    # tokens.compare: exp, difference, product). An adapter (lora/qlora arms) scores the base with
    # the adapter switched off: one model in memory; full fine-tunes keep the base loaded beside it.
    both = model if r else {k: 2 * v if k == "bf16 weights" else v for k, v in model.items()}
    prefill, decode = _generate_call(s, tokens.batch_size, bench, tokens.max_new_tokens, 2, vocab)
    rv = tokens.max_new_tokens * vocab  # one response's positions x vocabulary
    b = tokens.batch_size
    score = {"log-probs of the base (fp32)": b * rv * 4, "logits of the tuned model (bf16)": b * rv * 2,
             "log-probs of the tuned model (fp32)": b * rv * 4, "fp32 cast": rv * 4}
    compare = {"log-probs of both models (fp32)": 2 * b * rv * 4, "KL temporaries (fp32)": 3 * rv * 4 + rv}
    stages["tokens"] = [_phase("generate", both, decode), _phase("prefill", both, prefill),
                        _phase("score", both, score), _phase("compare", both, compare)]
    return stages


def peak(phases: list[Phase]) -> Phase:
    """The phase with the largest total."""
    return max(phases, key=lambda p: p.total)


def configs(params: dict, source: str = "params.yaml"):
    """(train, evaluation, latent, tokens) parsed from a params dict."""
    return tuple(config.parse(config.SECTIONS[name], params.get(name), name, source)
                 for name in ("train", "evaluation", "latent", "tokens"))


def profile_configs(profile_path: str, params_path: str = "params.yaml"):
    """The configs of a profile laid over the params file (as make repro PROFILE=... applies it)."""
    profile = config.read_params(profile_path)  # any YAML mapping: a profile is one
    return configs(config.merge_profile(config.read_params(params_path), profile), f"{params_path} + {profile_path}")


def table(train, evaluation, latent, tokens, shapes=("0.6b", "1.7b")) -> str:
    """Markdown: stage x model, the predicted peak in GiB, its phase and largest component."""
    lines = ["| stage | " + " | ".join(f"{MODELS[s]} (GiB)" for s in shapes) + " |",
             "|---|" + "---|" * len(shapes)]
    predicted = {s: predict(s, train, evaluation, latent, tokens) for s in shapes}
    for stage in STAGES:
        cells = []
        for s in shapes:
            phases = predicted[s][stage]
            top = peak(phases)
            name, size = top.largest()
            cell = f"{top.total / GiB:.1f} ({top.name}; {name} {size / GiB:.1f})"
            cells.append(cell)
        lines.append(f"| `{stage}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(args: list[str]) -> int:
    if len(args) not in (1, 2) or args[0].startswith("-"):
        print("usage: python -m mathtransfer.memory PROFILE_FILE [PARAMS_FILE]", file=sys.stderr)
        return 2
    try:
        cfgs = profile_configs(args[0], *args[1:])
    except (config.ConfigError, OSError) as err:
        print(err, file=sys.stderr)
        return 2
    print(table(*cfgs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Models: ONE loader (name or path -> model + tokenizer; full, LoRA or 4-bit QLoRA) and the tiny
Qwen3 builder with its locally trained tokenizer.

`load_model` is how every stage gets a model: a local folder written by save_pretrained or a hub
id such as Qwen/Qwen3-0.6B-Base (the GPU profile) take the same path, and a folder holding a PEFT
adapter is loaded onto its base. Device and dtype follow the hardware: fp32 on CPU (this CPU has
no fast bf16), bf16 on a GPU that supports it.
Left out: multi-GPU placement (accelerate does that) and any download in tests or the default
profile (the tiny model is built here, from the mini-world's own text).
"""
from __future__ import annotations

import gc
import json
import logging
import os
from dataclasses import dataclass

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast, Qwen3Config

from .config import BaseConfig
from .schema import ARMS, run_name
from .storage import atomic_dir

PAD, IM_START, IM_END = "<|pad|>", "<|im_start|>", "<|im_end|>"
# Qwen's ChatML layout, so that the tiny model and a Qwen3 base read prompts the same way.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{%- endif %}"
)
# On AVX512-BF16 CPUs bitsandbytes warns, when peft imports it, that an optional `kernels` package
# is missing; its own fallback works. Silenced: the line would make reports differ by CPU kind.
logging.getLogger("bitsandbytes").setLevel(logging.ERROR)

MODES = ("full", "lora", "qlora")
POINTER = "base.json"  # a base stage that uses a pretrained model records its name here
# what a model folder of ours holds (weights, an adapter or a pointer): storage.atomic_dir replaces
# such a folder as a whole, so that weights and a pointer never mix in one folder
MODEL_MARKERS = ("config.json", "adapter_config.json", POINTER)


def save_pointer(name_or_path: str, out_dir: str) -> None:
    """Record a pretrained base (hub id or folder) in out_dir/base.json, atomically: later stages
    read out_dir as if the model were there (load_model resolves it)."""
    with atomic_dir(out_dir, marker=MODEL_MARKERS) as tmp, open(os.path.join(tmp, POINTER), "w") as fh:
        json.dump({"model": name_or_path}, fh)


def resolve(name_or_path: str) -> str:
    """The model a path stands for: a folder holding only base.json points to its recorded model."""
    pointer = os.path.join(name_or_path, POINTER)
    if os.path.isfile(pointer) and not os.path.isfile(os.path.join(name_or_path, "config.json")):
        with open(pointer) as fh:
            return json.load(fh)["model"]
    return name_or_path


def end_of_turn_ids(tokenizer) -> list[int]:
    """The token ids that end an answer: the tokenizer's eos and the token that closes an assistant
    turn in its chat template. Qwen3 Base models end a chat turn with <|im_end|> while their eos is
    <|endoftext|>: stopping at eos alone would run every answer to the length limit. The turn's
    end is read from the template (what it writes right after an assistant message), not hard-coded."""
    ids = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    mark = "\u2063END-OF-CONTENT\u2063"
    try:
        text = tokenizer.apply_chat_template([{"role": "user", "content": "x"}, {"role": "assistant", "content": mark}],
                                             tokenize=False)
    except (ValueError, TypeError):  # no chat template: the tokenizer's eos is all there is
        return ids
    after = text[text.rindex(mark) + len(mark):] if mark in text else ""
    following = tokenizer(after, add_special_tokens=False)["input_ids"][:1]
    special = set(tokenizer.all_special_ids) | set(getattr(tokenizer, "added_tokens_decoder", {}))
    return ids + [i for i in following if i in special and i not in ids]


def chat_prompts(tokenizer, prompts: list[str]) -> list[str]:
    """User messages -> prompt strings ending with the assistant header (the chat template)."""
    return [tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                          add_generation_prompt=True) for p in prompts]


def train_tokenizer(texts, vocab_size: int) -> PreTrainedTokenizerFast:
    """Byte-level BPE trained on `texts`; digits are always single tokens (easy arithmetic)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[PAD, IM_START, IM_END],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, eos_token=IM_END,
                                   chat_template=CHAT_TEMPLATE, padding_side="left")


def build_tiny_qwen3(cfg: BaseConfig, tokenizer, seed: int) -> torch.nn.Module:
    """A freshly initialised Qwen3-architecture causal LM with the sizes of `cfg`."""
    problem = cfg.cross_check()
    if problem:
        raise ValueError(f"base.{problem[0]}: {problem[1]}")
    config = Qwen3Config(
        vocab_size=len(tokenizer), hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size, num_hidden_layers=cfg.n_layers,
        num_attention_heads=cfg.n_heads, num_key_value_heads=cfg.n_kv_heads,
        head_dim=cfg.hidden_size // cfg.n_heads, max_position_embeddings=cfg.max_length,
        tie_word_embeddings=True, pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id, bos_token_id=None,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa")
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model


def default_dtype(device: str) -> torch.dtype:
    """fp32 on CPU (no native bf16 here: 60-90x slower), bf16 on GPUs that support it."""
    if device.startswith("cuda") and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def load_model(name_or_path: str, mode: str = "full", *, lora_r: int = 16, lora_alpha: int = 32,
               lora_dropout: float = 0.0, gradient_checkpointing: bool = False, fp32_upcast: bool = True,
               device: str | None = None):
    """(model, tokenizer) from a local folder or hub id, ready to train in `mode`.

    full: all weights trainable. lora: a LoRA adapter on every linear layer. qlora: weights
    quantised to 4-bit NF4 by bitsandbytes (CPU or GPU), then a LoRA adapter; peft casts the
    weights left unquantised (embeddings, norms) to fp32, and fp32_upcast=False casts them back to
    the compute dtype (half the memory of the residual stream and KV cache on a bf16 GPU). Generation
    stops at the chat turn's end as well as at eos (end_of_turn_ids). A folder holding a
    PEFT adapter (adapter_config.json) is loaded onto its base, for evaluation. A folder with only
    base.json (save_pointer) loads the model it names. Hub ids load offline from the local cache
    when HF_HUB_OFFLINE=1.
    """
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
    name_or_path = resolve(name_or_path)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = default_dtype(device)
    adapter_base = base_of_adapter(name_or_path)
    adapter = adapter_base is not None
    base_path = adapter_base or name_or_path
    tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    tokenizer.padding_side = "left"  # batched generation needs left padding
    kwargs = dict(dtype=dtype)
    if mode == "qlora" and device.startswith("cpu"):
        # bitsandbytes' 4-bit CPU kernels (0.50) quantise in blocks of 64 and, on AVX512 CPUs, read
        # one row of a weight as whole blocks: an in-width that is not a multiple of 64 crashes the
        # packed AVX512-BF16 kernel (eval mode) and silently mis-scales the AVX512 dequantiser
        # (training); that kernel also tiles out-widths by 32. Checked on every CPU (AVX2 ones
        # would cope), so that a config that loads here loads everywhere. Shapes come from the
        # config on the meta device: no weights are read.
        from transformers import AutoConfig

        with torch.device("meta"):
            skeleton = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(base_path))
        kept = skeleton.get_output_embeddings()  # not quantised (nor are embeddings)
        for name, layer in skeleton.named_modules():
            if isinstance(layer, torch.nn.Linear) and layer is not kept and (
                    layer.in_features % 64 or layer.out_features % 32):
                raise ValueError(
                    f"qlora on CPU: layer {name} maps {layer.in_features} -> {layer.out_features} features; "
                    "bitsandbytes' 4-bit CPU kernels need inputs in multiples of 64 and outputs in multiples "
                    "of 32 (make base.hidden_size and base.intermediate_size multiples of 64 and n_kv_heads x "
                    "hidden_size/n_heads a multiple of 32, e.g. 64, 128, 2 heads, 1 kv head; or use "
                    "train.mode lora)")
    if mode == "qlora":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype)
        kwargs["device_map"] = {"": device}
    model = AutoModelForCausalLM.from_pretrained(base_path, **kwargs)
    if mode != "qlora":
        model.to(device)
    ends = end_of_turn_ids(tokenizer)  # TRL's rollouts read the generation config's ends too
    model.generation_config.eos_token_id = ends[0] if len(ends) == 1 else ends
    if adapter:
        from peft import PeftModel

        return PeftModel.from_pretrained(model, name_or_path), tokenizer
    if mode == "full":
        return model, tokenizer
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if mode == "qlora":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=gradient_checkpointing)
        if not fp32_upcast and dtype != torch.float32:
            for weight in model.parameters():
                if weight.dtype == torch.float32 and weight.__class__.__name__ != "Params4bit":
                    weight.data = weight.data.to(dtype)
    lora = LoraConfig(r=lora_r, lora_alpha=lora_alpha, lora_dropout=lora_dropout,
                      target_modules="all-linear", task_type="CAUSAL_LM")
    return get_peft_model(model, lora), tokenizer


def free_memory() -> None:
    """Return the memory of models the caller has deleted (`del model` first): a model's
    reference cycles (TRL's patched forward) outlive `del` until a collection, and CUDA keeps
    freed blocks cached until emptied; the next model then loads into the room."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def base_of_adapter(path: str) -> str | None:
    """The base model a folder's PEFT adapter was trained on (resolved), or None without one."""
    config_path = os.path.join(resolve(path), "adapter_config.json")
    if not os.path.isfile(config_path):
        return None
    with open(config_path) as fh:
        return resolve(json.load(fh)["base_model_name_or_path"])


def count_parameters(model: torch.nn.Module) -> dict[str, int]:
    """Total, trainable and embedding parameters (tied embeddings counted once)."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    embedding = model.get_input_embeddings().weight.numel()
    return dict(total=total, trainable=trainable, non_embedding=total - embedding)


@dataclass(frozen=True)
class Run:
    """A model to analyse: its name, how it was made (base, an arm, extra, zoo), its seed (-1 when
    it has none), where it is, and the base it is compared with."""
    name: str
    method: str
    seed: int
    path: str
    base: str


def trained_runs(base_path: str, out_dir: str, seeds: list[int], extra: list[dict] = ()) -> tuple[list[Run], list[str]]:
    """(runs, missing): every arm x seed whose final model is in out_dir (train.out_dir), in
    schema.ARMS order, each paired with base_path; then the `extra` (tuned, base) pairs of the
    params ({name?, tuned, base}: paths or hub ids, method "extra"). `missing` names the arm runs
    whose stage has not run yet (left out)."""
    runs, missing = [], []
    for arm in ARMS:
        for seed in seeds:
            path = os.path.join(out_dir, run_name(arm, seed))
            if os.path.isdir(path):
                runs.append(Run(run_name(arm, seed), arm, seed, path, base_path))
            else:
                missing.append(run_name(arm, seed))
    runs += [Run(p.get("name", p["tuned"]), "extra", -1, p["tuned"], p["base"]) for p in extra]
    return runs, missing

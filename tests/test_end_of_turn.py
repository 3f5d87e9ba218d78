"""Answers end at the chat turn's end: a tiny model whose tokenizer and config mimic Qwen3-Base's
two end tokens (eos <|endoftext|>, turns closed by <|im_end|>) stops there in evaluation and in
GRPO rollouts, where stopping at eos alone would run every answer to the length limit."""
import dataclasses

import pytest
import torch
from datasets import Dataset

from mathtransfer import generation, grpo, models
from mathtransfer.config import TrainConfig

ENDOFTEXT, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"


def qwen_base_like_tokenizer():
    """A word-level tokenizer with Qwen3-Base's special tokens: eos and pad <|endoftext|>, and a
    ChatML template that closes every turn with <|im_end|>."""
    from tokenizers import Tokenizer, models as tok_models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {ENDOFTEXT: 0, IM_START: 1, IM_END: 2, "[UNK]": 3, **{f"w{i}": i for i in range(4, 64)}}
    tok = Tokenizer(tok_models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=ENDOFTEXT, pad_token=ENDOFTEXT,
                                   additional_special_tokens=[IM_START, IM_END],
                                   chat_template=models.CHAT_TEMPLATE, padding_side="left")
    return fast


@pytest.fixture(scope="module")
def says_im_end(tmp_path_factory):
    """A model that always predicts <|im_end|>: every layer writes nothing to the residual stream,
    every token embeds alike, and the untied output layer favours <|im_end|> by a wide margin (so
    sampling at temperature 1 picks it too). Its generation config names only <|endoftext|>, as
    Qwen3-Base's does."""
    from transformers import AutoModelForCausalLM, Qwen3Config

    tok = qwen_base_like_tokenizer()
    config = Qwen3Config(vocab_size=64, hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, head_dim=32, tie_word_embeddings=False,
                         max_position_embeddings=256, eos_token_id=0, pad_token_id=0, bos_token_id=None)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)
    with torch.no_grad():
        for name, weight in model.named_parameters():
            if name.endswith(("o_proj.weight", "down_proj.weight")):
                weight.zero_()
        model.model.embed_tokens.weight.copy_(torch.ones(64, 64))
        model.lm_head.weight.zero_()
        model.lm_head.weight[2] = 1.0  # the logit of <|im_end|>: 64 above every other
    model.generation_config.eos_token_id = 0
    path = tmp_path_factory.mktemp("qwen-base-like")
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


def test_end_of_turn_ids_are_read_from_the_template(says_im_end):
    tok = qwen_base_like_tokenizer()
    assert models.end_of_turn_ids(tok) == [0, 2]
    model, _ = models.load_model(says_im_end, "full")
    assert model.generation_config.eos_token_id == [0, 2]


def test_evaluation_stops_at_im_end(says_im_end):
    model, tok = models.load_model(says_im_end, "full")
    lengths = []
    original = model.generate

    def counting(**kwargs):
        out = original(**kwargs)
        lengths.append(out.shape[1] - kwargs["input_ids"].shape[1])
        return out

    model.generate = counting
    assert generation.generate(model, tok, ["w5 w6", "w7"], batch_size=2, max_new_tokens=20) == ["", ""]
    assert lengths == [1]  # one token, <|im_end|>, then the turn is over
    # the failure this guards against: with the tokenizer's eos alone the answer runs to the limit
    batch = tok(models.chat_prompts(tok, ["w5"]), return_tensors="pt", add_special_tokens=False)
    alone = original(**batch, max_new_tokens=20, do_sample=False, eos_token_id=tok.eos_token_id,
                     pad_token_id=tok.pad_token_id)
    assert alone.shape[1] - batch["input_ids"].shape[1] == 20


def generate_calls(monkeypatch) -> list[int]:
    """The batch size of every Qwen3 generate call from now on (the list fills as calls come)."""
    from transformers import Qwen3ForCausalLM

    calls, original = [], Qwen3ForCausalLM.generate

    def counting(self, *args, **kwargs):
        calls.append(kwargs["input_ids"].shape[0])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Qwen3ForCausalLM, "generate", counting)
    return calls


def test_grpo_rollouts_stop_at_im_end_in_calls_of_generation_batch_size(says_im_end, tmp_path, monkeypatch):
    cfg = dataclasses.replace(TrainConfig(), rl_steps=1, rl_prompts_per_step=2, num_generations=2, grad_accum=2,
                              generation_batch_size=2, rl_steps_per_rollout=1, max_completion_length=16, save_steps=100,
                              optim="adamw_torch", out_dir=str(tmp_path / "arms"), checkpoint_dir=str(tmp_path / "ckpt"))
    rows = Dataset.from_list([dict(prompt=f"w{4 + i} w9", task="arith", answer="3", meta="{}") for i in range(2)])
    calls = generate_calls(monkeypatch)
    history = grpo.train_grpo(cfg, says_im_end, rows, str(tmp_path / "out"), seed=0)
    assert calls == [2, 2]  # a step's 4 rollouts, one group of 2 per generate call
    logged = next(h for h in history if "completions/mean_length" in h)
    assert logged["completions/mean_length"] == 1.0  # <|im_end|> alone, not 16 tokens
    assert logged["completions/clipped_ratio"] == 0.0


def test_one_rollout_batch_serves_rl_steps_per_rollout_steps(says_im_end, tmp_path, monkeypatch):
    cfg = dataclasses.replace(TrainConfig(), rl_steps=4, rl_steps_per_rollout=2, rl_prompts_per_step=2,
                              num_generations=2, max_completion_length=4, save_steps=100, optim="adamw_torch")
    rows = Dataset.from_list([dict(prompt=f"w{4 + i} w9", task="arith", answer="3", meta="{}") for i in range(4)])
    calls = generate_calls(monkeypatch)
    history = grpo.train_grpo(cfg, says_im_end, rows, str(tmp_path / "out"), seed=0)
    # 4 steps of 2 prompts x 2 rollouts: two rollout batches of 8, each serving two steps
    assert calls == [8, 8]
    assert [h["step"] for h in history if "loss" in h] == [1, 2, 3, 4]

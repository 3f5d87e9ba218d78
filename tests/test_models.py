"""Tokenizer and model round trips, the one loader's modes, QLoRA on CPU, batched generation."""
import pytest
import torch

from mathtransfer import evaluate, models


def test_tokenizer_round_trip_and_chat_template(tmp_path, tiny_tokenizer):
    tok = tiny_tokenizer
    text = "Compute 17+25-3. Answer: 39 ü😀"
    assert tok.decode(tok(text)["input_ids"]) == text  # byte-level: any text survives
    digits = tok.convert_ids_to_tokens(tok("12345")["input_ids"])
    assert digits == ["1", "2", "3", "4", "5"]
    assert tok.pad_token == models.PAD and tok.eos_token == models.IM_END
    prompt = evaluate.chat_prompts(tok, ["hi"])[0]
    assert prompt == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    tok.save_pretrained(tmp_path)
    from transformers import AutoTokenizer

    again = AutoTokenizer.from_pretrained(tmp_path)
    assert again(text)["input_ids"] == tok(text)["input_ids"]
    assert again.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                     add_generation_prompt=True) == prompt
    assert (again.pad_token_id, again.eos_token_id) == (tok.pad_token_id, tok.eos_token_id)


def test_model_save_load_round_trip_gives_same_logits(tiny_model_dir):
    model, tok = models.load_model(tiny_model_dir, "full")
    again, _ = models.load_model(tiny_model_dir, "full")
    assert model.config.model_type == "qwen3"
    ids = tok(["Compute 1+2."], return_tensors="pt")
    with torch.no_grad():
        assert torch.equal(model(**ids).logits, again(**ids).logits)


def test_bad_head_counts_are_a_clear_error(tiny_tokenizer):
    from mathtransfer.config import BaseConfig

    with pytest.raises(ValueError, match="base.n_heads"):
        models.build_tiny_qwen3(BaseConfig(hidden_size=30, n_heads=4), tiny_tokenizer, 0)
    with pytest.raises(ValueError, match="base.n_heads: .*even head size"):
        models.build_tiny_qwen3(BaseConfig(hidden_size=36, n_heads=4), tiny_tokenizer, 0)
    with pytest.raises(ValueError, match="mode: expected one of full, lora, qlora"):
        models.load_model("anything", "half")


def _one_step(model, tok):
    params = {n: p.detach().clone().float() for n, p in model.named_parameters() if p.requires_grad}
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    batch = tok(["Compute 1+2. Answer: 3", "Compute 4+4. Answer: 8"], return_tensors="pt", padding=True)
    loss = model(**batch, labels=batch["input_ids"]).loss
    assert torch.isfinite(loss)
    loss.backward()
    opt.step()
    return {n: p for n, p in model.named_parameters() if p.requires_grad}, params


def test_qlora_loads_4bit_and_one_optimizer_step_moves_only_the_adapter(tiny_model_dir):
    import bitsandbytes as bnb

    model, tok = models.load_model(tiny_model_dir, "qlora", lora_r=4, lora_alpha=8)
    assert any(isinstance(m, bnb.nn.Linear4bit) for m in model.modules())
    after, before = _one_step(model, tok)
    assert before and all("lora_" in n for n in before)
    assert any(not torch.equal(after[n].float(), before[n]) for n in before)


def test_lora_adapter_saves_and_reloads_through_the_loader(tmp_path, tiny_model_dir):
    model, tok = models.load_model(tiny_model_dir, "lora", lora_r=4, lora_alpha=8)
    _one_step(model, tok)
    model.save_pretrained(tmp_path / "adapter")
    tok.save_pretrained(tmp_path / "adapter")
    again, _ = models.load_model(str(tmp_path / "adapter"))
    ids = tok(["Compute 1+2."], return_tensors="pt")
    model.eval()
    with torch.no_grad():
        assert torch.allclose(model(**ids).logits, again(**ids).logits, atol=1e-5)


def test_batched_generation_matches_one_at_a_time(tiny_model_dir):
    model, tok = models.load_model(tiny_model_dir, "full")
    with torch.no_grad():  # sharpen the random model's logits so that no near-tie can flip a greedy
        model.get_input_embeddings().weight.mul_(30)  # choice under padding's rounding differences
    prompts = ["Compute 1+2.", "What does this program print?\nx = 3\nprint(x)", "hi", "Solve for x: 2x+1=5."]
    batched = evaluate.generate(model, tok, prompts, batch_size=4, max_new_tokens=6)
    single = [evaluate.generate(model, tok, [p], batch_size=1, max_new_tokens=6)[0] for p in prompts]
    assert batched == single

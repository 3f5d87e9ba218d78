"""Tokenizer and model round trips, the one loader's modes, QLoRA on CPU, batched generation."""
import pytest
import torch

from mathtransfer import generation, models


def test_tokenizer_round_trip_and_chat_template(tmp_path, tiny_tokenizer):
    tok = tiny_tokenizer
    text = "Compute 17+25-3. Answer: 39 ü😀"
    assert tok.decode(tok(text)["input_ids"]) == text  # byte-level: any text survives
    digits = tok.convert_ids_to_tokens(tok("12345")["input_ids"])
    assert digits == ["1", "2", "3", "4", "5"]
    assert tok.pad_token == models.PAD and tok.eos_token == models.IM_END
    prompt = models.chat_prompts(tok, ["hi"])[0]
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


def _saved_model(path, tokenizer, cfg, vocab_size=None):
    model = models.build_tiny_qwen3(cfg, tokenizer, seed=0)
    if vocab_size:  # the embeddings only; the tokenizer's ids stay below it
        model.resize_token_embeddings(vocab_size)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def default_shape_model_dir(tmp_path_factory, tiny_tokenizer):
    """The mini-world's base as params.yaml shapes it (widths, heads, layers, vocabulary)."""
    from mathtransfer.config import BaseConfig, parse, read_params
    from conftest import ROOT

    cfg = parse(BaseConfig, read_params(f"{ROOT}/params.yaml")["base"], "base")
    return _saved_model(tmp_path_factory.mktemp("default") / "model", tiny_tokenizer, cfg, cfg.vocab_size)


# bitsandbytes picks its CPU 4-bit path per Linear4bit when the layer is built (has_avx512bf16):
# "natural" runs what this CPU gets (AVX512-BF16: the packed bf16 kernel in eval mode; otherwise
# dequantise-then-matmul), "packed_off" forces dequantise-then-matmul, the path of CPUs without
# AVX512-BF16 (the dequantiser's own AVX512/scalar choice is made in C and stays this CPU's).
# Forcing the packed path on where the CPU lacks AVX512-BF16 is not possible: bitsandbytes only
# registers its kernel on CPUs that have it.
@pytest.fixture(params=["natural", "packed_off"])
def cpu_path(request, monkeypatch):
    import bitsandbytes.functional
    import bitsandbytes.nn.modules

    if request.param == "packed_off":
        monkeypatch.setattr(bitsandbytes.nn.modules, "has_avx512bf16", lambda: False)
        return False
    return bool(bitsandbytes.functional.has_avx512bf16())


def _check_qlora_on_cpu(model_dir, packed):
    """4-bit base layers that compute what their fp32 weights do (training and eval paths), one
    optimizer step that moves the adapters only, and a finite eval forward."""
    import bitsandbytes as bnb
    from safetensors.torch import load_file

    model, tok = models.load_model(model_dir, "qlora", lora_r=4, lora_alpha=8, device="cpu")
    fp32 = load_file(f"{model_dir}/model.safetensors")
    layers = {n.removeprefix("base_model.model.").removesuffix(".base_layer"): m
              for n, m in model.named_modules() if isinstance(m, bnb.nn.Linear4bit)}
    assert sorted(layers) == sorted(k.removesuffix(".weight") for k in fp32 if k.endswith("_proj.weight"))
    for m in layers.values():  # 4-bit: two NF4 codes a byte
        assert isinstance(m.weight, bnb.nn.Params4bit) and m.weight.dtype == torch.uint8
        assert m.weight.numel() * 2 == m.in_features * m.out_features
        assert m.weight.quant_state.quant_type == "nf4" and m.support_avx512bf16_for_cpu == packed
    torch.manual_seed(0)

    def assert_close_to_fp32(requires_grad):  # NF4 keeps ~10% relative error; wrong scales far more
        for name, m in layers.items():
            x = torch.randn(2, 3, m.in_features, requires_grad=requires_grad)
            want = x.detach() @ fp32[name + ".weight"].T
            err = (m(x).detach() - want).norm() / want.norm()
            assert err < 0.2, (name, float(err))

    model.train()  # as the Trainer runs it: the dequantising path, gradients through the 4-bit layers
    assert_close_to_fp32(requires_grad=True)
    frozen = {n: (m.weight.data.clone(), m.weight.quant_state.as_dict(packed=True)) for n, m in layers.items()}
    after, before = _one_step(model, tok)
    assert before and all("lora_" in n for n in before)
    assert all(not torch.equal(after[n].float(), before[n]) for n in before if "lora_B" in n)
    for name, m in layers.items():  # the quantised base, byte for byte
        assert torch.equal(m.weight.data, frozen[name][0])
        state, then = m.weight.quant_state.as_dict(packed=True), frozen[name][1]
        assert state.keys() == then.keys()
        assert all(torch.equal(state[k], v) if torch.is_tensor(v) else state[k] == v for k, v in then.items())
    model.eval()
    with torch.no_grad():  # eval: the packed AVX512-BF16 kernel where the CPU has it
        batch = tok(["Compute 1+2.", "hi"], return_tensors="pt", padding=True)
        assert torch.isfinite(model(**batch).logits).all()
        assert_close_to_fp32(requires_grad=False)
    assert all(getattr(m.weight.quant_state, "packing_format_for_cpu", False) == packed for m in layers.values())


def test_qlora_loads_4bit_and_one_optimizer_step_moves_only_the_adapter(qlora_model_dir, cpu_path):
    _check_qlora_on_cpu(qlora_model_dir, cpu_path)


def test_qlora_trains_the_default_mini_world_shape(default_shape_model_dir, cpu_path):
    _check_qlora_on_cpu(default_shape_model_dir, cpu_path)


def test_qlora_on_cpu_rejects_a_too_narrow_model_in_one_line(tiny_model_dir):
    import traceback

    with pytest.raises(ValueError, match=r"^qlora on CPU: layer model\.layers\.0\.self_attn\.q_proj maps "
                                         r"32 -> 32 features; .*multiples of 64.*train\.mode lora") as err:
        models.load_model(tiny_model_dir, "qlora", device="cpu")
    assert "\n" not in str(err.value)
    assert not any("bitsandbytes" in frame.filename for frame in traceback.extract_tb(err.tb))


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
    batched = generation.generate(model, tok, prompts, batch_size=4, max_new_tokens=6)
    single = [generation.generate(model, tok, [p], batch_size=1, max_new_tokens=6)[0] for p in prompts]
    assert batched == single


@pytest.mark.parametrize("upcast", [True, False])
def test_qlora_fp32_upcast_decides_the_dtype_of_the_unquantised_weights(qlora_model_dir, monkeypatch, upcast):
    # as on a bf16 GPU: peft casts embeddings and norms to fp32; without the upcast they stay bf16,
    # and so do the residual stream and the KV cache
    monkeypatch.setattr(models, "default_dtype", lambda device: torch.bfloat16)
    model, _ = models.load_model(qlora_model_dir, "qlora", lora_r=4, lora_alpha=8, device="cpu",
                                 fp32_upcast=upcast)
    kept = {n: p.dtype for n, p in model.named_parameters()
            if p.__class__.__name__ != "Params4bit" and "lora_" not in n}
    assert kept and any("embed_tokens" in n for n in kept) and any("norm" in n for n in kept)
    assert set(kept.values()) == {torch.float32 if upcast else torch.bfloat16}


def test_a_batch_out_of_memory_is_retried_in_halves(tiny_model_dir):
    model, tok = models.load_model(tiny_model_dir, "full")
    prompts = [f"Compute {i}+1." for i in range(7)]
    want = generation.generate(model, tok, prompts, batch_size=8, max_new_tokens=4)
    original, sizes = model.generate, []

    def small_memory(**kwargs):
        sizes.append(kwargs["input_ids"].shape[0])
        if sizes[-1] > 2:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return original(**kwargs)

    model.generate = small_memory
    assert generation.generate(model, tok, prompts, batch_size=8, max_new_tokens=4) == want
    assert sizes == [7, 4, 2, 2, 2, 1]  # halved twice, then the smaller size is kept
    model.generate = lambda **kwargs: (_ for _ in ()).throw(torch.OutOfMemoryError("simulated"))
    with pytest.raises(torch.OutOfMemoryError):  # at one prompt per batch there is nothing left to halve
        generation.generate(model, tok, prompts[:1], batch_size=1, max_new_tokens=4)

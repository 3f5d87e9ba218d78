"""The memory model of the consumer-GPU profiles (mathtransfer.memory): sizes, invariants, the
profiles' defaults against 8 GB and 6 GB cards, and the README's table against the command."""
import dataclasses
import os
import subprocess
import sys

import pytest

from mathtransfer import config, memory

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROFILE_8GB = os.path.join(ROOT, "profiles", "consumer-gpu.yaml")
PROFILE_6GB = os.path.join(ROOT, "profiles", "consumer-gpu-6gb.yaml")
GiB = memory.GiB


def cfgs(profile=PROFILE_8GB):
    return memory.profile_configs(profile, os.path.join(ROOT, "params.yaml"))


def phase(stages, stage, name):
    return next(p for p in stages[stage] if p.name == name)


def test_kv_cache_per_token_of_the_1_7b_base():
    s = memory.SHAPES["1.7b"]
    assert memory.kv_bytes_per_token(s, 4) == 28 * 8 * 128 * 2 * 4 == 224 * 1024
    assert memory.kv_bytes_per_token(s, 2) == 28 * 8 * 128 * 2 * 2


def test_parameter_counts_match_the_published_sizes():
    """Qwen3-1.7B: 1.7B parameters, 1.4B without the embedding; Qwen3-0.6B: 0.6B and 0.44B."""
    for shape, total, non_embedding in (("1.7b", 1.72e9, 1.41e9), ("0.6b", 0.60e9, 0.44e9)):
        s = memory.SHAPES[shape]
        linear = memory.linear_params(s)
        assert abs(linear - non_embedding) / non_embedding < 0.01
        assert abs(linear + memory.embedding_params(s) - total) / total < 0.01


def test_rollouts_phase_by_hand():
    """The GRPO rollouts phase of the 8 GB profile at 1.7B, component by component."""
    train, evaluation, latent, tokens = cfgs()
    rollouts = phase(memory.predict("1.7b", train, evaluation, latent, tokens), "grpo", "rollouts").parts
    calls = train.generation_batch_size or train.rl_prompts_per_step * train.num_generations
    kv = calls * (256 + train.max_completion_length) * 28 * 8 * 128 * 2 * 4 * (1 + 1 / 28)
    assert rollouts["KV cache"] == pytest.approx(kv)
    assert rollouts["embedding + norms (fp32)"] == pytest.approx(4 * (151936 * 2048 + 28 * (2 * 2048 + 2 * 128) + 2048))
    lora = 28 * train.lora_r * ((2048 + 2048) * 2 + (2048 + 1024) * 2 + (2048 + 6144) * 3)
    assert rollouts["LoRA weights (fp32)"] == rollouts["LoRA gradients (fp32)"] == 4 * lora
    assert rollouts["optimizer state"] == pytest.approx(lora * (2 + 8 / 256))  # paged 8-bit AdamW
    assert rollouts["4-bit linears"] == pytest.approx(1_409_286_144 * (0.5 + 1 / 64 + 4 / 16384))
    assert rollouts["CUDA context"] == memory.CUDA_CONTEXT_GIB * GiB


def test_fp32_upcast_doubles_the_kv_cache():
    train, evaluation, latent, tokens = cfgs()
    up = phase(memory.predict("1.7b", dataclasses.replace(train, qlora_fp32_upcast=True), evaluation, latent, tokens),
               "grpo", "rollouts")
    down = phase(memory.predict("1.7b", dataclasses.replace(train, qlora_fp32_upcast=False), evaluation, latent,
                                tokens), "grpo", "rollouts")
    assert up.parts["KV cache"] == pytest.approx(2 * down.parts["KV cache"])
    assert "embedding + norms (bf16)" in down.parts and down.total < up.total


@pytest.mark.parametrize("stage, name, section, key, values", [
    ("grpo", "rollouts", "train", "generation_batch_size", (8, 16, 32)),
    ("grpo", "rollouts", "train", "max_completion_length", (256, 512, 768)),
    ("grpo", "train step", "train", "max_completion_length", (256, 512, 768)),
    ("sft", "train step", "train", "grad_accum", (16, 8, 4)),  # fewer micro-batches: more sequences in each
    ("sft", "train step", "train", "sft_max_length", (512, 1024, 2048)),
    ("evaluate", "generate", "evaluation", "batch_size", (4, 16, 32)),
    ("evaluate", "generate", "evaluation", "max_new_tokens", (256, 512, 1024)),
    ("latent", "pooling", "latent", "batch_size", (8, 32, 64)),
    ("tokens", "compare", "tokens", "batch_size", (1, 2, 4)),
    ("tokens", "compare", "tokens", "max_new_tokens", (128, 256, 512)),
])
def test_prediction_grows_with_batch_and_length(stage, name, section, key, values):
    names = ("train", "evaluation", "latent", "tokens")
    base = dict(zip(names, cfgs()))
    peaks = []
    for value in values:
        changed = dict(base, **{section: dataclasses.replace(base[section], **{key: value})})
        peaks.append(phase(memory.predict("1.7b", **changed), stage, name).total)
    assert peaks == sorted(peaks) and peaks[0] < peaks[-1]


@pytest.mark.parametrize("profile, card_gib", [(PROFILE_8GB, 8), (PROFILE_6GB, 6)])
@pytest.mark.parametrize("shape", ["0.6b", "1.7b"])
def test_profile_defaults_fit_their_card_with_the_margin(profile, card_gib, shape):
    stages = memory.predict(shape, *cfgs(profile))
    assert set(stages) == set(memory.STAGES)
    over = [(stage, p.name, round(p.total / GiB, 2)) for stage, phases in stages.items() for p in phases
            if p.total > (card_gib - memory.MARGIN_GIB) * GiB]
    assert not over


def test_tokens_holds_one_model_for_adapter_arms_and_two_for_full_fine_tunes():
    # tokens.compare scores the base through an adapter with the adapter off (one model in memory)
    train, evaluation, latent, tokens = cfgs()
    adapter = memory.peak(memory.predict("1.7b", train, evaluation, latent, tokens)["tokens"])
    full = memory.peak(memory.predict("1.7b", dataclasses.replace(train, mode="full"), evaluation, latent,
                                      tokens)["tokens"])
    one = memory.predict("1.7b", train, evaluation, latent, tokens)["evaluate"][0].parts["bf16 weights"]
    assert adapter.parts["bf16 weights"] == one
    assert full.parts["bf16 weights"] == 2 * one


def test_profiles_are_complete_and_valid(tmp_path):
    """Each applies over a copy of params.yaml (as make repro does), and the 6 GB one sets every key
    the 8 GB one sets (a complete profile, not a delta)."""
    import yaml

    for profile in (PROFILE_8GB, PROFILE_6GB):
        params = tmp_path / "params.yaml"
        params.write_text(open(os.path.join(ROOT, "params.yaml")).read())
        config.apply_profile(str(params), profile)
    assert flat_keys(yaml.safe_load(open(PROFILE_8GB))) == flat_keys(yaml.safe_load(open(PROFILE_6GB)))


def flat_keys(section: dict, prefix: str = "") -> set:
    keys = set()
    for key, value in section.items():
        keys |= flat_keys(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key}
    return keys


def test_readme_table_is_the_command_output():
    out = subprocess.run([sys.executable, "-m", "mathtransfer.memory", "profiles/consumer-gpu.yaml"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    readme = open(os.path.join(ROOT, "README.md")).read()
    assert out.stdout.strip() in readme
    out6 = subprocess.run([sys.executable, "-m", "mathtransfer.memory", "profiles/consumer-gpu-6gb.yaml"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert out6.returncode == 0 and out6.stdout.strip() in readme


def test_command_refuses_a_bad_call(tmp_path):
    assert memory.main([]) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: {grad_accum: 0}\n")
    assert memory.main([str(bad), os.path.join(ROOT, "params.yaml")]) == 2

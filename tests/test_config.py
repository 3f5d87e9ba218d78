"""Config parsing: every bad key stops with one line naming file, key, value and what is valid."""
import dataclasses
import os

import pytest
import yaml

from mathtransfer import config
from mathtransfer.config import SECTIONS, ConfigError, parse

BAD_BY_TYPE = {int: "two", float: "fast", str: 3, dict: [1], list: "zero", bool: "maybe"}


def test_example_message_is_exact():
    with pytest.raises(ConfigError) as err:
        parse(config.BaseConfig, {"n_layers": "two"}, "base")
    assert str(err.value) == "params.yaml: base.n_layers: expected an integer >= 1, got 'two'"


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_every_key_rejects_a_wrong_type(section):
    cls = SECTIONS[section]
    hints = __import__("typing").get_type_hints(cls)
    for f in dataclasses.fields(cls):
        with pytest.raises(ConfigError) as err:
            parse(cls, {f.name: BAD_BY_TYPE[hints[f.name]]}, section)
        message = str(err.value)
        assert message.startswith(f"params.yaml: {section}.{f.name}: expected ")
        assert "\n" not in message and "got" in message


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_every_bounded_key_rejects_out_of_range(section):
    cls = SECTIONS[section]
    for f in dataclasses.fields(cls):
        low = f.metadata.get("ge")
        if low is None:
            low = f.metadata.get("gt")
            if low is None:
                continue
            bad = low
        else:
            bad = low - 1
        with pytest.raises(ConfigError, match=rf"{section}\.{f.name}: expected .* got {bad!r}"):
            parse(cls, {f.name: bad}, section)


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_every_upper_bounded_key_rejects_too_large(section):
    cls = SECTIONS[section]
    for f in dataclasses.fields(cls):
        high = f.metadata.get("le")
        if high is not None:
            with pytest.raises(ConfigError, match=rf"{section}\.{f.name}: expected .*<= {high}"):
                parse(cls, {f.name: high * 2 + 1}, section)


@pytest.mark.parametrize("out_dir", [".", "", "src", "src/models", "../elsewhere", "/tmp/abs", "data/../.."])
def test_output_folders_must_stay_inside_the_repository_and_off_its_sources(out_dir):
    for section, cls in (("data", config.DataConfig), ("base", config.BaseConfig)):
        with pytest.raises(ConfigError, match=rf"{section}\.out_dir: expected a relative folder inside"):
            parse(cls, {"out_dir": out_dir}, section)


def test_cross_checks_name_the_key():
    with pytest.raises(ConfigError, match=r"^params.yaml: base.n_kv_heads: n_kv_heads must divide n_heads=4, got 3$"):
        parse(config.BaseConfig, {"n_kv_heads": 3}, "base")


def test_cli_without_arguments_prints_usage(capsys):
    assert config.main([]) == 2
    assert capsys.readouterr().err.startswith("usage: python -m mathtransfer.config")


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError, match=r"params.yaml: data.n_tarin: unknown key; valid keys: n_train, "):
        parse(config.DataConfig, {"n_tarin": 5}, "data")


def test_wrong_share_needs_every_math_task_in_range():
    with pytest.raises(ConfigError, match="data.wrong_share: expected a mapping of exactly arith"):
        parse(config.DataConfig, {"wrong_share": {"arith": 0.5}}, "data")
    good = {task: [0.2, 0.8] for task in config.STEP_TASKS}
    assert parse(config.DataConfig, {"wrong_share": good}, "data").wrong_share == good
    for bad in ([1.5, 0.2], [0.2], 0.5):
        with pytest.raises(ConfigError, match=r"wrong_share: expected a mapping of exactly .* \[short, long\] pairs"):
            parse(config.DataConfig, {"wrong_share": dict(good, arith=bad)}, "data")


def test_bool_is_not_an_integer_and_int_is_a_float():
    with pytest.raises(ConfigError):
        parse(config.BaseConfig, {"steps": True}, "base")
    assert parse(config.BaseConfig, {"lr": 1}, "base").lr == 1.0


def test_the_repository_params_file_is_valid():
    config.check("params.yaml", sorted(SECTIONS))


def test_cli_prints_one_line_and_exits_2(tmp_path, capsys):
    params = yaml.safe_load(open("params.yaml"))
    params["base"]["n_layers"] = "two"
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump(params))
    assert config.main([str(bad), "base"]) == 2
    assert capsys.readouterr().err.strip() == f"{bad}: base.n_layers: expected an integer >= 1, got 'two'"


def test_unknown_top_level_key_and_missing_file(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("seed: 0\nsede: 1\n")
    with pytest.raises(ConfigError, match="sede: unknown key; valid top-level keys: seed, threads"):
        config.check(str(bad), [])
    with pytest.raises(ConfigError, match="no such file"):
        config.check(str(tmp_path / "nope.yaml"), [])
    bad.write_text("seed: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        config.check(str(bad), [])


def test_merge_profile_overrides_nested_keys_only():
    merged = config.merge_profile({"seed": 0, "base": {"steps": 5, "lr": 0.1}}, {"base": {"steps": 2}})
    assert merged == {"seed": 0, "base": {"steps": 2, "lr": 0.1}}


def test_a_missing_input_path_is_one_line(tmp_path, capsys):
    params = yaml.safe_load(open("params.yaml"))
    params["data"]["out_dir"] = "data/nowhere"
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    assert config.main([str(path), "base", "--exists=data.out_dir"]) == 2
    assert capsys.readouterr().err.strip() == (f"{path}: data.out_dir: no such file or folder 'data/nowhere'; "
                                  "run the stage that writes it (dvc repro data) or give an existing path")


@pytest.mark.parametrize("seeds", [[], [1, 1], [-1], ["a"], [True]])
def test_seeds_must_be_distinct_non_negative_integers(seeds):
    with pytest.raises(ConfigError, match="train.seeds: expected a non-empty list of distinct integers >= 0"):
        parse(config.TrainConfig, {"seeds": seeds}, "train")


@pytest.mark.parametrize("ckpt", ["models/arms", "models/arms/ckpt", "models"])
def test_checkpoints_must_not_overlap_the_final_models(ckpt):
    with pytest.raises(ConfigError, match="train.checkpoint_dir: must not overlap out_dir"):
        parse(config.TrainConfig, {"out_dir": "models/arms", "checkpoint_dir": ckpt}, "train")


def test_sampled_tasks_must_be_task_names():
    assert parse(config.EvalConfig, {"sampled_tasks": ["word", "kb_chain"]}, "evaluation").sampled_tasks == ["word", "kb_chain"]
    with pytest.raises(ConfigError, match="evaluation.sampled_tasks: expected a list of task names"):
        parse(config.EvalConfig, {"sampled_tasks": ["aime"]}, "evaluation")


@pytest.mark.parametrize("section", ["latent", "tokens"])
@pytest.mark.parametrize("pairs", [[{"tuned": "a"}], [{"tuned": "a", "base": ""}], [{"tuned": "a", "base": "b", "seed": 1}], ["a=b"]])
def test_analysis_pairs_need_tuned_and_base(section, pairs):
    with pytest.raises(ConfigError) as err:
        parse(SECTIONS[section], {"pairs": pairs}, section)
    assert str(err.value).startswith(f"params.yaml: {section}.pairs: expected a list of mappings with string keys tuned and base")
    ok = parse(SECTIONS[section], {"pairs": [{"tuned": "Org/Tuned", "base": "Org/Base", "name": "t"}]}, section)
    assert ok.pairs[0]["base"] == "Org/Base"


def test_latent_poolings_are_named():
    with pytest.raises(ConfigError, match="latent.poolings: expected a non-empty list of paper, mask"):
        parse(config.LatentConfig, {"poolings": ["mean"]}, "latent")


def test_hub_benchmark_names_are_checked():
    with pytest.raises(ConfigError, match=r"data.benchmarks: expected a list of benchmark names of registry.BENCHMARKS"):
        parse(config.DataConfig, {"benchmarks": ["MATH500", "MMLU"]}, "data")
    assert parse(config.DataConfig, {"benchmarks": ["MATH500", "ifeval"]}, "data").benchmarks == ["MATH500", "ifeval"]
    with pytest.raises(ConfigError, match=r"data.benchmark_sources: expected a mapping of benchmark names"):
        parse(config.DataConfig, {"benchmark_sources": {"GPQA": "gpqa.jsonl"}}, "data")


def test_vllm_is_refused_with_qlora_in_one_line():
    with pytest.raises(ConfigError, match=r"^params.yaml: train.use_vllm: cannot be combined with mode qlora"):
        parse(config.TrainConfig, {"use_vllm": True, "mode": "qlora"}, "train")
    assert parse(config.TrainConfig, {"use_vllm": True, "mode": "lora"}, "train").use_vllm


@pytest.mark.parametrize("size, ok", [(0, True), (8, True), (16, True), (32, True), (12, False), (24, False),
                                      (64, False)])
def test_generation_batch_holds_whole_groups_and_divides_a_step(size, ok):
    # 4 prompts x 8 generations = 32 rollouts a step, in micro-batches of 32 / 4 = 8
    raw = {"generation_batch_size": size, "rl_prompts_per_step": 4, "num_generations": 8, "grad_accum": 4,
           "rl_steps_per_rollout": 1}
    if ok:
        assert parse(config.TrainConfig, raw, "train").generation_batch_size == size
    else:
        with pytest.raises(ConfigError, match=r"train.generation_batch_size: must be a multiple of num_generations"):
            parse(config.TrainConfig, raw, "train")


def test_split_rollout_calls_and_multi_step_rollout_batches_are_refused_together():
    raw = {"generation_batch_size": 16, "rl_prompts_per_step": 4, "num_generations": 8, "grad_accum": 8}
    with pytest.raises(ConfigError, match=r"^params.yaml: train.rl_steps_per_rollout: must be 1 when "):
        parse(config.TrainConfig, {**raw, "rl_steps_per_rollout": 4}, "train")
    assert parse(config.TrainConfig, {**raw, "rl_steps_per_rollout": 1}, "train").generation_batch_size == 16


def test_sweep_rates_and_per_arm_rates_are_checked():
    with pytest.raises(ConfigError, match=r"^params.yaml: sweep.lrs: .*a mapping from an arm"):
        parse(config.SweepConfig, {"lrs": {"dpo": [1e-4]}}, "sweep")
    with pytest.raises(ConfigError, match=r"^params.yaml: train.lr_by_arm: .*a mapping from an arm \(sft-think, "):
        parse(config.TrainConfig, {"lr_by_arm": {"dpo": 1e-4}}, "train")
    cfg = parse(config.TrainConfig, {"sft_lr": 5e-4, "rl_lr": 1e-5, "lr_by_arm": {"rft": 1e-4, "grpo-kl": 3e-5}}, "train")
    assert (config.arm_lr(cfg, "rft"), config.arm_lr(cfg, "sft-think")) == (1e-4, 5e-4)
    assert (config.arm_lr(cfg, "grpo"), config.arm_lr(cfg, "grpo-kl"), config.arm_lr(cfg, "sft-think-lora")) == (
        1e-5, 3e-5, 5e-4)


def test_each_arm_trains_with_its_own_kl_term_and_weights():
    cfg = parse(config.TrainConfig, {"beta": 0.0, "kl_beta": 0.05, "mode": "full"}, "train")
    assert [config.arm_beta(cfg, a) for a in ("grpo", "grpo-kl", "grpo-random")] == [0.0, 0.05, 0.0]
    assert [config.arm_mode(cfg, a) for a in ("sft-think", "sft-think-lora")] == ["full", "lora"]
    qlora = parse(config.TrainConfig, {"mode": "qlora"}, "train")
    assert config.arm_mode(qlora, "sft-think-lora") == "qlora"  # adapters already


def test_params_yaml_names_every_key_of_every_section():
    # a stage declares its keys in dvc.yaml, and DVC stops when one is absent from params.yaml
    raw = config.read_params("params.yaml")
    for name, cls in config.SECTIONS.items():
        assert [f.name for f in dataclasses.fields(cls) if f.name not in raw[name]] == [], name


def test_the_gpu_profiles_restate_every_arm_rate_of_the_mini_world():
    """lr_by_arm merges key by key: a profile that did not restate an arm would train it at the
    mini-world's rate."""
    import yaml

    from conftest import ROOT

    mini = yaml.safe_load(open(os.path.join(ROOT, "params.yaml")))["train"]["lr_by_arm"]
    for name in ("consumer-gpu", "consumer-gpu-6gb"):
        profile = yaml.safe_load(open(os.path.join(ROOT, "profiles", f"{name}.yaml")))["train"]
        assert set(mini) <= set(profile["lr_by_arm"]), (name, set(mini) - set(profile["lr_by_arm"]))

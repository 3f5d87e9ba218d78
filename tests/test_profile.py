"""The consumer-GPU profile on CPU: it validates, it is applied to params.yaml safely, a
pretrained base is recorded and loaded through the one loader, its training settings run (tiny
shape), and the arms read the right rows of hub data."""
import os
import shutil
import subprocess
import sys

import pytest
import yaml
from datasets import Dataset

from mathtransfer import arms, config, data, models, schema, storage
from mathtransfer.config import ConfigError

from conftest import ROOT

PROFILE = os.path.join(ROOT, "profiles", "consumer-gpu.yaml")


def test_profile_validates_in_every_section(tmp_path):
    merged = config.merge_profile(config.read_params(os.path.join(ROOT, "params.yaml")), yaml.safe_load(open(PROFILE)))
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(merged))
    config.check(str(path), list(config.SECTIONS))
    assert merged["base"]["model"].startswith("Qwen/Qwen3-") and merged["train"]["mode"] == "qlora"


def test_apply_profile_keeps_comments_and_refuses_a_bad_profile(tmp_path):
    params = tmp_path / "params.yaml"
    shutil.copy(os.path.join(ROOT, "params.yaml"), params)
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  grad_accum: 3\n")
    before = params.read_text()
    with pytest.raises(ConfigError, match=r"train.grad_accum: must divide sft_batch_size"):
        config.apply_profile(str(params), str(bad))
    assert params.read_text() == before and not os.path.exists(str(params) + ".tmp")
    out = subprocess.run([sys.executable, "-m", "mathtransfer.config", str(params), f"--apply={PROFILE}"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    applied = yaml.safe_load(params.read_text())
    assert applied["data"]["source"] == "hub" and applied["base"]["vocab_size"] == 768  # others kept
    assert params.read_text().startswith(before.splitlines()[0])  # the header comment survives


def test_a_pretrained_base_is_recorded_and_loaded(tmp_path, tiny_model_dir):
    out = tmp_path / "base"
    models.save_pointer(tiny_model_dir, str(out))
    assert models.resolve(str(out)) == tiny_model_dir
    model, tokenizer = models.load_model(str(out))
    reference, _ = models.load_model(tiny_model_dir)
    assert all((a == b).all() for a, b in zip(model.parameters(), reference.parameters()))
    assert models.resolve(tiny_model_dir) == tiny_model_dir  # a model folder stands for itself


def test_arms_read_their_rows_of_hub_data():
    row = dict(id="", task="math500", group="math", answer="1", target="", teacher_nothink="", meta="{}")
    train = Dataset.from_list([dict(row, id=f"s{i}", benchmark=schema.SFT_SET, prompt=f"s{i}", teacher_think=f"t{i}")
                               for i in range(3)] +
                              [dict(row, id=f"r{i}", benchmark=schema.RL_SET, prompt=f"r{i}", teacher_think="")
                               for i in range(4)])
    assert sorted(arms.math_split(train, 0, "sft-think")["id"]) == ["s0", "s1", "s2"]
    assert len(arms.math_split(train, 0, "sft-nothink")) == 0  # no trace of that style in this set
    assert sorted(arms.math_split(train, 0, "grpo")["id"]) == ["r0", "r1", "r2", "r3"]
    assert sorted(arms.math_split(train, 0, "rft")["id"]) == ["r0", "r1", "r2", "r3"]


def test_gpu_check_runs_the_profile_settings_on_cpu(tmp_path):
    out = subprocess.run([sys.executable, "benchmarks/gpu_check.py", "--tiny", "--steps", "1", "--arms", "sft",
                          "--json", str(tmp_path / "r.json")], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    result = yaml.safe_load(open(tmp_path / "r.json"))[0]
    assert result["arm"] == "sft" and result["seconds_per_step"] > 0


def test_training_entry_point_runs_without_the_notebook(tmp_path, tiny_data, tiny_model_dir, monkeypatch, capsys):
    """`python -m mathtransfer.arms ARM SEED` (what `accelerate launch -m` starts) trains and saves."""

    shutil.copytree(tiny_model_dir, tmp_path / "models" / "base")
    storage.save_dataset(tiny_data, str(tmp_path / "data" / "tiny"))
    params = {"data": {"out_dir": "data/tiny"}, "base": {"out_dir": "models/base"},
              "train": {"sft_steps": 1, "sft_batch_size": 2, "save_steps": 1}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    assert arms.main(["sft-wrong", "0"]) == 2 and "usage:" in capsys.readouterr().err
    assert arms.main(["sft-think", "0", "params.yaml"]) == 0
    assert (tmp_path / "models" / "arms" / "sft-think-seed0" / "model.safetensors").is_file()
    assert '"steps_trained": 1' in capsys.readouterr().out


def test_a_hub_id_loads_offline_from_a_local_snapshot(tmp_path, tiny_model_dir):
    """HF_HUB_OFFLINE=1 and a snapshot in the Hub cache: `base.model: Org/Name` loads with no network."""
    revision = "0" * 40
    snapshot = tmp_path / "hub" / "models--TinyOrg--tiny-qwen3" / "snapshots" / revision
    shutil.copytree(tiny_model_dir, snapshot)
    (tmp_path / "hub" / "models--TinyOrg--tiny-qwen3" / "refs").mkdir()
    (tmp_path / "hub" / "models--TinyOrg--tiny-qwen3" / "refs" / "main").write_text(revision)
    code = ("from mathtransfer import models; models.save_pointer('TinyOrg/tiny-qwen3', 'base'); "
            "m, t = models.load_model('base'); print(type(m).__name__, len(t))")
    env = dict(os.environ, HF_HUB_CACHE=str(tmp_path / "hub"), HF_HUB_OFFLINE="1")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[0] == "Qwen3ForCausalLM"

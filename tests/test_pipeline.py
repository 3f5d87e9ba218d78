"""End to end: `dvc repro` of the smoke profile in a temporary copy of the repository.

The tests share one copy and run in file order: the full run (and a no-op rerun), then a bad
param. (kill -9 and resume: test_resume.py, on its own copy, so that the two run in parallel.)"""
import json
import os

import pandas as pd
import pytest
import yaml
from conftest import run as _run
from conftest import smoke_repo

from mathtransfer.tasks import TASKS


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return smoke_repo(tmp_path_factory.mktemp("repo"))


def test_smoke_profile_end_to_end_and_no_op_rerun(repo):
    first = _run(["dvc", "repro"], repo)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    for out in ("reports/00_data.ipynb", "reports/01_base.ipynb", "reports/results/data_summary.csv",
                "reports/results/pretrain_loss.csv", "reports/metrics/base.json", "reports/results/base_speed.json",
                "data/miniworld/dataset_dict.json", "models/base/model.safetensors",
                "models/base/tokenizer.json", "reports/figures/base_accuracy.png"):
        assert (repo / out).is_file(), out
    acc = pd.read_csv(repo / "reports/results/accuracy.csv")
    assert sorted(set(acc.task)) == sorted(TASKS)
    assert set(acc.columns) >= {"model", "method", "seed", "task", "group", "accuracy", "ci_low", "ci_high", "n"}
    assert acc.accuracy.between(0, 1).all() and (acc.n == 4).all()
    assert ((acc.ci_low <= acc.accuracy) & (acc.accuracy <= acc.ci_high)).all()
    assert sorted(set(acc.model)) == sorted(["base", "sft-think-seed0", "sft-nothink-seed0", "rft-seed0", "grpo-seed0"])
    records = pd.read_csv(repo / "reports/results/records.csv.gz")
    assert len(records) == 5 * 12 * 4 and records.score.between(0, 1).all()
    transfer = pd.read_csv(repo / "reports/results/transfer.csv")
    assert {"TI_other", "TI_non", "TI_other_low", "TI_non_high"} <= set(transfer.columns)
    assert len(pd.read_csv(repo / "reports/results/zoo_ti.csv")) == 18
    for notebook in ("04_evaluate", "05_transfer", "06_latent", "07_tokens"):
        assert (repo / f"reports/{notebook}.ipynb").is_file()
    metrics = json.load(open(repo / "reports/metrics/base.json"))
    assert set(metrics["greedy"]) == {"math", "other", "non"}
    executed = json.load(open(repo / "reports/01_base.ipynb"))
    assert any(c.get("outputs") for c in executed["cells"] if c["cell_type"] == "code")

    runs = [f"{arm}-seed0" for arm in ("sft-think", "sft-nothink", "rft", "grpo")]
    for run in runs:
        assert (repo / "models/arms" / run / "model.safetensors").is_file(), run
        assert (repo / "reports/train" / f"{run}.ipynb").is_file(), run
        curve = pd.read_csv(repo / f"reports/results/train/{run}_curve.csv")
        assert curve.loss.notna().all() and curve.grad_norm.notna().all()
        ckpt = pd.read_csv(repo / f"reports/results/train/{run}_checkpoints.csv")
        assert ckpt.step.min() == 0 and ckpt.step.max() == curve.step.max() and len(set(ckpt.task)) == 12
    assert pd.read_csv(repo / "reports/results/train/grpo-seed0_curve.csv").reward.between(0, 1).all()
    indicators = pd.read_csv(repo / "reports/results/grad_norm_indicators.csv")
    assert sorted(indicators.arm) == sorted(["sft-think", "sft-nothink", "rft", "grpo"])
    assert set(json.load(open(repo / "reports/metrics/training.json"))) == {"sft-think", "sft-nothink", "rft", "grpo"}
    assert (repo / "reports/figures/matched_gain.png").is_file()
    latent = pd.read_csv(repo / "reports/results/latent.csv")
    assert len(latent) == 4 * 12 * 2 and (latent.d >= 0).all() and set(latent.pooling) == {"paper", "mask"}
    shift = pd.read_csv(repo / "reports/results/tokens.csv")
    assert len(shift) == 4 * 12 and (shift.kl_exact >= 0).all() and shift.share_changed.between(0, 1).all()
    assert set(json.load(open(repo / "reports/metrics/tokens.json"))) == {"sft-think", "sft-nothink", "rft", "grpo"}

    second = _run(["dvc", "repro"], repo)
    assert second.returncode == 0
    assert "up to date" in second.stdout and "Running stage" not in second.stdout, second.stdout


def test_a_bad_param_stops_a_stage_with_one_line_and_touches_nothing(repo):
    executed = json.load(open(repo / "reports/01_base.ipynb"))

    # A bad value stops the stage with one line, before the notebook or the model is touched.
    params = yaml.safe_load(open(repo / "params.yaml"))
    params["base"]["n_layers"] = "two"
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    model_before = (repo / "models/base/model.safetensors").stat().st_mtime
    bad = _run(["dvc", "repro", "base"], repo)
    assert bad.returncode != 0
    assert "params.yaml: base.n_layers: expected an integer >= 1, got 'two'" in bad.stdout + bad.stderr
    assert not (repo / "reports/01_base.ipynb").exists() or \
        json.load(open(repo / "reports/01_base.ipynb")) == executed  # no half-executed notebook
    assert not list(repo.glob("models/.tmp-*")) and not list(repo.glob("data/.tmp-*"))
    if (repo / "models/base/model.safetensors").exists():
        assert (repo / "models/base/model.safetensors").stat().st_mtime == model_before

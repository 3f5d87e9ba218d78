"""End to end: `dvc repro` of the smoke profile in a temporary copy of the repository.

The tests share one copy and run in file order: the full run (and a no-op rerun), kill -9 of a
training stage and its resume, then a bad param."""
import json
import os
import shutil
import signal
import subprocess
import time

import pandas as pd
import pytest
import torch
import yaml
from conftest import run as _run
from conftest import run_env, smoke_repo
from safetensors.torch import load_file

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


def test_a_training_stage_killed_mid_run_resumes_to_the_same_model(repo):
    stage = "sft@sft-think-0"
    model = repo / "models/arms/sft-think-seed0"
    ckpt = repo / "models/checkpoints/sft-think-seed0"
    uninterrupted = load_file(model / "model.safetensors")
    shutil.rmtree(ckpt)  # start from scratch, as a first run would
    proc = subprocess.Popen(["dvc", "repro", "-f", "-s", stage], cwd=repo, env=run_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    first = ckpt / "checkpoint-2" / "trainer_state.json"  # written last: checkpoint-2 is complete
    deadline = time.time() + 600
    while not (first.exists() and first.stat().st_size > 0) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # dvc, papermill and the kernel together
    proc.wait()
    assert first.exists(), "the stage ended before its first checkpoint"
    assert not (model / "model.safetensors").exists(), "the kill came after the run had finished"

    status = _run(["dvc", "status", stage], repo)
    assert "changed" in status.stdout or "deleted" in status.stdout, status.stdout  # not taken as done
    again = _run(["dvc", "repro", stage], repo)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert f"Running stage '{stage}'" in again.stdout and "Running stage 'base'" not in again.stdout
    assert json.load(open(repo / "reports/results/train/sft-think-seed0_run.json"))["resumed_from_step"] >= 2
    resumed = load_file(model / "model.safetensors")
    assert all(torch.allclose(uninterrupted[k], resumed[k], atol=1e-6) for k in uninterrupted)


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

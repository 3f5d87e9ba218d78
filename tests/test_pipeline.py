"""End to end: `dvc repro` of the smoke profile in a temporary copy of the repository.

The tests share one copy and run in file order: full run, kill -9 and resume, bad param."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch
import yaml
from safetensors.torch import load_file

from mathtransfer.config import merge_profile
from mathtransfer.tasks import TASKS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env():
    return dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])


def _run(cmd, cwd):
    return subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """The repository's files (tracked or not ignored) in a fresh git repo, on the smoke profile."""
    dest = tmp_path_factory.mktemp("repo")
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split("\n")
    for rel in filter(None, files):
        if rel.startswith(("reports/", "data/", "models/")) or not os.path.isfile(os.path.join(ROOT, rel)):
            continue
        os.makedirs(dest / os.path.dirname(rel), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, rel), dest / rel)
    (dest / "dvc.lock").unlink(missing_ok=True)
    params = yaml.safe_load(open(dest / "params.yaml"))
    smoke = yaml.safe_load(open(dest / "profiles" / "smoke.yaml"))
    (dest / "params.yaml").write_text(yaml.safe_dump(merge_profile(params, smoke), sort_keys=False))
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    return dest


def test_smoke_profile_end_to_end_and_no_op_rerun(repo):
    first = _run(["dvc", "repro"], repo)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    for out in ("reports/00_data.ipynb", "reports/01_base.ipynb", "reports/results/data_summary.csv",
                "reports/results/pretrain_loss.csv", "reports/metrics/base.json", "reports/results/base_speed.json",
                "data/miniworld/dataset_dict.json", "models/base/model.safetensors",
                "models/base/tokenizer.json", "reports/figures/base_accuracy.png"):
        assert (repo / out).is_file(), out
    acc = pd.read_csv(repo / "reports/results/accuracy.csv")
    assert sorted(acc.task) == sorted(TASKS)
    assert set(acc.columns) >= {"model", "method", "seed", "task", "group", "accuracy", "n"}
    assert acc.accuracy.between(0, 1).all() and (acc.n == 4).all()
    metrics = json.load(open(repo / "reports/metrics/base.json"))
    assert set(metrics["greedy"]) == {"math", "other", "non"}
    executed = json.load(open(repo / "reports/01_base.ipynb"))
    assert any(c.get("outputs") for c in executed["cells"] if c["cell_type"] == "code")

    runs = [f"{arm}-seed0" for arm in ("sft-think", "sft-nothink", "rft", "grpo")]
    for run in runs:
        assert (repo / "models" / run / "model.safetensors").is_file(), run
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

    second = _run(["dvc", "repro"], repo)
    assert second.returncode == 0
    assert "up to date" in second.stdout and "Running stage" not in second.stdout, second.stdout


def test_a_training_stage_killed_mid_run_resumes_to_the_same_model(repo):
    run = repo / "models/sft-think-seed0"
    ckpt = repo / "models/sft-think-seed0-checkpoints"
    uninterrupted = load_file(run / "model.safetensors")
    shutil.rmtree(ckpt)  # start from scratch, as a first run would
    proc = subprocess.Popen(["dvc", "repro", "-f", "-s", "sft@sft-think-0"], cwd=repo, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    first = ckpt / "checkpoint-2" / "trainer_state.json"  # written last: checkpoint-2 is complete
    deadline = time.time() + 600
    while not (first.exists() and first.stat().st_size > 0) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # dvc, papermill and the kernel together
    proc.wait()
    assert first.exists(), "the stage ended before its first checkpoint"
    assert not (run / "model.safetensors").exists(), "the kill came after the run had finished"

    status = _run(["dvc", "status", "sft@sft-think-0"], repo)
    assert "changed" in status.stdout or "deleted" in status.stdout, status.stdout  # not taken as done
    again = _run(["dvc", "repro"], repo)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "Running stage 'sft@sft-think-0'" in again.stdout
    assert "Running stage 'grpo@0'" not in again.stdout
    assert json.load(open(repo / "reports/results/train/sft-think-seed0_run.json"))["resumed_from_step"] >= 2
    resumed = load_file(run / "model.safetensors")
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

"""End to end: `dvc repro` of the smoke profile in ONE temporary copy of the repository.

The tests share the copy and run in file order: the full run and a no-op rerun; a rerun of a
stage that computes the same numbers changes no file; a training stage killed with kill -9
resumes to the same model; last, a bad value in any params section leaves every committed report
file byte-identical. (A stage that fails in a cell: tests/test_stage.py, without DVC.)"""
import filecmp
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pandas as pd
import psutil
import pytest
import torch
import yaml
from conftest import ROOT, run_env, smoke_repo
from conftest import run as _run
from safetensors.torch import load_file

from mathtransfer.registry import TASKS
from mathtransfer.dynamics import MAIN_ARMS
from mathtransfer.schema import ARMS
from mathtransfer.report import broken_links
from mathtransfer.stage import backup_dir

GIT = ["git", "-c", "user.email=test@example.org", "-c", "user.name=test"]


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return smoke_repo(tmp_path_factory.mktemp("repo"))


def _ok(result):
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def _changed(repo):
    """Files git sees as changed or new since the last commit of the copy."""
    return _run(["git", "status", "--porcelain"], repo).stdout.splitlines()


def test_smoke_profile_end_to_end_and_no_op_rerun(repo):
    # make repro's runner: independent stages two at a time; `dvc repro` afterwards finds nothing to do
    first = _ok(_run([sys.executable, "-m", "mathtransfer.repro", "--jobs", "2"], repo))
    assert "stages up to date" in first.stdout and "grpo@0: ran" in first.stdout, first.stdout
    assert not (repo / ".stage-backup").exists()  # every stage's backup dropped
    for out in ("reports/00_data.ipynb", "reports/01_base.ipynb", "reports/01_base_eval.ipynb",
                "reports/results/data_summary.csv", "reports/results/pretrain_loss.csv", "reports/metrics/base.json",
                "data/miniworld/dataset_dict.json", "models/base/model.safetensors", "reports/timings/base.json",
                "models/base/tokenizer.json", "reports/figures/base_accuracy.png"):
        assert (repo / out).is_file(), out
    acc = pd.read_csv(repo / "reports/results/accuracy.csv")
    assert sorted(set(acc.task)) == sorted(TASKS)
    assert set(acc.columns) >= {"model", "method", "seed", "task", "group", "accuracy", "ci_low", "ci_high", "n"}
    assert acc.accuracy.between(0, 1).all() and (acc.n == 4).all()
    assert ((acc.ci_low <= acc.accuracy) & (acc.accuracy <= acc.ci_high)).all()
    assert sorted(set(acc.model)) == sorted(["base"] + [f"{arm}-seed0" for arm in ARMS])
    records = pd.read_csv(repo / "reports/results/records.csv.gz")
    assert len(records) == (1 + len(ARMS)) * 12 * 4 and records.score.between(0, 1).all()
    transfer = pd.read_csv(repo / "reports/results/transfer.csv")
    assert {"TI_other", "TI_non", "TI_other_low", "TI_non_high"} <= set(transfer.columns)
    assert len(pd.read_csv(repo / "reports/results/zoo_ti.csv")) == 18
    metrics = json.load(open(repo / "reports/metrics/base.json"))
    assert set(metrics["greedy"]) == {"math", "other", "non"}
    executed = json.load(open(repo / "reports/01_base_eval.ipynb"))
    outputs = [o for c in executed["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # figures are shown, not only saved
    assert "start_time" not in executed["metadata"]["papermill"]  # nothing that changes run to run

    runs = [f"{arm}-seed0" for arm in ARMS]
    for run in runs:
        weights = "adapter_model.safetensors" if ARMS[run.rsplit("-seed", 1)[0]].lora else "model.safetensors"
        assert (repo / "models/arms" / run / weights).is_file(), run
        assert (repo / "reports/train" / f"{run}.ipynb").is_file(), run
        curve = pd.read_csv(repo / f"reports/results/train/{run}_curve.csv")
        assert curve.loss.notna().all() and curve.grad_norm.notna().all()
        ckpt = pd.read_csv(repo / f"reports/results/train/{run}_checkpoints.csv")
        assert ckpt.step.min() == 0 and ckpt.step.max() == curve.step.max() and len(set(ckpt.task)) == 12
        assert "seconds" not in json.dumps(json.load(open(repo / f"reports/results/train/{run}_run.json")))
        assert json.load(open(repo / f"reports/timings/train/{run}.json"))["resumed_from_step"] == 0
    # rewards are logged on the steps that generate (a rollout batch serves train.rl_steps_per_rollout steps)
    rewards = pd.read_csv(repo / "reports/results/train/grpo-seed0_curve.csv").reward
    assert rewards.notna().sum() == 2 and rewards.dropna().between(0, 1).all()
    bases = pd.read_csv(repo / "reports/results/world_check_bases.csv")  # the world's own checks
    assert len(bases) == 2 * 12 and set(bases.base_seed) == {0, 1} and (repo / "models/world_check/base-seed1").is_dir()
    channel = pd.read_csv(repo / "reports/results/channel_check.csv")
    assert list(channel.task) == ["code_trace"] and channel.trained.between(0, 1).all()
    split = pd.read_csv(repo / "reports/results/step_split.csv")
    assert set(split.split) == {"shared step", "control"} and set(split.seed) == {0, -1}
    indicators = pd.read_csv(repo / "reports/results/grad_norm_indicators.csv")
    assert sorted(indicators.arm) == sorted(ARMS)
    assert set(json.load(open(repo / "reports/metrics/training.json"))) == set(ARMS)
    latent = pd.read_csv(repo / "reports/results/latent.csv")
    assert len(latent) == len(ARMS) * 12 * 2 and (latent.d >= 0).all() and set(latent.pooling) == {"paper", "mask"}
    shift = pd.read_csv(repo / "reports/results/tokens.csv")
    assert len(shift) == len(ARMS) * 12 and (shift.kl_exact >= 0).all() and shift.share_changed.between(0, 1).all()
    assert set(json.load(open(repo / "reports/metrics/tokens.json"))) == set(ARMS)
    # issue 14: strict and lenient scores, the TI's readings, the equal-tokens view
    assert {"score", "lenient"} <= set(records.columns) and "accuracy_lenient" in acc.columns
    assert {"change_other", "TI_fixed_non_high", "TI_v1_other_low"} <= set(transfer.columns)
    assert len(pd.read_csv(repo / "reports/results/ti_one_item.csv")) == len(ARMS) * 2
    assert len(pd.read_csv(repo / "reports/results/format_content.csv")) == len(ARMS) * 3
    assert set(pd.read_csv(repo / "reports/results/matched_tokens.csv").arm) == set(MAIN_ARMS)
    # notebook 08: what predicts forgetting
    fits = pd.read_csv(repo / "reports/results/forgetting_fits.csv")
    assert set(fits.predictor) == {"kl", "kl_tokens", "param_distance"} and len(fits) == 6
    sparsity = pd.read_csv(repo / "reports/results/update_sparsity.csv")
    assert sparsity.changed.between(0, 1).all() and "all" in set(sparsity.kind)
    assert len(pd.read_csv(repo / "reports/results/transitions.csv")) == len(ARMS) * 12
    assert list(pd.read_csv(repo / "reports/results/ablation.csv").arm) == list(ARMS)
    traces = pd.read_csv(repo / "reports/results/math_traces.csv")
    assert list(traces.arm) == ["base", *ARMS] and traces[["right", "full_steps"]].stack().between(0, 1).all()

    # the HTML report: every executed notebook rendered and linked, every link and image resolves
    index = repo / "reports/index.html"
    pages = sorted(p.relative_to(repo / "reports") for p in (repo / "reports").rglob("*.ipynb"))
    assert len(pages) == 10 + len(ARMS)  # 00, 01 (three), 03-08, and every arm's run of seed 0
    text = index.read_text()
    for page in pages:
        assert f'href="html/{page.with_suffix(".html")}"' in text, page
        assert broken_links(str(repo / "reports/html" / page.with_suffix(".html"))) == []
    assert broken_links(str(index)) == []

    second = _ok(_run(["dvc", "repro"], repo))
    assert "up to date" in second.stdout and "Running stage" not in second.stdout, second.stdout
    _ok(_run(["git", "add", "-A"], repo))
    _ok(_run(GIT + ["commit", "-q", "-m", "first run"], repo))
    assert _changed(repo) == []
    assert not (repo / "reports/timings").exists() or "reports/timings" in (repo / ".gitignore").read_text()


def test_a_rerun_that_computes_the_same_numbers_changes_no_file(repo):
    for stage in ("training", "report"):  # a notebook stage and the HTML report
        _ok(_run(["dvc", "repro", "-f", "-s", stage], repo))
    assert _changed(repo) == []  # executed notebooks included: no timestamps, ids or durations


def test_a_training_stage_killed_mid_run_resumes_to_the_same_model(repo):
    stage = "sft@sft-think-0"
    model = repo / "models/arms/sft-think-seed0"
    ckpt = repo / "models/checkpoints/sft-think-seed0"
    uninterrupted = load_file(model / "model.safetensors")
    shutil.rmtree(ckpt)  # start from scratch, as a first run would
    shutil.rmtree(model)
    proc = subprocess.Popen(["dvc", "repro", "-f", "-s", stage], cwd=repo, env=run_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    first = ckpt / "checkpoint-2" / "trainer_state.json"  # written last: checkpoint-2 is complete
    deadline = time.time() + 600
    while not (first.exists() and first.stat().st_size > 0) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    # dvc, papermill and the kernel together (jupyter starts the kernel in a session of its own)
    family = psutil.Process(proc.pid).children(recursive=True)
    os.killpg(proc.pid, signal.SIGKILL)
    for child in family:
        child.kill() if child.is_running() else None
    proc.wait()
    psutil.wait_procs(family, timeout=10)
    assert first.exists(), "the stage ended before its first checkpoint"
    assert not (model / "model.safetensors").exists(), "the kill came after the run had finished"
    assert (repo / backup_dir(stage) / "manifest.json").is_file()  # the runner's backup of the stage's reports survived

    again = _ok(_run(["dvc", "repro", "-s", stage], repo))  # not -f: the killed run is not taken as done
    assert f"Running stage '{stage}'" in again.stdout
    assert json.load(open(repo / "reports/timings/train/sft-think-seed0.json"))["resumed_from_step"] >= 2
    resumed = load_file(model / "model.safetensors")
    assert all(torch.allclose(uninterrupted[k], resumed[k], atol=1e-6) for k in uninterrupted)
    assert not (repo / ".stage-backup").exists()


# (stage, section, key, bad value, the start of its one-line error)
BAD = [("data", "data", "n_train", -1, "data.n_train: expected an integer >= 1"),
       ("base", "base", "n_layers", "two", "base.n_layers: expected an integer >= 1, got 'two'"),
       ("base_eval", "evaluation", "batch_size", 0, "evaluation.batch_size: expected an integer >= 1"),
       ("world_check", "world_check", "channel_task", "kb_chain", "world_check.channel_task: expected a non-math task"),
       ("sft@sft-think-0", "train", "sft_lr", "fast", "train.sft_lr: expected a number"),
       ("training", "train", "indicator_steps", -1, "train.indicator_steps: expected an integer"),
       ("latent", "latent", "max_tokens", -3, "latent.max_tokens:"),
       ("tokens", "tokens", "top_p", 2, "tokens.top_p:")]


def test_a_bad_param_in_any_section_leaves_every_committed_report_byte_identical(repo):
    shutil.rmtree(repo / "reports")
    shutil.copytree(os.path.join(ROOT, "reports"), repo / "reports")  # the real committed reports
    tracked = _run(["git", "ls-files", "reports"], ROOT).stdout.split()
    good = (repo / "params.yaml").read_text()
    kept = {p: p.stat().st_mtime_ns for p in [*repo.glob("models/**/*.safetensors"), *repo.glob("data/miniworld/**/*.arrow")]}
    for stage, section, key, value, message in BAD:
        params = yaml.safe_load(good)
        params[section][key] = value
        (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        bad = _run(["dvc", "repro", "-s", stage], repo)
        assert bad.returncode != 0, section
        assert message in bad.stdout + bad.stderr, (section, bad.stdout[-2000:] + bad.stderr[-2000:])
        changed = [f for f in tracked if not filecmp.cmp(os.path.join(ROOT, f), repo / f, shallow=False)]
        assert changed == [], (section, changed)
        assert not list(repo.glob("models/.tmp-*")) and not list(repo.glob("data/.tmp-*"))
        # data and models are outputs too: kept as they were (persist), not deleted by DVC
        assert {p: p.stat().st_mtime_ns for p in kept} == kept and all(p.exists() for p in kept)
    (repo / "params.yaml").write_text(good)

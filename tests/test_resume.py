"""kill -9 of a training stage during `dvc repro`, then `dvc repro`: it resumes from its newest
complete checkpoint and ends with the same model. On its own copy of the repository (smoke
profile), so that it runs beside the end-to-end test."""
import json
import os
import shutil
import signal
import subprocess
import time

import pytest
import torch
from conftest import run as _run
from conftest import run_env, smoke_repo
from safetensors.torch import load_file


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A smoke copy with its data and an (untrained) tiny base written directly, and one
    uninterrupted run of the stage: `-s` runs that stage alone, so no pretraining is spent here."""
    import yaml

    from mathtransfer import config, data, models

    path = smoke_repo(tmp_path_factory.mktemp("resume"))
    params = yaml.safe_load(open(path / "params.yaml"))
    dcfg = config.parse(config.DataConfig, params["data"], "data")
    bcfg = config.parse(config.BaseConfig, params["base"], "base")
    dataset = data.build(dcfg, params["seed"])
    data.save(dataset, str(path / dcfg.out_dir))
    texts = [t for c in ("prompt", "target", "teacher_think", "teacher_nothink") for t in dataset["train"][c] if t]
    tokenizer = models.train_tokenizer(texts, bcfg.vocab_size)
    models.build_tiny_qwen3(bcfg, tokenizer, params["seed"]).save_pretrained(path / bcfg.out_dir)
    tokenizer.save_pretrained(path / bcfg.out_dir)
    done = _run(["dvc", "repro", "-s", "sft@sft-think-0"], path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return path


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
    again = _run(["dvc", "repro", "-s", stage], repo)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert f"Running stage '{stage}'" in again.stdout
    assert json.load(open(repo / "reports/results/train/sft-think-seed0_run.json"))["resumed_from_step"] >= 2
    resumed = load_file(model / "model.safetensors")
    assert all(torch.allclose(uninterrupted[k], resumed[k], atol=1e-6) for k in uninterrupted)

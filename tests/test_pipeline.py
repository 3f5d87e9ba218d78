"""End to end: `dvc repro` of the smoke profile in a temporary copy of the repository."""
import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from mathtransfer.config import merge_profile
from mathtransfer.tasks import TASKS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(cmd, cwd):
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


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


def test_smoke_profile_end_to_end_no_op_rerun_and_bad_param(repo):
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

    second = _run(["dvc", "repro"], repo)
    assert second.returncode == 0
    assert "up to date" in second.stdout and "Running stage" not in second.stdout, second.stdout

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

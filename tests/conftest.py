"""Shared fixtures: tiny sizes only, so the suite stays within minutes on 2 cores."""
import os
import warnings

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach a hub
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
warnings.filterwarnings("ignore")

# `make test` runs two pytest workers on a 2-core machine: one thread each (oversubscribed torch
# threads run several times slower)
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_data():
    from mathtransfer import data
    from mathtransfer.config import DataConfig

    return data.build(DataConfig(n_train=30, n_test=6), seed=3)


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_data):
    from mathtransfer import models

    train = tiny_data["train"]
    texts = [t for c in ("prompt", "target", "teacher_think", "teacher_nothink") for t in train[c] if t]
    return models.train_tokenizer(texts, 320)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_tokenizer):
    """A saved, randomly initialised tiny Qwen3 with its tokenizer."""
    from mathtransfer import models
    from mathtransfer.config import BaseConfig

    cfg = BaseConfig(hidden_size=32, n_layers=1, n_heads=2, n_kv_heads=1, intermediate_size=64, max_length=160)
    model = models.build_tiny_qwen3(cfg, tiny_tokenizer, seed=0)
    path = tmp_path_factory.mktemp("tiny") / "model"
    model.save_pretrained(path)
    tiny_tokenizer.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def qlora_model_dir(tmp_path_factory, tiny_tokenizer):
    """The narrowest shape bitsandbytes' 4-bit CPU kernels take (inputs multiples of 64, outputs
    of 32): hidden 64, MLP 128, 2 heads of 32, 1 key/value head. tiny_model_dir (32 wide) is too
    narrow for them."""
    from mathtransfer import models
    from mathtransfer.config import BaseConfig

    cfg = BaseConfig(hidden_size=64, n_layers=1, n_heads=2, n_kv_heads=1, intermediate_size=128)
    model = models.build_tiny_qwen3(cfg, tiny_tokenizer, seed=0)
    path = tmp_path_factory.mktemp("qlora") / "model"
    model.save_pretrained(path)
    tiny_tokenizer.save_pretrained(path)
    return str(path)


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_env():
    """The environment of a subprocess: this interpreter's bin folder first (dvc, papermill)."""
    import sys

    return dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])


def run(cmd, cwd):
    import subprocess

    return subprocess.run(cmd, cwd=cwd, env=run_env(), capture_output=True, text=True, timeout=900)


def smoke_repo(dest):
    """The repository's files (tracked or not ignored; no generated data, models or reports; the
    committed sweep scores kept) in a
    fresh git repo at dest, with params.yaml on the smoke profile."""
    import shutil
    import subprocess

    import yaml

    from mathtransfer.config import merge_profile

    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split("\n")
    for rel in filter(None, files):
        # reports/sweep/ is an input (the learning-rate sweep's scores, read by notebook 03)
        generated = ((rel.startswith(("reports/", "models/")) and not rel.startswith("reports/sweep/"))
                     or (rel.startswith("data/") and not rel.startswith("data/paper/")))
        if generated or not os.path.isfile(os.path.join(ROOT, rel)):
            continue
        os.makedirs(dest / os.path.dirname(rel), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, rel), dest / rel)
    (dest / "dvc.lock").unlink(missing_ok=True)
    params = yaml.safe_load(open(dest / "params.yaml"))
    smoke = yaml.safe_load(open(dest / "profiles" / "smoke.yaml"))
    (dest / "params.yaml").write_text(yaml.safe_dump(merge_profile(params, smoke), sort_keys=False))
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    return dest


@pytest.fixture(scope="module")
def model_pair(tiny_model_dir):
    """(base, perturbed copy, tokenizer): the tiny model and a copy with every weight nudged by
    seeded noise, for the shift analyses (identical pair -> 0, perturbed -> > 0)."""
    from mathtransfer import models

    base, tokenizer = models.load_model(tiny_model_dir)
    perturbed, _ = models.load_model(tiny_model_dir)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in perturbed.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return base, perturbed, tokenizer


@pytest.fixture(scope="module")
def perturbed_dir(model_pair, tmp_path_factory):
    """model_pair's perturbed copy saved as a model folder (for analyses that load by path)."""
    _, perturbed, tokenizer = model_pair
    path = tmp_path_factory.mktemp("perturbed") / "model"
    perturbed.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)

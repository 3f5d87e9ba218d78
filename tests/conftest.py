"""Shared fixtures: tiny sizes only, so the suite stays within minutes on 2 cores."""
import os
import warnings

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach a hub
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
warnings.filterwarnings("ignore")


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

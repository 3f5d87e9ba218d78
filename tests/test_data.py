"""Mini-world generation: determinism, disjoint splits, correct teachers, the wrong-strategy share."""
import hashlib
import os

import pytest

from mathtransfer import data, storage
from mathtransfer.config import DataConfig
from mathtransfer.registry import TASKS
from mathtransfer.schema import COLUMNS
from mathtransfer.scorers import score


def _digest(folder):
    h = hashlib.sha256()
    for root, _, files in sorted(os.walk(folder)):
        for name in sorted(files):
            h.update(name.encode())
            h.update(open(os.path.join(root, name), "rb").read())
    return h.hexdigest()


def test_same_seed_same_bytes_on_disk(tmp_path):
    cfg = DataConfig(n_train=25, n_test=5)
    storage.save_dataset(data.build(cfg, 7), str(tmp_path / "a"))
    storage.save_dataset(data.build(cfg, 7), str(tmp_path / "b"))
    storage.save_dataset(data.build(cfg, 8), str(tmp_path / "c"))
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp-")]  # no half-written folders


def test_sizes_and_columns(tiny_data):
    assert tiny_data["train"].num_rows == 30 * len(TASKS)
    assert tiny_data["test"].num_rows == 6 * len(TASKS)
    assert tiny_data["train"].column_names == COLUMNS
    assert set(tiny_data["test"]["task"]) == set(TASKS)


def test_no_test_prompt_in_train_and_test_prompts_unique():
    dataset = data.build(DataConfig(n_train=400, n_test=100), seed=11)
    train, test = set(dataset["train"]["prompt"]), dataset["test"]["prompt"]
    assert not train & set(test)
    assert len(set(test)) == len(test)


def test_every_base_target_and_teacher_trace_is_scored_as_designed():
    cfg = DataConfig(n_train=300, n_test=5)
    rows = data.build(cfg, seed=1)["train"].to_list()
    for row in rows:
        if row["group"] == "math":
            assert score(row["task"], row["teacher_think"], row["answer"]) == 1.0
            assert score(row["task"], row["teacher_nothink"], row["answer"]) == 1.0
            assert "\\boxed{" in row["teacher_think"] and "Answer:" not in row["teacher_think"]
        else:
            assert not row["teacher_think"]
            assert score(row["task"], row["target"], row["answer"], row["meta"]) == 1.0
    for task, share in cfg.wrong_share.items():
        wrong = [1 - score(task, r["target"], r["answer"]) for r in rows if r["task"] == task]
        # 300 draws: 4 standard errors of a binomial share is about 0.12
        assert abs(sum(wrong) / len(wrong) - share) < 0.12, task


def test_wrong_strategy_stops_exactly_one_step_early():
    rows = data.build(DataConfig(n_train=200, n_test=5), seed=2)["train"].to_list()
    for row in (r for r in rows if r["group"] == "math"):
        teacher_steps = row["teacher_think"].count("Step ")
        base_steps = row["target"].count("=")
        assert base_steps in (teacher_steps, teacher_steps - 1)
        assert (base_steps == teacher_steps) == (score(row["task"], row["target"], row["answer"]) == 1.0)


def test_too_many_items_for_a_small_prompt_space_is_a_clear_error():
    with pytest.raises(ValueError, match=r"data.n_test: task \w+ yielded only \d+"):
        data.build(DataConfig(n_train=1, n_test=5000), seed=0)


def test_load_missing_folder_names_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="dvc repro data"):
        storage.load_dataset(str(tmp_path / "missing"))


def test_save_refuses_to_replace_a_folder_that_is_not_a_previous_output(tmp_path, tiny_data):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="refusing to replace it"):
        storage.save_dataset(tiny_data, str(precious))
    assert (precious / "notes.txt").read_text() == "keep me"
    storage.save_dataset(tiny_data, str(tmp_path / "out"))
    storage.save_dataset(tiny_data, str(tmp_path / "out"))  # a previous output is replaced
    assert storage.load_dataset(str(tmp_path / "out"))["test"].num_rows == tiny_data["test"].num_rows

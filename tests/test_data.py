"""Mini-world generation: determinism, disjoint splits, correct teachers, the wrong-strategy share."""
import hashlib
import json
import os
import re

import pytest

from mathtransfer import data, storage
from mathtransfer.config import DataConfig
from mathtransfer.registry import STEP_TASKS, TASKS
from mathtransfer.tasks import nonreasoning, reasoning
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
    assert set(cfg.wrong_share) == set(STEP_TASKS)
    for row in rows:
        if row["group"] == "math":
            assert score(row["task"], row["teacher_think"], row["answer"]) == 1.0
            assert score(row["task"], row["teacher_nothink"], row["answer"]) == 1.0
            assert "\\boxed{" in row["teacher_think"] and "Answer:" not in row["teacher_think"]
        else:
            assert not row["teacher_think"]
        if row["task"] not in STEP_TASKS:  # the controls: every base target is right
            assert score(row["task"], row["target"], row["answer"], row["meta"]) == 1.0, row
    for task, shares in cfg.wrong_share.items():
        for long, share in zip((False, True), shares):
            wrong = [score(task, r["target"], r["answer"], r["meta"]) < 1 for r in rows
                     if r["task"] == task and json.loads(r["meta"])["long"] == long]
            # about 150 draws: 4 standard errors of a binomial share is at most about 0.16
            assert abs(sum(wrong) / len(wrong) - share) < 0.16, (task, long)


def _steps_shown(row) -> int:
    """How many steps a base target carries out, in its task's own notation."""
    if row["task"] == "format":
        return len(_words(row))
    if row["task"] == "blocks":
        return row["target"].count(" off.")
    if row["task"] == "code_trace":  # "x=S." states the start, then one line per iteration
        return row["target"].count("=") - 1
    return row["target"].count("=")


def _words(row) -> list[str]:
    spec = json.loads(row["meta"])
    return [w for w in re.findall(r"[A-Za-z]+", row["target"]) if w.lower() == spec["word"]]


def test_the_wrong_strategy_stops_exactly_one_step_early_in_every_task_that_shares_it():
    rows = data.build(DataConfig(n_train=200, n_test=5), seed=2)["train"].to_list()
    for row in (r for r in rows if r["task"] in STEP_TASKS):
        right = score(row["task"], row["target"], row["answer"], row["meta"]) == 1.0
        meta = json.loads(row["meta"])
        needed = meta["n"] if row["task"] == "format" else meta["steps"]
        assert _steps_shown(row) == (needed if right else needed - 1), row
        if row["group"] == "math":
            assert row["teacher_think"].count("Step ") == needed


def test_controls_never_train_on_the_unseen_facts_and_test_asks_about_them():
    dataset = data.build(DataConfig(n_train=400, n_test=150), seed=3)
    unseen = {"kb_chain": reasoning.UNSEEN_PEOPLE, "med_kb": reasoning.UNSEEN_DISEASES,
              "duration": nonreasoning.UNSEEN_EVENTS}
    for split in ("train", "test"):
        rows = dataset[split].to_list()
        for task, names in unseen.items():
            asked = [any(name in r["prompt"] for name in names) for r in rows if r["task"] == task]
            if split == "train":
                assert not any(asked), task
            else:  # a third (duration: half) of each knowledge base: as much of the test items
                assert 0.2 < sum(asked) / len(asked) < 0.65, task


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

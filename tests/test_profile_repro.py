"""benchmarks/profile_repro.py: a run's recorded timings split into start-up, data, training,
generation, scoring and analysis."""
import importlib.util
import json
import os

from conftest import ROOT

spec = importlib.util.spec_from_file_location("profile_repro", os.path.join(ROOT, "benchmarks", "profile_repro.py"))
profile_repro = importlib.util.module_from_spec(spec)
spec.loader.exec_module(profile_repro)


def _write(path, facts):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        json.dump(facts, fh)


def test_a_training_stage_splits_into_start_up_set_up_sampling_loop_scoring_and_tables(tmp_path):
    timings = tmp_path / "timings"
    cells = [dict(seconds=0.1, first_line="# Parameters (papermill injects)"), dict(seconds=0.0, first_line="# Parameters"),
             dict(seconds=5.0, first_line="import json"),
             dict(seconds=80.0, first_line='curve, facts, timing = arms.run(arm, cfg, base["out_dir"], d'),
             dict(seconds=1.0, first_line='logged = [m for m in ("loss",'),
             dict(seconds=30.0, first_line='scores = arms.score_checkpoints(base["out_dir"], facts["out_'),
             dict(seconds=0.5, first_line="change = (by_group")]
    _write(timings / "stages/train/rft-seed0.json", dict(seconds=120.0, notebook="notebooks/02_train.ipynb", cells=cells))
    _write(timings / "train/rft-seed0.json", dict(train_seconds=40.0, sampling_seconds=35.0, run_seconds=79.0))
    _write(timings / "stages/00_data.json", dict(seconds=3.0, notebook="notebooks/00_data.ipynb",
                                                 cells=[dict(seconds=1.0, first_line="import warnings"),
                                                        dict(seconds=1.5, first_line="dataset = miniworld.build(cfg)")]))
    rows = profile_repro.stage_rows(str(timings)).set_index("stage")
    rft = rows.loc["train/rft-seed0"]
    assert rft["start-up"] == 120.0 - 116.6 + 5.1 and rft.training == 40.0 and rft.generation == 35.0
    assert rft.data == 5.0 and rft.scoring == 30.0 and rft.analysis == 1.5
    assert abs(rft[profile_repro.CATEGORIES].sum() - rft.seconds) < 1e-9  # every second accounted for once
    data = rows.loc["00_data"]
    assert data.data == 1.5 and abs(data["start-up"] - 1.5) < 1e-9


def test_a_record_without_cell_times_keeps_its_known_parts_and_the_rest_unsplit(tmp_path):
    timings = tmp_path / "timings"
    _write(timings / "stages/train/grpo-seed0.json", dict(seconds=200.0, notebook="notebooks/02_train.ipynb"))
    _write(timings / "train/grpo-seed0.json", dict(train_seconds=160.0, run_seconds=165.0))
    rft = profile_repro.stage_rows(str(timings)).iloc[0]
    assert rft.training == 160.0 and rft.unsplit == 40.0 and rft["start-up"] == 0.0
    text = profile_repro.report(str(timings), str(tmp_path / "results"))
    assert "| unsplit | 0.7 | 20% |" in text and "no repro.json" in text


def test_no_timings_is_one_line(tmp_path):
    assert profile_repro.report(str(tmp_path), str(tmp_path)).startswith("no stage timings in")

"""The stage runner: params checked before anything is touched, reports/ restored after a failure
or a kill, executed notebooks written without what changes from run to run."""
import json

import pytest

from mathtransfer import stage


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reports/results").mkdir(parents=True)
    (tmp_path / "reports/results/a.csv").write_text("x\n1\n")
    (tmp_path / "reports/01.ipynb").write_text("{}")
    return tmp_path


def _notebook(workdir):
    """nb.py (percent format) -> nb.ipynb with the python3 kernel, as the project's notebooks."""
    import jupytext

    nb = jupytext.read(workdir / "nb.py")
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    jupytext.write(nb, workdir / "nb.ipynb")


def _tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_restore_puts_back_changed_removed_and_drops_created_files(workdir):
    before = _tree(workdir / "reports")
    stage.snapshot()
    (workdir / "reports/results/a.csv").write_text("x\n2\n")  # changed
    (workdir / "reports/01.ipynb").unlink()  # removed
    (workdir / "reports/results/half.csv").write_text("x\n")  # created
    assert stage.restore() is True
    assert _tree(workdir / "reports") == before
    assert not (workdir / stage.BACKUP).exists()
    assert stage.restore() is False  # nothing left to restore


def test_a_snapshot_left_by_a_killed_run_is_rolled_back_first(workdir):
    stage.snapshot()
    (workdir / "reports/results/a.csv").write_text("half-written by a run that was killed\n")
    stage.snapshot()  # the next stage run: rolls back, then takes a fresh snapshot
    assert (workdir / "reports/results/a.csv").read_text() == "x\n1\n"
    assert json.load(open(workdir / stage.BACKUP / stage.MANIFEST))["files"] == ["01.ipynb", "results/a.csv"]


def test_a_backup_from_another_commit_is_dropped_not_applied(workdir, monkeypatch):
    stage.snapshot()
    (workdir / "reports/results/a.csv").write_text("x\n3\n")  # e.g. newer reports from a git checkout
    monkeypatch.setattr(stage, "_commit", lambda: "another-commit")
    assert stage.restore() is False
    assert (workdir / "reports/results/a.csv").read_text() == "x\n3\n" and not (workdir / stage.BACKUP).exists()


def test_an_incomplete_backup_is_ignored(workdir):
    (workdir / stage.BACKUP / "tree").mkdir(parents=True)  # killed while copying: no manifest
    assert stage.restore() is False and not (workdir / stage.BACKUP).exists()
    assert _tree(workdir / "reports")  # reports untouched


def test_a_bad_param_stops_before_anything_is_touched(workdir, capsys):
    (workdir / "params.yaml").write_text("seed: 0\nbase:\n  n_layers: two\n")
    before = _tree(workdir)
    code = stage.main(["notebooks/01_base.ipynb", "reports/01_base.ipynb", "base"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err == "params.yaml: base.n_layers: expected an integer >= 1, got 'two'"
    assert _tree(workdir) == before and not (workdir / stage.BACKUP).exists()


def test_an_unknown_p_name_is_one_line_not_a_silent_default(workdir, capsys):
    (workdir / "params.yaml").write_text("seed: 0\n")
    (workdir / "nb.py").write_text('# %% tags=["parameters"]\narm = "grpo"\nrun_seed = 0\n')
    _notebook(workdir)
    assert stage.main(["nb.ipynb", "reports/nb.ipynb", "-p", "arn", "sft-think"]) == 2
    assert capsys.readouterr().err.strip() == ("nb.ipynb: -p arn: not a parameter of the notebook; "
                                               "its parameters: arm, run_seed")
    assert not (workdir / "reports/nb.ipynb").exists()


def test_a_failing_cell_restores_reports_and_keeps_the_failed_notebook(workdir, capsys):
    (workdir / "params.yaml").write_text("seed: 0\n")
    (workdir / "nb.py").write_text('# %% tags=["parameters"]\nseed = 1\n\n# %%\n'
                                   'open("reports/results/a.csv", "w").write("half")\n'
                                   'open("reports/results/new.csv", "w").write("half")\nraise ValueError("boom")\n')
    _notebook(workdir)
    before = _tree(workdir / "reports")
    assert stage.main(["nb.ipynb", "reports/nb.ipynb"]) == 1
    assert "raised ValueError: boom" in capsys.readouterr().err
    assert _tree(workdir / "reports") == before
    assert (workdir / stage.FAILED / "nb.ipynb").is_file() and not (workdir / stage.BACKUP).exists()


def test_normalise_drops_timestamps_durations_and_random_ids():
    def executed(start, ident):
        return {"metadata": {"papermill": {"start_time": start, "end_time": start, "duration": 1.5,
                                           "parameters": {"seed": 0}, "environment_variables": {},
                                           "input_path": "in.ipynb", "output_path": "/tmp/x.ipynb"}},
                "cells": [{"id": ident, "cell_type": "code", "source": "1",
                           "metadata": {"papermill": {"duration": 0.1}, "execution": {"iopub.status.idle": start},
                                        "tags": ["injected-parameters"]}}]}

    one = stage.normalise(executed("2026-01-01", "a1b2"), "notebooks/x.ipynb", "reports/x.ipynb")
    two = stage.normalise(executed("2026-02-02", "ffee"), "notebooks/x.ipynb", "reports/x.ipynb")
    assert one == two
    assert one["metadata"]["papermill"] == {"parameters": {"seed": 0}, "input_path": "notebooks/x.ipynb",
                                            "output_path": "reports/x.ipynb"}
    assert one["cells"][0]["id"] == "cell-00" and one["cells"][0]["metadata"] == {"tags": ["injected-parameters"]}


def test_parameters_read_values_as_yaml(tmp_path):
    (tmp_path / "params.yaml").write_text("seed: 3\ntrain: {seeds: [0]}\n")
    values = stage.parameters(str(tmp_path / "params.yaml"), [("arm", "grpo"), ("run_seed", "2")])
    assert values == {"seed": 3, "train": {"seeds": [0]}, "arm": "grpo", "run_seed": 2}


def test_a_stage_restores_only_its_own_reports_so_stages_can_run_side_by_side(workdir):
    backup = stage.backup_dir("grpo@0")
    stage.snapshot(backup=backup, scope=["results/a.csv", "results/train"])
    (workdir / "reports/results/a.csv").write_text("half")  # this stage, interrupted
    (workdir / "reports/results/train").mkdir()
    (workdir / "reports/results/train/mine.csv").write_text("half")
    (workdir / "reports/01.ipynb").write_text('{"other": 1}')  # another stage, running beside it
    (workdir / "reports/results/other.csv").write_text("new")
    assert stage.restore(backup=backup) is True
    assert (workdir / "reports/results/a.csv").read_text() == "x\n1\n"
    assert not (workdir / "reports/results/train/mine.csv").exists()
    assert (workdir / "reports/01.ipynb").read_text() == '{"other": 1}'
    assert (workdir / "reports/results/other.csv").read_text() == "new"
    assert not (workdir / stage.BACKUP).exists()


def test_a_stage_owns_the_report_outputs_dvc_yaml_declares_for_it(monkeypatch):
    from conftest import ROOT

    monkeypatch.delenv("DVC_STAGE", raising=False)
    assert stage.own_reports() is None and stage.backup_dir() == ".stage-backup/_all"
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("DVC_STAGE", "grpo@0")
    assert stage.own_reports() == ["results/train/grpo-seed0_checkpoints.csv", "results/train/grpo-seed0_curve.csv",
                                   "results/train/grpo-seed0_run.json", "train/grpo-seed0.ipynb"]
    assert stage.backup_dir() == ".stage-backup/grpo_0"


def test_the_timing_record_keeps_each_code_cell_s_seconds_and_first_line():
    nb = {"cells": [{"cell_type": "markdown", "source": "# title"},
                    {"cell_type": "code", "source": "\nimport torch\nx = 1", "metadata": {"papermill": {"duration": 1.234}}},
                    {"cell_type": "code", "source": "", "metadata": {}}]}
    assert stage.cell_seconds(nb) == [dict(seconds=1.23, first_line="import torch"), dict(seconds=0.0, first_line="")]

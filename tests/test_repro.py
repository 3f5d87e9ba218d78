"""The pipeline runner (make repro): stages side by side in the order of their dependencies."""
import os
import sys
import threading
import time

from conftest import ROOT

from mathtransfer import repro


def _recorder(fail=()):
    events, lock, running = [], threading.Lock(), []

    def run(name):
        with lock:
            running.append(name)
            events.append(("start", name, len(running)))
        time.sleep(0.02)
        with lock:
            running.remove(name)
            events.append(("end", name))
        return name not in fail

    return run, events


def test_a_stage_starts_only_after_every_stage_it_needs_and_at_most_jobs_run_at_once():
    needs = {"data": [], "base": ["data"], "a": ["base"], "b": ["base"], "c": ["base"], "eval": ["a", "b", "c"]}
    run, events = _recorder()
    assert repro.schedule(needs, run, jobs=2) == []
    at = {(e[0], e[1]): i for i, e in enumerate(events)}
    for name, deps in needs.items():
        assert all(at[("end", dep)] < at[("start", name)] for dep in deps), name
    assert max(e[2] for e in events if e[0] == "start") == 2  # two training runs overlapped, never three


def test_a_failed_stage_stops_the_stages_after_it_and_the_others_finish():
    needs = {"data": [], "a": ["data"], "b": ["data"], "after_a": ["a"], "after_both": ["after_a", "b"]}
    run, events = _recorder(fail={"a"})
    failed = repro.schedule(needs, run, jobs=2)
    assert sorted(failed) == ["a", "after_a", "after_both"]
    started = {e[1] for e in events if e[0] == "start"}
    assert started == {"data", "a", "b"}


def test_the_graph_of_the_repository_s_pipeline_and_of_one_target(monkeypatch):
    monkeypatch.chdir(ROOT)
    needs = repro.stage_graph()
    one = repro.stage_graph(["grpo@0"])
    assert list(needs)[:2] == ["data", "base"] and needs["base"] == ["data"]
    assert set(needs["evaluate"]) >= {"grpo@0", "sft@sft-think-2"} and "report" in needs
    assert one == {"data": [], "base": ["data"], "grpo@0": ["data", "base"]}


def test_bad_arguments_are_one_line(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert repro.main(["--jobs", "0"]) == 2
    assert "--jobs: expected a whole number >= 1, got 0" in capsys.readouterr().err
    assert repro.main(["no-such-stage"]) == 2
    assert "stage no-such-stage: not in dvc.yaml; its stages: data, base" in capsys.readouterr().err


def test_only_changed_stages_and_the_stages_after_them_run():
    needs = {"data": [], "base": ["data"], "a": ["base"], "b": ["base"], "eval": ["a", "b"], "other": ["data"]}
    assert repro.to_run(needs, {"a"}) == {"a": [], "eval": ["a"]}
    assert repro.to_run(needs, {"base"}) == {"base": [], "a": ["base"], "b": ["base"], "eval": ["a", "b"]}
    assert repro.to_run(needs, set()) == {}


def test_a_stage_s_other_thread_pools_follow_threads_unless_the_user_set_them(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "3")
    env = repro.stage_env(1)
    assert env["OMP_NUM_THREADS"] == "1" and env["OPENBLAS_NUM_THREADS"] == "1" and env["MKL_NUM_THREADS"] == "3"
    assert env["PATH"].split(os.pathsep)[0] == os.path.dirname(sys.executable)  # the venv's python runs the stages

"""The two install routes agree: environment.yml pins exactly what requirements.lock pins."""
import re

import yaml


def _pins(lines):
    return {m.group(1).lower(): m.group(2) for m in (re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)$", l.strip()) for l in lines) if m}


def test_environment_yml_and_lock_pin_the_same_versions():
    lock = _pins(open("requirements.lock"))
    env = yaml.safe_load(open("environment.yml"))
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pins = _pins(pip_section)
    assert pins, "environment.yml pins nothing"
    assert {k: lock.get(k) for k in pins} == pins
    assert "python=3.11" in env["dependencies"]
    for core in ("torch", "transformers", "trl", "peft", "bitsandbytes", "datasets", "papermill", "dvc", "math-verify"):
        assert core in pins and core in lock
    assert lock["torch"] == "2.13.0"  # a bare or newer torch pulls a multi-GB CUDA build


def test_every_lock_line_is_an_exact_pin():
    lines = [l.strip() for l in open("requirements.lock") if l.strip() and not l.startswith("#")]
    assert all(re.match(r"^[A-Za-z0-9_.\-\[\]]+==[^\s;]+$", l) for l in lines), lines


def test_the_vllm_extra_is_pinned_inside_the_range_trl_supports():
    import tomllib
    from importlib.metadata import requires

    from packaging.requirements import Requirement

    extra = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["vllm"]
    pin = Requirement(extra[0])
    assert pin.name == "vllm" and len(pin.specifier) == 1 and next(iter(pin.specifier)).operator == "=="
    trl_wants = next(Requirement(r) for r in requires("trl") if r.startswith("vllm") and 'extra == "vllm"' in r)
    assert next(iter(pin.specifier)).version in trl_wants.specifier

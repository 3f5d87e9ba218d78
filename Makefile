# Two commands, each self-sufficient on a fresh machine with Python 3.11 and pip:
#   make repro   set up .venv if needed, then the pipeline: `dvc repro`, independent stages side by
#                side (mathtransfer.repro; JOBS=N stages at once, default cores // threads); the
#                mini-world by default; `make repro PROFILE=consumer-gpu` first lays
#                profiles/consumer-gpu.yaml over params.yaml)
#   make test    set up .venv if needed, then the test suite
#   make sweep   the arms' learning-rate sweep (how train.lr_by_arm and train.rl_lr were chosen)
PYTHON ?= python3.11
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
RUN := PATH="$(BIN):$$PATH"
TORCH_PIN := $(shell grep -E '^torch==' requirements.lock)

.PHONY: repro test sweep setup lock clean-venv

setup: $(STAMP)

# torch first: `pip install torch==2.13.0` takes the local CPU build here (a bare torch pulls CUDA).
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check "$(TORCH_PIN)"
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

# A profile is written into params.yaml (as `dvc exp run -S` would): `git diff params.yaml` shows
# it, `git checkout params.yaml` returns to the mini-world.
repro: $(STAMP)
ifdef PROFILE
	$(RUN) python -m mathtransfer.config params.yaml --apply=profiles/$(PROFILE).yaml
endif
	$(RUN) python -m mathtransfer.repro $(if $(JOBS),--jobs $(JOBS))

# The learning-rate sweep that chose the arms' rates (not part of repro; needs data and base):
# `make sweep` for every arm, `make sweep ARMS=grpo` for one. Writes reports/sweep/<arm>.csv.
sweep: $(STAMP)
	$(RUN) python -m mathtransfer.sweep $(ARMS)

# Two workers; each test file stays on one (the end-to-end file shares one repository copy).
test: $(STAMP)
	$(RUN) python -m pytest -n 2 --dist loadfile --durations=15

# Rewrite the lock from the current venv (after changing a pin on purpose).
lock: $(STAMP)
	$(BIN)/python -m pip freeze --all --exclude-editable --disable-pip-version-check | grep -v '^pip==' | sed -E 's/^torch==([0-9.]+)\+.*/torch==\1/' > requirements.lock

clean-venv:
	rm -rf $(VENV)

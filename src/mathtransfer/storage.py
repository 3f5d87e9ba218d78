"""Atomic folder outputs: write into a temporary sibling, then rename over the destination.

A stage's output folder is therefore either the previous complete output or the new complete
one, never half of either. An existing destination is only replaced when it holds a marker file
of the same kind of output (e.g. dataset_dict.json, config.json), so that a mistyped out_dir can
never delete an unrelated folder.
`save_dataset`/`load_dataset` write and read the data stage's DatasetDict (so that a stage that
only reads the data does not depend on how it is built); `write_timing` records a stage's wall
times where no committed file changes with them.
Left out: locking against two writers (DVC runs one stage at a time).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager

# Wall times and memory vary from run to run when the results do not: they are kept out of the
# committed reports (and out of DVC's outputs) so that a rerun with the same numbers changes no
# file. `benchmarks/` and the README read them from here.
TIMINGS_DIR = "reports/timings"


@contextmanager
def atomic_dir(out_dir: str, marker: str | tuple[str, ...]):
    """Yield a temporary folder to write into; on success it replaces out_dir.

    Raises FileExistsError (before anything is written) when out_dir exists without `marker` (or
    any of several markers: e.g. a model folder may hold weights or an adapter).
    """
    markers = (marker,) if isinstance(marker, str) else marker
    if os.path.exists(out_dir) and not any(os.path.isfile(os.path.join(out_dir, m)) for m in markers):
        raise FileExistsError(f"{out_dir}: exists and is not a previous output (no {' or '.join(markers)}); "
                              "refusing to replace it: choose another out_dir or remove it yourself")
    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-", dir=parent)
    try:
        yield tmp
        if os.path.exists(out_dir):
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def save_dataset(dataset, out_dir: str) -> None:
    """Write a datasets.DatasetDict (Arrow) atomically: a half-written dataset is never left behind."""
    with atomic_dir(out_dir, marker="dataset_dict.json") as tmp:
        dataset.save_to_disk(tmp)


def load_dataset(path: str):
    """A saved DatasetDict (the data stage's output), in memory, so that later .map/.filter calls
    never write cache files into the folder: it is a DVC output, and a changed output would make
    DVC rerun the data stage."""
    from datasets import load_from_disk

    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path}: no dataset here; run `dvc repro data` first")
    return load_from_disk(path, keep_in_memory=True)


def write_timing(name: str, facts: dict, folder: str = TIMINGS_DIR) -> str:
    """Record a stage's timings (seconds, memory, throughput) in <folder>/<name>.json, atomically;
    returns the path. The folder is git-ignored and not a DVC output."""
    path = os.path.join(folder, f"{name}.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as fh:
        json.dump(facts, fh, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)
    return path

"""Atomic folder outputs: write into a temporary sibling, then rename over the destination.

A stage's output folder is therefore either the previous complete output or the new complete
one, never half of either. An existing destination is only replaced when it holds a marker file
of the same kind of output (e.g. dataset_dict.json, config.json), so that a mistyped out_dir can
never delete an unrelated folder.
Left out: locking against two writers (DVC runs one stage at a time).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager


@contextmanager
def atomic_dir(out_dir: str, marker: str):
    """Yield a temporary folder to write into; on success it replaces out_dir.

    Raises FileExistsError (before anything is written) when out_dir exists without `marker`.
    """
    if os.path.exists(out_dir) and not os.path.isfile(os.path.join(out_dir, marker)):
        raise FileExistsError(f"{out_dir}: exists and is not a previous output (no {marker}); "
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

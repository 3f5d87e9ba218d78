"""Run one DVC stage's notebook so that a failure never costs the previous results.

    python -m mathtransfer.stage NOTEBOOK OUTPUT [SECTION ...] [--exists=SECTION.KEY ...] [-p NAME VALUE ...]

1. The params sections the stage reads are checked first (config.check): a bad value stops the
   stage with one line before anything is touched.
2. The stage's own report files are copied to .stage-backup/<stage>/: under `dvc repro` the
   outputs dvc.yaml declares under reports/ (DVC names the stage in $DVC_STAGE), so that stages
   run side by side (mathtransfer.repro) never touch each other's files; run by hand, all of
   reports/ (a few MB). If a backup is already there, an earlier run of the stage was killed
   (kill -9 cannot be caught) and left half-written files: they are rolled back first.
3. papermill executes the notebook (params.yaml injected, plus the -p values) into a temporary
   file, working in the repository root.
4. Success: the executed notebook is made deterministic (`normalise`: no timestamps, durations or
   random cell ids) and moved over OUTPUT; the backup is dropped. Failure (an error in a cell,
   Ctrl-C, SIGTERM): the stage's report files are restored from the backup, the failed notebook
   is kept in .stage-failed/ to read, and the stage exits with one line saying where.
5. The stage's wall time and each code cell's (papermill's own timing, taken before `normalise`
   drops it) go to reports/timings/stages/ (git-ignored), for benchmarks/profile_repro.py.
dvc.yaml marks the report outputs `persist: true`, so that DVC does not delete them before the
command runs either.
Left out: outputs outside reports/ (datasets, models): DVC caches them and they are written
atomically (storage.atomic_dir).
"""
from __future__ import annotations

import filecmp
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import yaml

from .config import ConfigError, check
from .storage import write_timing

REPORTS = "reports"
BACKUP = ".stage-backup"
FAILED = ".stage-failed"
MANIFEST = "manifest.json"  # written last: a backup without it is incomplete and ignored
REPORT_FOLDERS = ("results", "results/train", "metrics", "figures")  # where notebooks write
# papermill's per-run facts that change on every run; what it injected (parameters) is kept
VOLATILE_PAPERMILL = ("start_time", "end_time", "duration", "environment_variables", "exception", "status")


def _files(root: str) -> list[str]:
    return sorted(os.path.relpath(os.path.join(folder, name), root)
                  for folder, _, names in os.walk(root) for name in names)


def _commit() -> str | None:
    """The git commit checked out now (None outside a git repository)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def own_reports(root: str = REPORTS) -> list[str] | None:
    """The report paths (files or folders, relative to root) of the DVC stage running this command
    ($DVC_STAGE), as dvc.yaml declares them; None outside `dvc repro` (then all of root is the
    stage's)."""
    name = os.environ.get("DVC_STAGE")
    if not name:
        return None
    from dvc.repo import Repo

    (spec,) = Repo(".").stage.collect(name)
    inside = [os.path.relpath(str(out), root) for out in spec.outs]
    return sorted(path for path in inside if not path.startswith(".."))


def _owned(name: str, scope: list[str] | None) -> bool:
    return scope is None or any(name == path or name.startswith(path.rstrip("/") + "/") for path in scope)


def backup_dir(stage_name: str | None = None) -> str:
    """Where a stage's backup lives: one folder per DVC stage (stages may run side by side)."""
    stage_name = stage_name if stage_name is not None else os.environ.get("DVC_STAGE", "")
    return os.path.join(BACKUP, stage_name.replace("/", "_").replace("@", "_") or "_all")


def drop(backup: str = BACKUP) -> None:
    """Delete the backup; the manifest first, so that a kill midway leaves an incomplete backup
    (ignored) rather than a complete-looking one with files missing."""
    if os.path.isfile(os.path.join(backup, MANIFEST)):
        os.remove(os.path.join(backup, MANIFEST))
    shutil.rmtree(backup, ignore_errors=True)
    parent = os.path.dirname(os.path.normpath(backup))
    if os.path.basename(parent) == BACKUP:
        try:
            os.rmdir(parent)  # only when empty: the last stage's backup is gone
        except OSError:
            pass


def restore(root: str = REPORTS, backup: str = BACKUP) -> bool:
    """Put the backup's scope of root back as it recorded it (files changed or removed since are
    restored, files created since in that scope are deleted); drop the backup. False when there was
    no complete backup, or when it was taken on another git commit than the one checked out now (a
    `git checkout` since the kill brought other reports: those are kept)."""
    manifest = os.path.join(backup, MANIFEST)
    if not os.path.isfile(manifest):
        drop(backup)
        return False
    with open(manifest) as fh:
        recorded = json.load(fh)
    if recorded["commit"] != _commit():
        print(f"{backup}/: taken on another git commit; the reports checked out now are kept", file=sys.stderr)
        drop(backup)
        return False
    kept, scope = set(recorded["files"]), recorded.get("scope")
    for name in _files(root) if os.path.isdir(root) else []:
        if name not in kept and _owned(name, scope):
            os.remove(os.path.join(root, name))
    for name in kept:
        saved, current = os.path.join(backup, "tree", name), os.path.join(root, name)
        if os.path.isfile(saved) and not (os.path.isfile(current) and filecmp.cmp(saved, current, shallow=False)):
            os.makedirs(os.path.dirname(current) or ".", exist_ok=True)
            shutil.copy2(saved, current)
    drop(backup)
    return True


def snapshot(root: str = REPORTS, backup: str = BACKUP, scope: list[str] | None = None) -> None:
    """Copy root's files in `scope` (paths relative to root; None: all of root) into backup,
    rolling back first what a killed earlier run left behind."""
    if restore(root, backup):
        print(f"{root}: rolled back the files of an interrupted earlier stage from {backup}/")
    os.makedirs(root, exist_ok=True)
    files = [name for name in _files(root) if _owned(name, scope)]
    os.makedirs(backup, exist_ok=True)
    for name in files:
        os.makedirs(os.path.dirname(os.path.join(backup, "tree", name)), exist_ok=True)
        shutil.copy2(os.path.join(root, name), os.path.join(backup, "tree", name))
    with open(os.path.join(backup, MANIFEST), "w") as fh:
        json.dump({"commit": _commit(), "files": files, "scope": scope}, fh)


def normalise(nb: dict, input_path: str, output_path: str) -> dict:
    """An executed notebook without what changes from run to run when the results do not:
    papermill's timestamps and durations, nbclient's execution times, random cell ids."""
    papermill = nb.get("metadata", {}).get("papermill", {})
    for key in VOLATILE_PAPERMILL:
        papermill.pop(key, None)
    papermill.update(input_path=input_path, output_path=output_path)
    for i, cell in enumerate(nb.get("cells", [])):
        cell["id"] = f"cell-{i:02d}"
        for key in ("papermill", "execution"):
            cell.get("metadata", {}).pop(key, None)
    return nb


def parameters(params_file: str, extra: list[tuple[str, str]]) -> dict:
    """params.yaml's keys plus NAME VALUE pairs (VALUE read as YAML: 0 is an int, grpo a string)."""
    with open(params_file) as fh:
        values = yaml.safe_load(fh) or {}
    values.update({name: yaml.safe_load(value) for name, value in extra})
    return values


def cell_seconds(nb: dict) -> list[dict]:
    """Each code cell's wall time as papermill recorded it, with the cell's first line (what it does)."""
    return [dict(seconds=round(cell.get("metadata", {}).get("papermill", {}).get("duration") or 0.0, 2),
                 first_line=next((line for line in cell.get("source", "").splitlines() if line.strip()), ""))
            for cell in nb.get("cells", []) if cell.get("cell_type") == "code"]


def execute(notebook: str, output: str, values: dict, extra: tuple[str, ...] = ()) -> list[dict]:
    """Run the notebook; write the normalised executed copy to output only if every cell ran.
    Returns the code cells' wall times (cell_seconds).
    Of params.yaml's sections only those the notebook's parameters cell names are passed (the
    stage's deps list what it reads); the `extra` names (-p) must all be named there."""
    import nbformat
    import papermill

    os.makedirs(FAILED, exist_ok=True)
    work = os.path.join(FAILED, os.path.basename(output))
    # library deprecation notices name files of this machine's venv: kept out of the reports
    os.environ.setdefault("PYTHONWARNINGS", "ignore::FutureWarning,ignore::DeprecationWarning")
    declared = papermill.inspect_notebook(notebook)
    values = {name: value for name, value in values.items() if name in declared or name in extra}
    try:
        papermill.execute_notebook(notebook, work, parameters=values, cwd=".", progress_bar=False,
                                   log_output=False, kernel_name="python3")
    except papermill.PapermillExecutionError as err:
        raise RuntimeError(f"{notebook}: cell {err.exec_count} raised {err.ename}: {err.evalue} "
                           f"(the executed notebook is in {work})") from None
    nb = nbformat.read(work, as_version=4)
    cells = cell_seconds(nb)
    nb = normalise(nb, notebook, output)
    os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
    tmp = output + ".tmp"
    nbformat.write(nbformat.from_dict(nb), tmp)
    os.replace(tmp, output)
    os.remove(work)
    return cells


def torch_threads() -> int | None:
    """The `threads` the stage ran with (params.yaml), for the timing record."""
    return parameters("params.yaml", []).get("threads")


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str]) -> int:
    args, extra, sections, inputs = list(argv), [], [], []
    while "-p" in args:
        i = args.index("-p")
        extra.append((args[i + 1], args[i + 2]))
        del args[i:i + 3]
    for arg in args[2:]:
        (inputs if arg.startswith("--exists=") else sections).append(arg.split("=", 1)[-1])
    if len(args) < 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    notebook, output = args[:2]
    try:
        check("params.yaml", sections, tuple(inputs))
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    import papermill

    declared = papermill.inspect_notebook(notebook)
    unknown = [name for name, _ in extra if name not in declared]
    if unknown:
        print(f"{notebook}: -p {', '.join(unknown)}: not a parameter of the notebook; its parameters: "
              f"{', '.join(declared)}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _terminate)
    start = time.perf_counter()
    backup = backup_dir()
    snapshot(backup=backup, scope=own_reports())
    try:
        for folder in REPORT_FOLDERS:
            os.makedirs(os.path.join(REPORTS, folder), exist_ok=True)
        cells = execute(notebook, output, parameters("params.yaml", extra), tuple(name for name, _ in extra))
    except (Exception, KeyboardInterrupt) as err:
        restore(backup=backup)
        print(f"{err}; the previous results in {REPORTS}/ are kept", file=sys.stderr)
        return 1
    drop(backup)
    # the stage's wall time (kernel start included) and its cells', for benchmarks/; never committed
    stem = os.path.splitext(os.path.relpath(output, REPORTS))[0]
    write_timing(f"stages/{stem}", {"seconds": round(time.perf_counter() - start, 1), "notebook": notebook,
                                    "threads": torch_threads(), "cells": cells})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

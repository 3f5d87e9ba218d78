"""`dvc repro` with independent stages side by side, so that a small machine's cores are all used.

    python -m mathtransfer.repro [--jobs N] [STAGE ...]      (`make repro` calls it)

DVC runs a pipeline's stages one at a time. Most of this study's time goes to stages that do not
need each other (27 training runs, then the analyses), and a stage of the mini-world cannot keep
two cores busy: half of its time is Python's own work (generation, scoring, start-up) on one core.
This runner walks dvc.yaml's graph and keeps up to N stages running, each through
`dvc --wait-for-lock repro --single-item STAGE` (DVC releases its repository lock while a stage's
command runs: its documented way to run stages in parallel), a stage starting once every stage it
depends on has finished. Every stage runs exactly as under `dvc repro` (same params, same
`threads`), so the two compute the same numbers; only the wall time differs. Of the stages ready
at once, the one first in dvc.yaml's order starts first. The stages' own report files stay apart
(mathtransfer.stage backs up and restores only the files a stage declares).
N defaults to the cores over `threads` on a CPU, and to 1 with a GPU (two trainings would share
its memory). numpy's and OpenMP's thread pools are held to `threads` too (stage_env). A failed stage stops the stages after it; the others finish; the exit status is 1
and the failed stage's last output lines are printed.
Left out: stages on several machines (dvc exp run --queue does that for whole experiments).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from .config import read_params
from .storage import write_timing


def stage_graph(targets: list[str] | None = None) -> dict[str, list[str]]:
    """Every stage of dvc.yaml (or `targets` and the stages they depend on) -> the stages it
    depends on, in dvc.yaml's order."""
    from dvc.repo import Repo

    graph = Repo(".").index.graph  # an edge runs from a stage to a stage it depends on
    order = [stage.addressing for stage in graph.nodes]
    needs = {stage.addressing: sorted((dep.addressing for dep in graph.successors(stage)), key=order.index)
             for stage in graph.nodes}
    if targets:
        unknown = [t for t in targets if t not in needs]
        if unknown:
            raise ValueError(f"stage {', '.join(unknown)}: not in dvc.yaml; its stages: {', '.join(order)}")
        keep, todo = set(), list(targets)
        while todo:
            name = todo.pop()
            if name not in keep:
                keep.add(name)
                todo.extend(needs[name])
        needs = {name: deps for name, deps in needs.items() if name in keep}
    return needs


def schedule(needs: dict[str, list[str]], run: Callable[[str], bool], jobs: int) -> list[str]:
    """Run every stage once all the stages it needs have succeeded, at most `jobs` at a time,
    ready stages in the order of `needs`. Returns the stages that failed or could not start."""
    done, failed, running = set(), [], {}
    waiting = list(needs)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        while waiting or running:
            blocked = [name for name in waiting if any(dep in failed for dep in needs[name])]
            while blocked:  # a stage after a failed one cannot run, nor can the stages after it
                for name in blocked:
                    waiting.remove(name)
                    failed.append(name)
                blocked = [name for name in waiting if any(dep in failed for dep in needs[name])]
            for name in [n for n in waiting if all(dep in done for dep in needs[n])]:
                if len(running) >= jobs:
                    break
                waiting.remove(name)
                running[pool.submit(run, name)] = name
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                name = running.pop(future)
                (done.add(name) if future.result() else failed.append(name))
    return failed + waiting


def changed_stages() -> set[str]:
    """The stages `dvc status` finds out of date (their own deps, params, outs or command changed)."""
    out = subprocess.run([sys.executable, "-m", "dvc", "status", "--json"], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"dvc status failed: {out.stderr.strip()[-500:]}")
    return set(json.loads(out.stdout or "{}"))


def to_run(needs: dict[str, list[str]], changed: set[str]) -> dict[str, list[str]]:
    """The part of the graph to run: the changed stages and every stage after one of them."""
    keep, grew = {name for name in needs if name in changed}, True
    while grew:
        after = {name for name, deps in needs.items() if name not in keep and any(dep in keep for dep in deps)}
        keep |= after
        grew = bool(after)
    return {name: [dep for dep in deps if dep in keep] for name, deps in needs.items() if name in keep}


def default_jobs(threads: int) -> int:
    """Cores // threads on a CPU (at least 1); 1 with a GPU."""
    import torch

    if torch.cuda.is_available():
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // threads)


# the thread pools besides torch's (numpy's BLAS, OpenMP): a stage sets torch's from `threads`, these
# default to every core, and two stages side by side would then spin against each other (a PCA
# ran 5x slower)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def stage_env(threads: int) -> dict[str, str]:
    """The environment of a stage run side by side: every thread pool at `threads` (unless set), and
    this interpreter's folder first on PATH (dvc.yaml's commands say `python`: the venv's, even
    when the runner was started as .venv/bin/python without activating the venv)."""
    env = {**{name: str(threads) for name in THREAD_VARIABLES}, **os.environ}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


def dvc_stage(name: str, env: dict[str, str] | None = None, log_dir: str = os.path.join(".dvc", "tmp", "repro")) -> bool:
    """`dvc repro --single-item name`, its output kept in log_dir/<name>.log; one line when done."""
    os.makedirs(log_dir, exist_ok=True)
    log = os.path.join(log_dir, name.replace("@", "_") + ".log")
    start = time.perf_counter()
    with open(log, "w") as fh:
        code = subprocess.call([sys.executable, "-m", "dvc", "--wait-for-lock", "repro", "--single-item", name],
                               stdout=fh, stderr=subprocess.STDOUT, env=env)
    with open(log) as fh:
        lines = fh.read().splitlines()
    ran = not any("didn't change, skipping" in line for line in lines)
    seconds = time.perf_counter() - start
    print(f"{name}: {'FAILED' if code else 'ran' if ran else 'unchanged'} ({seconds:.0f} s)", flush=True)
    if code:
        print("\n".join(f"  {line}" for line in lines[-20:]), flush=True)
    return code == 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m mathtransfer.repro", description=__doc__.split("\n\n")[0])
    parser.add_argument("stages", nargs="*", help="stages to bring up to date (default: all)")
    parser.add_argument("--jobs", type=int, default=None, help="stages at once (default: cores // threads; 1 with a GPU)")
    args = parser.parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        print(f"--jobs: expected a whole number >= 1, got {args.jobs}", file=sys.stderr)
        return 2
    try:
        needs = stage_graph(args.stages)
    except ValueError as err:
        print(err, file=sys.stderr)
        return 2
    start = time.perf_counter()
    pending = to_run(needs, changed_stages())
    if not pending:
        print(f"all {len(needs)} stages up to date; nothing to run")
        return 0
    threads = read_params("params.yaml").get("threads", 1) or 1
    jobs = args.jobs or default_jobs(threads)
    env = stage_env(threads)
    print(f"{len(pending)} of {len(needs)} stages to bring up to date, up to {jobs} at a time", flush=True)
    seconds = {}

    def run(name: str) -> bool:
        began = time.perf_counter()
        ok = dvc_stage(name, env)
        seconds[name] = round(time.perf_counter() - began, 1)
        return ok

    failed = schedule(pending, run, jobs)
    total = time.perf_counter() - start
    # the run's wall time, for benchmarks/profile_repro.py; never in a committed file
    write_timing("repro", dict(seconds=round(total, 1), jobs=jobs, stages=len(pending), failed=failed,
                               stage_seconds=seconds))
    if failed:
        print(f"not up to date after {total / 60:.1f} min: {', '.join(failed)} (logs in .dvc/tmp/repro/)",
              file=sys.stderr)
        return 1
    print(f"all {len(needs)} stages up to date; {len(pending)} ran in {total / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

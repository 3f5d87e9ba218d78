"""math-verify in a worker process: parse + verify of a (gold, answer) pair with bounded cost.

sympy can run for minutes or exhaust memory on an answer such as 9^{9^{9^{9}}}, and math-verify's
own timeouts use signals, which work only in a main thread. So the verdicts come from a persistent
worker: a fresh interpreter (fork+exec, never a bare fork of the threaded caller) that loads only
math-verify. Each job has MATH_TIMEOUT_S of wall clock, measured by the caller, after which the
worker is killed and replaced and the answer scores 0; the worker's address space may grow by
MATH_MEMORY_MB at most (RLIMIT_AS) and each job has a CPU-seconds limit (RLIMIT_CPU), so even an
orphaned worker stops. Jobs run one at a time, from any thread; verdicts and timeouts are cached
per (gold, answer), so the same input gets the same score (a timeout on a heavily loaded machine
aside). `WORKER.judge(gold, answer)` is the one entry point (tasks.scoring.score_math calls it).
Left out: answer extraction and normalisation (tasks/scoring.py); several workers in parallel
(concurrent calls queue).
"""
from __future__ import annotations

import atexit
import collections
import json
import math
import os
import select
import subprocess
import sys
import tempfile
import threading
import time

MATH_TIMEOUT_S = 3.0  # wall clock for one parse + verify in the worker; past it the worker is killed
MATH_MEMORY_MB = 1024  # address space the worker may add to what it holds once math-verify is loaded
MATH_STARTUP_TIMEOUT_S = 120.0  # for a (re)started worker to load math-verify; charged to no answer
MATH_CACHE_SIZE = 4096  # verdicts kept per (gold, prediction): a repeated answer costs nothing

# Runs in the worker, a fresh interpreter (`python -P -c`) that imports only math-verify: one JSON
# job per line on stdin, one `[id, verdict]` per line on stdout, exit at EOF. math-verify's own
# signal-based timeouts stay off; the caller's wall clock and this process's limits bound each job.
_WORKER_SOURCE = r'''
import json, logging, math, os, resource, sys, warnings
logging.disable(logging.CRITICAL)
warnings.simplefilter("ignore")
from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

CONFIGS = [LatexExtractionConfig(), ExprExtractionConfig()]


def judge(gold, pred):
    try:
        gold = parse(gold, extraction_config=CONFIGS, parsing_timeout=None)
        pred = parse(pred, extraction_config=CONFIGS, parsing_timeout=None)
        return int(bool(gold) and bool(pred) and verify(gold, pred, timeout_seconds=None))
    except Exception:  # MemoryError, RecursionError, sympy's own errors: wrong, and the worker lives on
        return 0


def set_soft(limit, soft):
    hard = resource.getrlimit(limit)[1]
    resource.setrlimit(limit, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))


memory_mb, cpu_s = json.loads(sys.argv[1])
judge("$\\frac{1}{2}$", "$0.5$")  # loads the LaTeX parser and sympy's lazy parts before the limits
with open("/proc/self/statm") as statm:  # address space in use now, in pages
    set_soft(resource.RLIMIT_AS, int(statm.read().split()[0]) * resource.getpagesize() + (memory_mb << 20))
out = sys.stdout.buffer
out.write(b"ready\n")
out.flush()
for line in sys.stdin.buffer:
    job = json.loads(line)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    # CPU seconds for this job alone (SIGXCPU ends the worker): bounds it even with no caller left
    set_soft(resource.RLIMIT_CPU, math.ceil(usage.ru_utime + usage.ru_stime) + cpu_s)
    out.write(json.dumps([job["id"], judge(job["gold"], job["pred"])]).encode() + b"\n")
    out.flush()
'''
_TIMEOUT, _DIED = "timeout", "died"


class _MathWorker:
    """The caller's side of the worker: one job at a time (a lock), a wall-clock limit per job, a
    kill and a fresh worker after any overrun, and a cache of verdicts."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.process: subprocess.Popen | None = None
        self.stderr = None  # the worker's stderr (a temporary file), read if it fails to start
        self.ready = False
        self.buffer = b""
        self.jobs = 0
        self.restarts = 0  # workers started to replace a killed or dead one
        self.cache: collections.OrderedDict[tuple[str, str], float] = collections.OrderedDict()

    def _start(self) -> None:
        """Start a worker; it loads math-verify while the caller goes on (see _ensure_ready)."""
        stderr = tempfile.TemporaryFile()
        limits = json.dumps([MATH_MEMORY_MB, math.ceil(MATH_TIMEOUT_S) + 2])
        try:  # fork+exec of a fresh interpreter, never a bare fork of this (threaded) process
            self.process = subprocess.Popen([sys.executable, "-P", "-c", _WORKER_SOURCE, limits],
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                                            bufsize=0, close_fds=True, start_new_session=True)
        except BaseException:
            stderr.close()
            raise
        self.stderr, self.ready, self.buffer = stderr, False, b""

    def stop(self) -> None:
        """Kill the worker, if any, and reap it."""
        process, streams = self.process, (self.stderr,)
        self.process, self.stderr, self.ready, self.buffer = None, None, False, b""
        if process is None:
            return
        try:
            process.kill()
        except OSError:
            pass
        for stream in (process.stdin, process.stdout, *streams):
            try:
                stream.close()
            except (OSError, AttributeError):
                pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # stuck in the kernel: the OS reaps it later
            pass

    def _restart(self) -> None:
        self.stop()
        self.restarts += 1
        self._start()

    def forget(self) -> None:
        """In a forked child: the parent's worker is the parent's; drop it, unkilled."""
        self.lock = threading.Lock()
        process = self.process
        self.process, self.stderr, self.ready, self.buffer = None, None, False, b""
        if process is not None:
            for stream in (process.stdin, process.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
            process.returncode = 0  # never to be waited on here

    def _read_line(self, seconds: float) -> bytes | str:
        """The worker's next line, or _TIMEOUT after `seconds`, or _DIED when it ended."""
        deadline = time.monotonic() + seconds
        fd = self.process.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not poller.poll(math.ceil(left * 1000)):
                return _TIMEOUT
            chunk = os.read(fd, 65536)
            if not chunk:
                return _DIED
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line

    def _ensure_ready(self) -> None:
        if self.process is None:
            self._start()
        elif self.process.poll() is not None:  # it ended between jobs (killed from outside)
            self._restart()
        if self.ready:
            return
        line = self._read_line(MATH_STARTUP_TIMEOUT_S)
        if line != b"ready":  # the environment's fault (no math-verify, no memory), not the answer's
            error = ""
            try:
                self.stderr.seek(0)
                error = self.stderr.read()[-2000:].decode("utf-8", "replace").strip()
            except (OSError, AttributeError):
                pass
            self.stop()
            raise RuntimeError(f"the math-verify worker did not start: {error or line!r}")
        self.ready = True

    def _send(self, job: bytes) -> None:
        view = memoryview(job)
        while view:
            view = view[os.write(self.process.stdin.fileno(), view):]

    def _run(self, gold: str, pred: str) -> float | str:
        """1.0 or 0.0 from the worker, or _TIMEOUT / _DIED (and then a fresh worker is starting)."""
        self._ensure_ready()
        self.jobs += 1
        job = json.dumps({"id": self.jobs, "gold": gold, "pred": pred}).encode() + b"\n"
        try:
            self._send(job)
        except OSError:  # it ended between jobs: a fresh one takes the job
            self._restart()
            self._ensure_ready()
            self._send(job)
        line = self._read_line(MATH_TIMEOUT_S)
        if isinstance(line, str):
            self._restart()
            return line
        try:
            job_id, verdict = json.loads(line)
        except (ValueError, TypeError):
            job_id, verdict = None, None
        if job_id != self.jobs:  # cannot happen with one job at a time; never trust a stray line
            self._restart()
            return _DIED
        return float(verdict == 1)

    def judge(self, gold: str, pred: str) -> float:
        """math-verify's verdict on (gold, prediction); 0.0 when the job overran or the worker died.

        Verdicts and timeouts are cached (the same input gets the same score, and a repeated
        adversarial answer costs its timeout once); a worker killed from outside is not."""
        key = (gold, pred)
        with self.lock:
            if key in self.cache:
                self.cache.move_to_end(key)
                return self.cache[key]
            try:
                verdict = self._run(gold, pred)
            except OSError:  # a pipe failed twice: not the answer's doing, so not cached
                self.stop()
                return 0.0
            except BaseException:  # e.g. KeyboardInterrupt with a job in flight: start afresh next time
                self.stop()
                raise
            if verdict == _DIED:
                return 0.0
            self.cache[key] = 0.0 if verdict == _TIMEOUT else verdict
            while len(self.cache) > MATH_CACHE_SIZE:
                self.cache.popitem(last=False)
            return self.cache[key]


WORKER = _MathWorker()  # one per process
os.register_at_fork(after_in_child=WORKER.forget)
atexit.register(WORKER.stop)

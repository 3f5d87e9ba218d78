"""Run untrusted, model-written Python in a limited subprocess, and grade it on LiveCodeBench tests.

Each program runs in a fresh interpreter (`python -s -S -P`: standard library only, nothing from
site-packages, the user site or the current directory) with a two-variable environment, in a new
temporary directory (its cwd, removed afterwards) and a new session, so that its whole process group
is killed at the wall-clock timeout or when it ends. Before the program's first line the runner sets
hard resource limits (address space, CPU seconds, size of any file written, which also bounds
stdout, open files, processes of this user, no core dumps) and replaces the socket constructors and
resolvers with ones raising OSError. Where the kernel allows `unshare --net`, the program also runs
in a new network namespace without interfaces, which stops every route to the network.

Grading follows LiveCodeBench's testing_util: its import prelude, stdout compared line by line after
stripping (numbers compared as Decimals), call-based tests on `class Solution`, and pass = every
test passes.

Left out: filesystem isolation (the program may read or write whatever this user may; adversarial
code needs a container or a separate uid), a network block that holds against an attacker where no
namespace is available (ctypes or a subprocess bypass the socket patch), a bound on total disk use
(only on each file), memory outside the address-space limit (tmpfs files, kernel memory, children
counted separately), limits that root inside the program cannot lift, and non-Linux systems.
"""
from __future__ import annotations

import functools
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from decimal import Decimal

DEFAULT_TIMEOUT_S = 6.0  # LiveCodeBench's per-test timeout
DEFAULT_MEMORY_MB = 512
MAX_OUTPUT_BYTES = 1 << 20  # stdout kept (and the largest file the program may write)
STDERR_TAIL_BYTES = 4000
MAX_OPEN_FILES = 64
EXTRA_TASKS = 16  # threads/processes a program may start (the deep-recursion Thread idiom needs one)
NETWORK_DISABLED = "network disabled in the sandbox"
# Only what we set: no HOME, no proxies, no tokens, no PATH. Python's -E (part of -I) would ignore
# PYTHONHASHSEED, so the runner passes -s -S -P instead: the same isolation, as PYTHON* variables
# can only come from this dict.
SANDBOX_ENV = {"PYTHONHASHSEED": "0", "LANG": "C.UTF-8"}
_RESULT_MARK = "\n@@mathtransfer-sandbox-result@@ "

# LiveCodeBench runs every solution after these imports (lcb_runner/evaluation/testing_util.py,
# `import_string`), so a solution that uses `List` or `defaultdict` without importing them passes.
_LCB_MODULES = ("string", "re", "datetime", "collections", "heapq", "bisect", "copy", "math", "random",
                "statistics", "itertools", "functools", "operator", "io", "sys", "json")
LCB_PRELUDE = ("".join(f"from {m} import *\n" for m in (*_LCB_MODULES, "builtins", "typing"))
               + "".join(f"import {m}\n" for m in _LCB_MODULES) + "sys.setrecursionlimit(50000)\n")

# Runs in the sandboxed interpreter. The limits are set here, before the program is even read, not
# in a preexec_fn: that one runs between fork and exec, which can deadlock in a threaded parent
# (vLLM). The program's globals are a fresh dict, so none of these names are visible to it.
_RUNNER = r'''
import builtins, json, resource, sys
job = json.loads(sys.argv[1])
for name, (soft, hard) in job["limits"].items():
    limit = getattr(resource, name)
    ceiling = resource.getrlimit(limit)[1]
    if ceiling != resource.RLIM_INFINITY:
        soft, hard = min(soft, ceiling), min(hard, ceiling)
    resource.setrlimit(limit, (soft, hard))

import socket, _socket
def no_network(*args, **kwargs):
    raise OSError(job["network_message"])
class NoNetworkSocket(socket.socket):  # a subclass, so that `class X(socket.socket)` still imports
    def __init__(self, *args, **kwargs):
        no_network()
for module in (socket, _socket):
    module.socket = module.SocketType = NoNetworkSocket
    for name in ("create_connection", "create_server", "getaddrinfo", "gethostbyname",
                 "gethostbyname_ex", "gethostbyaddr", "socketpair", "fromfd"):
        if hasattr(module, name):
            setattr(module, name, no_network)

sys.argv = ["solution.py"]
namespace = {"__name__": "__main__", "__file__": "solution.py", "__builtins__": builtins}
if job["lcb"]:
    exec(compile(job["prelude"], "<lcb-prelude>", "exec"), namespace)
with open("solution.py", encoding="utf-8") as file:
    program = compile(file.read(), "solution.py", "exec")  # tracebacks name solution.py, line N
try:
    exec(program, namespace)
except SystemExit:
    if not job["lcb"]:  # LiveCodeBench's grader reads exit() as the end of the program
        raise
if job["func_name"]:
    args = [json.loads(line) for line in sys.stdin.read().split("\n")]
    owner = namespace["Solution"]() if "Solution" in namespace else None
    method = getattr(owner, job["func_name"]) if owner is not None else namespace[job["func_name"]]
    sys.stdout.write(job["result_mark"] + json.dumps(method(*args)) + "\n")
'''


@dataclass(frozen=True)
class RunResult:
    status: str  # ok | error | timeout | memory | killed (by a signal other than the timeout's)
    stdout: str  # at most max_output_bytes of it
    stderr: str  # its last STDERR_TAIL_BYTES
    seconds: float  # wall-clock time of the run


def extract_code(response: object) -> str | None:
    """The last ```python fenced block of an (untrusted) response, else its last fenced block of any
    language; None if it has no closed, non-empty block. Never raises."""
    if not isinstance(response, str):
        return None
    blocks: list[tuple[str, str]] = []  # (language, code) of each closed block
    language, body = None, []
    for line in response.split("\n"):  # line by line: linear time on any input, unlike a regex
        stripped = line.strip()
        if not stripped.startswith("```"):
            if language is not None:
                body.append(line)
        elif language is None:
            language, body = stripped[3:].strip().lower(), []
        else:
            blocks.append((language, "\n".join(body)))
            language = None
    blocks = [(lang, code) for lang, code in blocks if code.strip()]
    python = [code for lang, code in blocks if lang in ("python", "python3", "py")]
    candidates = python or [code for _, code in blocks]
    return candidates[-1] if candidates else None


@functools.lru_cache(maxsize=None)
def _network_namespace() -> tuple[str, ...]:
    """A command prefix running the program in a new network namespace, or () where the kernel
    refuses one (e.g. a container without CAP_SYS_ADMIN and without user namespaces)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return ()
    for prefix in ((unshare, "--net", "--"), (unshare, "--user", "--map-root-user", "--net", "--")):
        try:
            probe = subprocess.run([*prefix, sys.executable, "-S", "-c", "pass"], env=SANDBOX_ENV,
                                   capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            continue
        if probe.returncode == 0:
            return prefix
    return ()


def network_isolated() -> bool:
    """True when programs run in their own empty network namespace (not only behind the socket patch)."""
    return bool(_network_namespace())


def _user_task_count() -> int | None:
    """This user's threads and processes, which RLIMIT_NPROC counts (per user, not per process)."""
    uid, count = os.getuid(), 0
    try:
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    if entry.stat().st_uid == uid:
                        count += len(os.listdir(f"/proc/{entry.name}/task"))
                except OSError:  # it ended meanwhile
                    pass
    except OSError:
        return None
    return count


def _limits(timeout_s: float, memory_mb: int, max_output_bytes: int) -> dict[str, tuple[int, int]]:
    cpu_s = math.ceil(timeout_s) + 1  # a spare second: the wall clock should fire first
    limits = {"RLIMIT_AS": (memory_mb << 20,) * 2, "RLIMIT_CPU": (cpu_s, cpu_s + 1),
              "RLIMIT_FSIZE": (max_output_bytes,) * 2, "RLIMIT_NOFILE": (MAX_OPEN_FILES,) * 2,
              "RLIMIT_CORE": (0, 0)}
    tasks = _user_task_count() if os.getuid() != 0 else None  # root ignores RLIMIT_NPROC
    if tasks is not None:
        limits["RLIMIT_NPROC"] = (tasks + EXTRA_TASKS,) * 2
    return limits


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):  # the group is already gone
        pass


def _read(path: str, limit: int, tail: bool = False) -> str:
    with open(path, "rb") as file:
        if tail:
            file.seek(max(0, os.fstat(file.fileno()).st_size - limit))
        return file.read(limit).decode("utf-8", errors="replace")


def _status(returncode: int, timed_out: bool, stderr: str) -> str:
    if timed_out or returncode == -signal.SIGXCPU:
        return "timeout"
    if returncode == 0:
        return "ok"
    if returncode < 0:
        return "killed"
    return "memory" if "MemoryError" in stderr else "error"


def _run(code: str, stdin: str, timeout_s: float, memory_mb: int, max_output_bytes: int,
         lcb: bool, func_name: str | None) -> RunResult:
    started = time.monotonic()
    workdir = None
    try:
        workdir = tempfile.mkdtemp(prefix="mathtransfer-sandbox-")
        paths = {name: os.path.join(workdir, name) for name in ("solution.py", "stdin", "stdout", "stderr")}
        with open(paths["solution.py"], "w", encoding="utf-8") as file:
            file.write(code)
        with open(paths["stdin"], "w", encoding="utf-8") as file:
            file.write(stdin)
        job = {"limits": _limits(timeout_s, memory_mb, max_output_bytes), "lcb": lcb,
               "prelude": LCB_PRELUDE, "func_name": func_name, "result_mark": _RESULT_MARK,
               "network_message": NETWORK_DISABLED}
        command = [*_network_namespace(), sys.executable, "-s", "-S", "-P", "-c", _RUNNER, json.dumps(job)]
        # Files, not pipes: nothing to deadlock on, and RLIMIT_FSIZE bounds what is written.
        with open(paths["stdin"], "rb") as stdin_file, open(paths["stdout"], "wb") as stdout_file, \
                open(paths["stderr"], "wb") as stderr_file:
            process = subprocess.Popen(command, cwd=workdir, env=SANDBOX_ENV, stdin=stdin_file,
                                       stdout=stdout_file, stderr=stderr_file, start_new_session=True)
        timed_out = False
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:  # also kills what the program left running, and runs on KeyboardInterrupt
            _kill_group(process.pid)
            process.wait()
        seconds = time.monotonic() - started
        stderr = _read(paths["stderr"], STDERR_TAIL_BYTES, tail=True)
        stdout = _read(paths["stdout"], max_output_bytes)
        return RunResult(_status(process.returncode, timed_out, stderr), stdout, stderr, seconds)
    except Exception as exc:  # e.g. an unencodable program or a full disk: the run failed, we go on
        return RunResult("error", "", f"sandbox failure: {exc!r}", time.monotonic() - started)
    finally:
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)


def run_program(code: str, stdin: str = "", timeout_s: float = DEFAULT_TIMEOUT_S,
                memory_mb: int = DEFAULT_MEMORY_MB, *, max_output_bytes: int = MAX_OUTPUT_BYTES) -> RunResult:
    """Run an untrusted Python program (as __main__) in the sandbox on `stdin`; never raises.

    Output beyond `max_output_bytes` makes the program's write fail (status "error").
    """
    return _run(code, stdin, timeout_s, memory_mb, max_output_bytes, lcb=False, func_name=None)


def _stripped_lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().split("\n")]


def _same_numbers(got_line: str, expected_line: str) -> bool:
    try:
        return [Decimal(t) for t in got_line.split()] == [Decimal(t) for t in expected_line.split()]
    except (ArithmeticError, ValueError):  # decimal.InvalidOperation is an ArithmeticError
        return False


def outputs_match(got: str, expected: str) -> bool:
    """LiveCodeBench's stdout rule: the same lines after stripping each line and the whole text; a
    line that differs still matches if both are the same numbers (as Decimals: "0.50" == "0.5")."""
    got_lines, expected_lines = _stripped_lines(got), _stripped_lines(expected)
    return len(got_lines) == len(expected_lines) and all(
        g == e or _same_numbers(g, e) for g, e in zip(got_lines, expected_lines))


def _passes(code: str, test: dict, timeout_s: float, memory_mb: int, func_name: str | None) -> bool:
    expected = test["output"]
    bound = max(MAX_OUTPUT_BYTES, 2 * len(expected.encode()) + 4096)  # room for large expected outputs
    if test.get("testtype", "stdin") == "functional":
        if not func_name:
            return False
        result = _run(code, test["input"], timeout_s, memory_mb, bound, lcb=True, func_name=func_name)
        if result.status != "ok" or _RESULT_MARK not in result.stdout:
            return False
        returned = json.loads(result.stdout.rsplit(_RESULT_MARK, 1)[1])  # tuples came back as lists
        return returned == json.loads(expected)
    result = _run(code, test["input"], timeout_s, memory_mb, bound, lcb=True, func_name=None)
    return result.status == "ok" and outputs_match(result.stdout, expected)


def run_tests(code: str, tests: list[dict], timeout_s: float = DEFAULT_TIMEOUT_S,
              memory_mb: int = DEFAULT_MEMORY_MB, func_name: str | None = None) -> float:
    """1.0 if the program passes every LiveCodeBench test, else 0.0 (LCB: pass = all tests pass).

    A test is {"input", "output", "testtype"}: "stdin" tests feed `input` to the program and compare
    its stdout (`outputs_match`); "functional" tests call `Solution().<func_name>` (or a top-level
    function) with one JSON value per input line and compare the return value with the JSON `output`.
    Each test runs in its own sandbox; testing stops at the first failure. No tests, a malformed
    test or an unparsable result counts as a failure; never raises.
    """
    try:
        if not isinstance(code, str) or not tests:
            return 0.0
        for test in tests:
            if not _passes(code, test, timeout_s, memory_mb, func_name):
                return 0.0
        return 1.0
    except Exception:  # malformed tests or untrusted output that json cannot read
        return 0.0


def score_code(response: object, answer: str, meta: str = "{}") -> float:
    """Scorer (untrusted response, gold answer, item meta) -> 1.0 if the response's code passes all
    the item's tests, else 0.0; never raises.

    `answer` is unused: the tests are the gold. `meta` is JSON with "tests" (a list of tests, or a
    JSON string of one) and optionally "func_name", "timeout_s" and "memory_mb".
    """
    code = extract_code(response)
    if code is None:
        return 0.0
    try:
        spec = json.loads(meta)
        tests = json.loads(spec["tests"]) if isinstance(spec["tests"], str) else spec["tests"]
        return run_tests(code, tests, float(spec.get("timeout_s", DEFAULT_TIMEOUT_S)),
                         int(spec.get("memory_mb", DEFAULT_MEMORY_MB)), spec.get("func_name"))
    except Exception:  # a malformed meta is the item's fault, but a scorer never raises
        return 0.0

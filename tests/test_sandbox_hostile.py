"""Hostile completions against the code sandbox, grouped by what they try:

- FORGES: make a test pass that can never pass (the verdict must stay "not passed");
- ESCAPES: read, write, list or signal anything outside the sandbox (the host must see no trace);
- CRASHES: take the evaluator down (it must score the sample as failed and carry on);
- CONTAINED: exhaust resources or misbehave (the run must end within its limit, as not passed).

Each case is a program written for this suite; none relies on the sandbox's implementation details beyond the
documented interface. Runs under bubblewrap (scripts/setup.sh installs it; CI runs as root with it).
"""

from __future__ import annotations

import ast
import json
import os
import socket
import sys
import uuid
from pathlib import Path

import pytest

from unmask.config import DecodeConfig
from unmask.evaluate import evaluate
from unmask.sandbox import SandboxUnavailable, isolation, run_code
from unmask.tasks import MBPP, HumanEval, get_task

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox is Linux-only (bubblewrap)")

TIMEOUT = 2.0
NEVER = "assert False, 'this test can never pass'\n"
SOLUTION = "def add(a, b):\n    return a + b\n"
WRONG = "def add(a, b):\n    return a - b\n"
TEST = "assert add(1, 2) == 3\n"
HE_ITEM = {"task_id": "Hostile/0", "entry_point": "add", "prompt": "def add(a, b):\n    '''a + b'''\n",
           "canonical_solution": "    return a + b\n", "test": "def check(candidate):\n    assert False\n"}
FAKE_VERDICT = json.dumps({"status": "passed", "detail": ""})


def _not_passed(code: str, test: str = NEVER, timeout: float = TIMEOUT, **kwargs):
    """Run a hostile program: it must not pass, and the run must end within its limit (plus start-up)."""
    result = run_code(code, timeout=timeout, test=test, **kwargs)
    assert not result.passed and result.status != "passed", result
    assert result.seconds < timeout + 2.0, result
    return result


def _host_traces(*paths: Path) -> list[Path]:
    return [path for path in paths if os.path.lexists(path)]


# FORGES: a test that can never pass stays failed, whatever the program does


def test_forge_1_code_run_inside_hooks_and_frames_finds_nothing_to_forge():
    """The old guard's secret lived in an audit hook's frame; now the program's process holds no secret: whatever it
    finds in its own frames, objects and hooks, and whatever it writes to every descriptor, the verdict stays."""
    program = ("import gc, os, sys\n"
               "class Key(str):\n"
               "    def __hash__(self):\n"
               "        frame = sys._getframe(1)\n"
               "        while frame:\n"
               "            found.extend(frame.f_locals.values())\n"
               "            frame = frame.f_back\n"
               "        return str.__hash__(self)\n"
               "found = []\n"
               "sys.addaudithook(lambda event, args: found.append(event))\n"
               "sys.audit('import', Key('ctypes'))\n"
               "__import__(Key('json'))\n"
               "found.extend(gc.get_objects())\n"
               f"for fd in range(1024):\n"
               f"    try:\n"
               f"        os.write(fd, {FAKE_VERDICT!r}.encode())\n"
               f"    except OSError:\n"
               f"        pass\n"
               "os._exit(0)\n")
    assert _not_passed(program).status in ("failed", "error")  # its writes to its own pipe break the protocol
    assert not HumanEval(timeout=TIMEOUT).score(HE_ITEM, program)


def test_forge_2_the_verifier_is_out_of_reach_through_proc_ptrace_and_dir_fd():
    """/proc/<pid>/mem, /proc/<pid>/fd/*, ptrace and process_vm_writev on the verifier (pid 1), and dir_fd opens
    of a verdict file: every attempt is refused, and nothing the program writes becomes a verdict."""
    program = ("import ctypes, os, sys\n"
               "libc = ctypes.CDLL(None, use_errno=True)\n"
               "opened = []\n"
               "for pid in [p for p in os.listdir('/proc') if p.isdigit() and int(p) != os.getpid()]:\n"
               "    for path in [f'/proc/{pid}/mem', f'/proc/{pid}/environ', f'/proc/{pid}/fd', f'/proc/{pid}/root']:\n"
               "        try:\n"
               "            os.close(os.open(path, os.O_RDONLY))\n"
               "            opened.append(path)\n"
               "        except OSError:\n"
               "            pass\n"
               "    for fd in range(64):\n"
               "        try:\n"
               f"            with open(f'/proc/{{pid}}/fd/{{fd}}', 'w') as f:\n"
               f"                f.write({FAKE_VERDICT!r})\n"
               "            opened.append(f'/proc/{pid}/fd/{fd}')\n"
               "        except OSError:\n"
               "            pass\n"
               "    if libc.ptrace(16, int(pid), 0, 0) == 0:  # PTRACE_ATTACH\n"
               "        opened.append('ptrace ' + pid)\n"
               "root = os.open('/', os.O_RDONLY)\n"
               "os.chdir('/work')\n"
               "for name in ['done', '../done', 'verdict']:\n"
               "    try:\n"
               "        os.close(os.open(name, os.O_WRONLY | os.O_CREAT, dir_fd=root))\n"
               "        opened.append('dir_fd ' + name)\n"
               "    except OSError:\n"
               "        pass\n"
               "sys.stderr.write('OPENED %r\\n' % opened)\n"
               "sys.stderr.flush()\n"
               "os._exit(0)\n")
    result = _not_passed(program)
    assert result.status == "failed" and "OPENED []" in result.stderr, result.stderr


def test_forge_3_patched_modules_and_builtins_do_not_reach_the_test():
    """Patches at import time and during the test's own calls: the test's math, builtins and AssertionError are the
    verifier's."""
    program = ("import builtins, math, sys\n"
               "math.isclose = lambda *a, **k: True\n"
               "sys.modules['math'] = type(sys)('math')\n"
               "sys.modules['math'].isclose = lambda *a, **k: True\n"
               "builtins.abs = lambda x: 0\n"
               "builtins.AssertionError = type('Fake', (Exception,), {})\n"
               "def area(r):\n"
               "    import math\n"
               "    math.isclose = lambda *a, **k: True\n"
               "    math.pi = 3\n"
               "    return 0.0\n")
    test = "import math\nassert math.isclose(area(1.0), math.pi)\nassert abs(area(2.0) - 4 * math.pi) < 1e-9\n"
    assert _not_passed(program, test=test).status == "failed"
    item = {**HE_ITEM, "entry_point": "area", "prompt": "import math\ndef area(r):\n    '''pi r^2'''\n",
            "test": "def check(candidate):\n    assert math.isclose(candidate(1.0), math.pi)\n"}
    assert not HumanEval(timeout=TIMEOUT).score(item, program)
    # MBPP's asserts use the program's `import math`: the test gets the verifier's own math, not the patched one
    mbpp = {"task_id": 0, "text": "area", "code": "", "test_list": ["assert math.isclose(area(1.0), math.pi)"]}
    assert not MBPP(timeout=TIMEOUT).score(mbpp, program)
    honest = "import math\ndef area(r):\n    return math.pi * r * r\n"
    assert MBPP(timeout=TIMEOUT).score(mbpp, honest)


def test_forge_4_values_that_lie_about_equality_arrive_as_plain_data_or_opaque_handles():
    program = ("class Yes:\n"
               "    def __eq__(self, other):\n        return True\n"
               "    def __bool__(self):\n        return True\n"
               "class LyingInt(int):\n"
               "    def __eq__(self, other):\n        return True\n"
               "class LyingList(list):\n"
               "    def __eq__(self, other):\n        return True\n"
               "def yes(x):\n    return Yes()\n"
               "def lying_int(x):\n    return LyingInt(0)\n"
               "def lying_list(x):\n    return LyingList()\n")
    assert _not_passed(program, test="assert yes(1) == 2\n").status == "failed"
    assert _not_passed(program, test="assert yes(1)\n").status == "error"  # no truth value for the program's objects
    assert _not_passed(program, test="assert lying_int(1) == 2\n").status == "failed"
    assert _not_passed(program, test="assert lying_list(1) == [1, 2]\n").status == "failed"


def test_forge_5_a_program_speaking_the_wire_protocol_only_produces_values():
    """The program writes its own replies (and garbage) on its pipe to the verifier: at best a value, which the test
    then judges; never a verdict."""
    def frame(message) -> str:
        data = json.dumps(message)
        return f"{len(data).to_bytes(8, 'big')!r} + {data.encode()!r}"

    reply_fd = "int(sys.argv[3])"
    forged_pass = (f"import os, sys\n"
                   f"os.write({reply_fd}, {frame(['ok', ['n']])})\n"
                   f"os.write({reply_fd}, {frame(FAKE_VERDICT)})\n"
                   f"os.write({reply_fd}, {frame(['passed'])})\n"
                   "os._exit(0)\n")
    assert _not_passed(forged_pass).status in ("failed", "error")
    huge = f"import os, sys\nos.write({reply_fd}, (2 ** 62).to_bytes(8, 'big'))\nos._exit(0)\n"
    assert "message of" in _not_passed(huge, test="assert f(1) == 2\n").detail
    deep = (f"import os, sys\ndata = b'[' * 100000\n"
            f"os.write({reply_fd}, len(data).to_bytes(8, 'big'))\nos.write({reply_fd}, data)\nos._exit(0)\n")
    assert "malformed" in _not_passed(deep, test="assert f(1) == 2\n").detail
    big = "def f(x):\n    return 'x' * (40 << 20)\n"
    assert _not_passed(big, test="assert f(1) == 2\n").status == "error"


def test_forge_6_the_verifier_survives_signals_from_the_program():
    program = ("import os, signal\n"
               "for sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGTERM):\n"
               "    for pid in (1, os.getppid(), -1):\n"
               "        try:\n            os.kill(pid, sig)\n        except OSError:\n            pass\n")
    result = _not_passed(SOLUTION + program, test=TEST.replace("3", "4"))
    assert result.status == "failed" and "AssertionError" in result.stderr  # the verifier ran the test to its end


# ESCAPES: the host sees no trace of anything the program tries outside the sandbox


@pytest.fixture
def host(tmp_path):
    """A directory of the evaluator's, with a secret file in it."""
    (tmp_path / "secret").write_text(f"hunter2-{uuid.uuid4().hex}")
    return tmp_path


def _attempts(code: str) -> list[str]:
    """Run `code` (which appends what succeeded to `done`), and return that list."""
    result = run_code("import os, sys\ndone = []\n" + code, timeout=TIMEOUT, test="assert False, done\n")
    assert result.status == "failed", result
    return ast.literal_eval(result.stderr.split("AssertionError: ", 1)[1].strip().splitlines()[0])


def test_escape_1_reading_etc_shadow_and_the_evaluators_files(host):
    secret = (host / "secret").read_text()
    paths = ["/etc/shadow", "/etc/passwd", str(host / "secret"), str(Path.cwd() / "pyproject.toml"),
             "/root/.bash_history", "/proc/1/root/etc/shadow"]
    code = (f"for path in {paths!r}:\n"
            "    try:\n        done.append(path + ': ' + open(path).read()[:40])\n    except OSError:\n        pass\n")
    assert _attempts(code) == []
    result = run_code(f"print(open({str(host / 'secret')!r}).read())\n", timeout=TIMEOUT)
    assert secret not in result.stderr and not result.passed


def test_escape_2_writing_outside_through_dir_fd_and_paths(host):
    targets = [host / "written", Path.cwd() / f"unmask_escape_{uuid.uuid4().hex}", Path("/tmp") / uuid.uuid4().hex]
    code = (f"for target in {[str(t) for t in targets]!r}:\n"
            "    for directory in ('/', os.path.dirname(target), '/work'):\n"
            "        try:\n"
            "            fd = os.open(directory, os.O_RDONLY)\n"
            "            os.close(os.open(os.path.relpath(target, directory), os.O_WRONLY | os.O_CREAT, dir_fd=fd))\n"
            "        except OSError:\n            pass\n"
            "    try:\n        open(target, 'w').write('escaped')\n        done.append(target)\n"
            "    except OSError:\n        pass\n")
    _attempts(code)
    assert _host_traces(*targets) == []


def test_escape_3_sqlite_attach_database(host):
    target = host / "attached.db"
    code = ("import sqlite3\n"
            "db = sqlite3.connect(':memory:')\n"
            f"try:\n    db.execute(\"ATTACH DATABASE '{target}' AS escaped\")\n"
            "    db.execute('CREATE TABLE escaped.t (x)')\n    db.commit()\n    done.append('attached')\n"
            "except sqlite3.Error:\n    pass\n")
    _attempts(code)
    assert _host_traces(target) == []


def test_escape_4_setxattr_on_host_files(host):
    stdlib_file = os.__file__
    before = (os.listxattr(host / "secret"), os.listxattr(stdlib_file))
    code = (f"for path in ({str(host / 'secret')!r}, {stdlib_file!r}, '/usr/bin/env'):\n"
            "    try:\n        os.setxattr(path, 'user.escaped', b'1')\n        done.append(path)\n"
            "    except OSError:\n        pass\n")
    assert _attempts(code) == []
    assert (os.listxattr(host / "secret"), os.listxattr(stdlib_file)) == before


def test_escape_5_listing_and_stating_the_host(host):
    code = (f"for path in ('/root', '/home', '/etc', {str(host)!r}, {str(Path.cwd())!r}):\n"
            "    try:\n        done.append(path + ': ' + ','.join(sorted(os.listdir(path))))\n"
            "    except OSError:\n        pass\n"
            f"for path in ({str(host / 'secret')!r}, '/etc/hostname', '/var/log'):\n"
            "    try:\n        os.stat(path)\n        done.append('stat ' + path)\n    except OSError:\n        pass\n")
    roots = [Path(root) for root in isolation._python_roots(isolation.base_python())]  # bound at the same paths
    for entry in _attempts(code):
        directory, names = entry.split(": ", 1)
        on_the_way = {root.relative_to(directory).parts[0] for root in roots if directory in map(str, root.parents)}
        assert set(names.split(",")) - {""} <= on_the_way, entry  # only the way to the interpreter is visible


def test_escape_6_mknod_and_mkfifo_outside(host):
    targets = [host / "fifo", host / "node", Path("/tmp") / f"fifo-{uuid.uuid4().hex}"]
    code = (f"import stat\nfor target in {[str(t) for t in targets]!r}:\n"
            "    try:\n        os.mkfifo(target)\n        done.append(target)\n    except OSError:\n        pass\n"
            "    try:\n        os.mknod(target + '.dev', stat.S_IFCHR | 0o600, os.makedev(1, 3))\n"
            "        done.append(target + '.dev')\n    except OSError:\n        pass\n"
            "try:\n    os.mknod('/work/null', stat.S_IFCHR | 0o600, os.makedev(1, 3))\n    done.append('device')\n"
            "except OSError:\n    pass\n")
    assert "device" not in _attempts(code)
    assert _host_traces(*targets, *(Path(f"{t}.dev") for t in targets)) == []


def test_escape_7_the_interpreter_and_system_files_are_read_only():
    stdlib_file = Path(os.__file__)
    before = stdlib_file.stat().st_mtime_ns
    code = (f"for path in ({str(stdlib_file)!r}, '/usr/bin/env', '/sandbox/_inside.py', '/new-file', '/dev/shm/x'):\n"
            "    try:\n        open(path, 'a').write('# escaped')\n        done.append(path)\n"
            "    except OSError:\n        pass\n")
    assert _attempts(code) == []
    assert stdlib_file.stat().st_mtime_ns == before


def test_escape_8_no_privileges_to_regain_mount_or_namespace():
    code = ("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "if libc.unshare(0x10000000) == 0:\n    done.append('new user namespace')\n"
            "if libc.unshare(0x00020000) == 0:\n    done.append('new mount namespace')\n"
            "if libc.mount(b'none', b'/work', b'tmpfs', 0, None) == 0:\n    done.append('mount')\n"
            "if libc.setuid(0) == 0:\n    done.append('setuid 0')\n"
            "if libc.chroot(b'/work') == 0:\n    done.append('chroot')\n")
    assert _attempts(code) == []


def test_escape_9_no_network_no_host_sockets_and_no_host_processes():
    abstract = f"\0unmask-test-{uuid.uuid4().hex}"
    with socket.socket() as server, socket.socket(socket.AF_UNIX) as local:
        server.bind(("127.0.0.1", 0))
        local.bind(abstract)  # an abstract unix socket belongs to the host's network namespace
        for listener in (server, local):
            listener.listen(1)
            listener.settimeout(0.2)
        port = server.getsockname()[1]
        code = ("import socket\n"
                f"for address in (('127.0.0.1', {port}), ('1.1.1.1', 53)):\n"
                "    try:\n        socket.create_connection(address, timeout=0.5).sendall(b'leak')\n"
                "        done.append(str(address))\n    except OSError:\n        pass\n"
                f"try:\n    unix = socket.socket(socket.AF_UNIX)\n    unix.connect({abstract!r})\n"
                "    done.append('abstract socket')\nexcept OSError:\n    pass\n"
                f"try:\n    os.kill({os.getpid()}, 9)\n    done.append('killed the evaluator')\n"
                "except OSError:\n    pass\n")
        assert _attempts(code) == []
        for listener in (server, local):
            with pytest.raises(socket.timeout):
                listener.accept()
    os.kill(os.getpid(), 0)  # still here


# CRASHES: the evaluator scores the sample and carries on


def test_crash_1_a_3000_deep_directory_tree_is_left_in_the_tmpfs():
    program = ("import os\nos.mkdir('a')\n"
               "for _ in range(3000):\n"
               "    os.rename('a', 'b')\n    os.mkdir('a')\n    os.rename('b', 'a/a')\n"
               "os.chmod('a', 0)\n")
    assert _not_passed(program, timeout=10.0).status == "failed"


def test_crash_2_a_scoring_error_is_a_failed_sample_and_the_run_resumes(tmp_path, tiny_model):
    class Exploding(type(get_task("sudoku"))):
        def score(self, item, completion):
            if item["id"] == 1:
                raise RecursionError("maximum recursion depth exceeded")
            return super().score(item, completion)

    task = Exploding()
    records = [{**record, "id": n} for n, record in enumerate(task.generate(3, seed=1))]
    config = DecodeConfig(planner="dilated", gen_length=8, block_length=8)
    summary = evaluate(tiny_model, task, records, config, tmp_path, batch_size=3, progress=False)
    assert summary["samples"] == 3 and summary["complete"]
    samples = [json.loads(line) for line in Path(summary["directory"], "samples.jsonl").read_text().splitlines()]
    assert samples[1]["correct"] is False and samples[1]["score_error"].startswith("RecursionError")
    assert all("score_error" not in samples[i] for i in (0, 2))
    again = evaluate(tiny_model, task, records, config, tmp_path, batch_size=3, progress=False)  # resume: no crash
    assert again["samples"] == 3


def test_crash_3_no_sandbox_is_said_before_any_model_call(tmp_path, monkeypatch):
    from unmask.evaluate import harness

    def unavailable():
        raise SandboxUnavailable("no sandbox here")

    class NoModel:
        def __getattr__(self, name):
            raise AssertionError("the model must not be touched")

    monkeypatch.setattr(harness, "require_sandbox", unavailable)
    with pytest.raises(SandboxUnavailable, match="no sandbox here"):
        evaluate(NoModel(), HumanEval(), [HE_ITEM], DecodeConfig(planner="dilated"), tmp_path, progress=False)


# CONTAINED: resource exhaustion and misbehaviour end as "not passed" within the limit


def test_contained_busy_loop_and_sleep_time_out():
    assert _not_passed("while True:\n    pass\n", timeout=1.0).status == "timeout"
    assert _not_passed("import time\ntime.sleep(3600)\n", timeout=1.0).status == "timeout"
    assert _not_passed(SOLUTION.replace("return", "while True: pass\n    return"), test=TEST, timeout=1.0).status == \
        "timeout"


def test_contained_fork_thread_and_subprocess_bombs():
    assert "BlockingIOError" in _not_passed("import os\nwhile True:\n    os.fork()\n").stderr
    _not_passed("import threading, time\nwhile True:\n    threading.Thread(target=time.sleep, args=(100,)).start()\n")
    _not_passed("import subprocess, sys\nwhile True:\n    subprocess.Popen([sys.executable, '-c', 'pass'])\n")
    _not_passed("import multiprocessing\nmultiprocessing.Process(target=print).start()\n")


def test_contained_memory_disk_and_output_floods():
    assert "MemoryError" in _not_passed("x = bytearray(50 * 2**30)\n").stderr
    assert "MemoryError" in _not_passed("x = [0] * (50 * 2**30 // 8)\n").stderr
    disk = "n = 0\nwhile True:\n    n += 1\n    with open(f'f{n}', 'wb') as f:\n        f.write(b'0' * 2**20)\n"
    assert "No space left on device" in _not_passed(disk).stderr  # the working directory's 64 MB tmpfs
    assert _not_passed("open('big', 'wb').write(b'0' * 2**25)\n").status in ("failed", "error")  # 16 MB per file
    flood = "import sys\nwhile True:\n    print('x' * 10000)\n    sys.stderr.write('y' * 10000)\n"
    result = _not_passed(flood)
    assert len(result.stderr) <= 2000


def test_contained_exits_and_exit_hooks():
    assert _not_passed(SOLUTION + "import os\nos._exit(0)\n", test=TEST).status == "failed"
    assert _not_passed(SOLUTION + "import sys\nsys.exit(0)\n", test=TEST).status == "failed"
    assert _not_passed(SOLUTION + "try:\n    pass\nfinally:\n    raise SystemExit(0)\n", test=TEST).status == \
        "failed"
    exits_in_call = "def add(a, b):\n    try:\n        return a - b\n    finally:\n        raise SystemExit(0)\n"
    assert _not_passed(exits_in_call, test=TEST).status == "failed"
    _not_passed(WRONG + "import atexit, os\natexit.register(lambda: os._exit(0))\n", test=TEST)
    _not_passed(WRONG + "import sys\nsys.excepthook = lambda *args: None\n", test=TEST)


def test_contained_patched_builtins_tracing_and_signal_handlers():
    _not_passed(WRONG + "import builtins\nbuiltins.AssertionError = type('Fake', (Exception,), {})\n", test=TEST)
    skip_lines = ("import sys\n"
                  "def tracer(frame, event, arg):\n"
                  "    if event == 'line' and frame.f_code.co_filename == 'test.py':\n"
                  "        frame.f_lineno = frame.f_lineno + 1\n"
                  "    return tracer\n"
                  "sys.settrace(tracer)\n")
    _not_passed(WRONG + skip_lines, test=TEST)
    alarm = ("import signal, os\n"
             "signal.signal(signal.SIGALRM, lambda *a: os._exit(0))\n"
             "signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)\n")
    assert _not_passed(WRONG + alarm, test=TEST).status == "failed"

"""Run untrusted code (benchmark completions) in a throwaway, locked-down subprocess: `run_code`.

Each run gets its own process (`python -I -S`: the standard library only, no site-packages) and its own temporary
working directory, deleted afterwards. What the child does to protect the evaluator is described in
`_sandbox_child.py`; in short: new network and PID namespaces where the kernel allows them, root dropped to `nobody`,
limits on memory, CPU, file size, processes and core dumps, an environment without the evaluator's variables, and an
audit hook that ends the program when it starts processes, signals other ones, opens sockets, loads ctypes, writes
outside its working directory or reads files outside it and the Python installation. The parent kills the whole
process group at the wall-clock limit and trusts no exit status: a run passes only when the child's guard wrote the
run's random token to a file the program itself cannot write.

This stops accidents and the usual reward hacks (early exits, patched builtins or `AssertionError`, fake output).
It is not a boundary against a determined attacker: CPython audit hooks can be bypassed by native code, `os.mkfifo`
and `os.mknod` are not audited (they can create empty entries wherever the OS lets the program), and a program can
still fool a weak test by itself (say, returning an object whose `__eq__` is always true). Run code from untrusted
people inside a VM or container as well.
"""

from __future__ import annotations

import hmac
import math
import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

_CHILD = Path(__file__).with_name("_sandbox_child.py")
_NOBODY = 65534
_STDERR_TAIL = 2000
_BLOCKED = "sandbox: blocked "  # the child's message when its guard stops the program


@dataclass(frozen=True)
class SandboxResult:
    """How one program ran.

    Attributes:
        passed: the program and its test ran to the end (proven by the run's secret token, not the exit status).
        status: "passed"; "failed" (an assertion failed, or the program exited before its test finished);
            "timeout" (killed at the wall-clock limit); "error" (another exception, an operation the sandbox blocks,
            a resource limit, or the interpreter could not start).
        stderr: the last 2000 characters of its standard error.
        seconds: wall-clock time of the run.
    """

    passed: bool
    status: str
    stderr: str
    seconds: float


def run_code(code: str, timeout: float = 5.0, memory_mb: int = 1024, test: str = "") -> SandboxResult:
    """Run `code`, then `test` in the same namespace, in a fresh sandboxed subprocess.

    Builtins and signal handlers are restored between the two, so a program cannot make `test` pass by patching
    them. Passing everything as `code` (test included) works too, without that protection.

    Args:
        code: Python source to run (e.g. prompt + completion).
        timeout: wall-clock limit in seconds; the process group is killed when it is reached.
        memory_mb: address-space limit of the program.
        test: Python source run after `code` (asserts, `check(candidate)`).
    """
    if os.name != "posix":
        raise RuntimeError("the sandbox needs Linux (or another POSIX system); run the evaluation there")
    if not sys.executable:
        raise RuntimeError("sys.executable is empty: run the evaluation from a normal `python` interpreter")
    token = secrets.token_hex(16)
    base = Path(tempfile.mkdtemp(prefix="unmask-sandbox-"))
    try:
        work = base / "work"
        work.mkdir()
        (work / "program.py").write_text(code, encoding="utf-8")
        (work / "test.py").write_text(test, encoding="utf-8")
        if os.geteuid() == 0:  # the child drops root to nobody, who must be able to write there
            for path in (base, work, work / "program.py", work / "test.py"):
                os.chown(path, _NOBODY, _NOBODY)
        with tempfile.TemporaryFile() as stderr:
            start = time.monotonic()
            returncode = _run_child(work, token, timeout, memory_mb, stderr)
            seconds = time.monotonic() - start
            stderr.seek(0)
            errors = stderr.read().decode("utf-8", "replace")
        passed = returncode == 0 and _proven(base / "done", token)
        return SandboxResult(passed, _status(passed, returncode, errors), errors[-_STDERR_TAIL:], seconds)
    finally:
        _remove_tree(base)


def _run_child(work: Path, token: str, timeout: float, memory_mb: int, stderr) -> int | None:
    """Start the child in its own session, hand it the token, wait; kill its process group at `timeout`.

    Returns the exit status (128 + N when signal N killed the program), or None when it timed out.
    """
    env = {"PATH": os.defpath, "LANG": "C.UTF-8", "HOME": str(work), "TMPDIR": str(work)}
    command = [sys.executable, "-I", "-S", str(_CHILD), str(memory_mb), str(math.ceil(timeout) + 1)]
    process = subprocess.Popen(command, cwd=work, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               stderr=stderr, start_new_session=True, close_fds=True)
    try:
        process.stdin.write(token.encode() + b"\n")
        process.stdin.close()
    except BrokenPipeError:  # the child died at start; its stderr says why
        pass
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        try:  # the group leader is unreaped, so its process group id still names this run
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
        return None


def _proven(done: Path, token: str) -> bool:
    """Whether `done` is a regular file holding exactly the token (opened without following links or blocking)."""
    try:
        fd = os.open(done, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as f:
        return stat.S_ISREG(os.fstat(fd).st_mode) and hmac.compare_digest(f.read(64), token.encode())


def _status(passed: bool, returncode: int | None, errors: str) -> str:
    if passed:
        return "passed"
    if returncode is None:
        return "timeout"
    lines = [line for line in errors.splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    crashed = "Traceback (most recent call last)" in errors and not last.startswith("AssertionError")
    return "error" if crashed or returncode >= 128 or returncode < 0 or last.startswith(_BLOCKED) else "failed"


def _remove_tree(base: Path) -> None:
    """Delete the run's directory, first making every real directory in it writable (a program may chmod 000)."""
    for root, dirs, _ in os.walk(base):
        for name in dirs:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, 0o700)
    shutil.rmtree(base, ignore_errors=True)

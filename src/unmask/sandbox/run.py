"""`run_code`: run an untrusted program and a trusted test in the sandbox, and read the verdict."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from unmask.sandbox.isolation import INSIDE, Launcher, launcher

_STDERR_TAIL = 2000
_MAX_FILE_BYTES = 16 << 20
_STATUSES = ("passed", "failed", "error")


@dataclass(frozen=True)
class SandboxResult:
    """How one program and its test ran.

    Attributes:
        passed: the verifier ran the test to its end without an exception (only the verifier can say so).
        status: "passed"; "failed" (an assertion of the test failed, or the program exited before its test ended);
            "timeout" (killed at the wall-clock limit); "error" (the program or the test raised another exception,
            hit a resource limit, or the sandbox could not start).
        stderr: the last 2000 characters of the program's and the test's standard error.
        seconds: wall-clock time of the run.
        detail: the verifier's one-line reason (empty on a pass).
    """

    passed: bool
    status: str
    stderr: str
    seconds: float
    detail: str = ""


def run_code(code: str, timeout: float = 5.0, memory_mb: int = 1024, test: str = "", setup: str = "",
             from_program: tuple[str, ...] = ()) -> SandboxResult:
    """Run `code` (untrusted) in one process, then `setup` and `test` (trusted) in a verifier process.

    The test sees the program's globals that it reads and that neither `setup`, the test itself nor the builtins
    define: plain data as copies, functions and other objects as handles it can call. It never runs program code
    itself, so patching modules or builtins, exiting early or tampering with the verifier cannot make it pass.
    Asserts placed inside `code` run in the program's process and are not protected that way.

    Args:
        code: Python source of the program (e.g. prompt + completion).
        timeout: wall-clock limit in seconds for the whole run.
        memory_mb: address-space limit of the program's process.
        test: Python source run by the verifier (asserts, `check(candidate)`).
        setup: trusted Python source the verifier runs before `test` (e.g. a HumanEval prompt's helpers).
        from_program: names the test takes from the program even when `setup` defines them (an entry point whose
            stub the prompt holds).

    Raises:
        SandboxUnavailable: no bubblewrap sandbox works here and UNMASK_ALLOW_UNSANDBOXED_CODE=1 is not set.
    """
    how = launcher()
    cpu_seconds = math.ceil(timeout) + 1
    job = {"program": code, "setup": setup, "test": test, "from_program": list(from_program),
           "memory_mb": memory_mb,
           "limits": {"AS": memory_mb << 20, "CPU": cpu_seconds, "FSIZE": _MAX_FILE_BYTES, "NPROC": 1, "CORE": 0}}
    workdir = None if how.isolated else Path(tempfile.mkdtemp(prefix="unmask-sandbox-"))
    try:
        with tempfile.TemporaryFile() as stderr:
            start = time.monotonic()
            verdict, returncode = _launch(how, json.dumps(job).encode(), timeout, stderr, workdir)
            seconds = time.monotonic() - start
            stderr.seek(max(0, stderr.seek(0, os.SEEK_END) - 4 * _STDERR_TAIL))
            errors = stderr.read().decode("utf-8", "replace")[-_STDERR_TAIL:]
    finally:
        if workdir is not None:
            remove_tree(workdir)
    if returncode is None:
        return SandboxResult(False, "timeout", errors, seconds, f"killed at the wall-clock limit of {timeout} s")
    status, detail = _read_verdict(verdict, returncode)
    return SandboxResult(status == "passed", status, errors, seconds, detail)


def _launch(how: Launcher, job: bytes, timeout: float, stderr, workdir: Path | None) -> tuple[bytes, int | None]:
    """Start the run, feed it the job, wait (killing its process group at `timeout`); the verdict's bytes and the
    exit status (None on a timeout)."""
    verdict_r, verdict_w = os.pipe()
    inside = None
    try:
        if how.isolated:
            inside = os.memfd_create("unmask-sandbox-inside")
            os.write(inside, INSIDE.read_bytes())
            os.lseek(inside, 0, os.SEEK_SET)
        process = subprocess.Popen(how.command(inside, verdict_w), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                   stderr=stderr, cwd=workdir, env=how.environment, start_new_session=True,
                                   pass_fds=tuple(fd for fd in (verdict_w, inside) if fd is not None))
    except BaseException:
        os.close(verdict_r)
        raise
    finally:
        os.close(verdict_w)
        if inside is not None:
            os.close(inside)
    try:
        try:  # writes the job (a start failure closes the pipe: its stderr says why), then waits
            process.communicate(job, timeout=timeout)
            returncode = process.returncode
        except subprocess.TimeoutExpired:
            returncode = None
        try:  # whatever is left of the run (outside bubblewrap: the program's own process, too)
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        process.wait()
        return _read_available(verdict_r), returncode
    finally:
        os.close(verdict_r)


def _read_available(fd: int) -> bytes:
    """What the verifier wrote (it is gone: every writer has exited or been killed)."""
    os.set_blocking(fd, False)
    try:
        return os.read(fd, 1 << 16)
    except BlockingIOError:  # a writer survived outside bubblewrap; no verdict came
        return b""


def _read_verdict(verdict: bytes, returncode: int) -> tuple[str, str]:
    try:
        parsed = json.loads(verdict)
        if parsed["status"] in _STATUSES and isinstance(parsed["detail"], str):
            return parsed["status"], parsed["detail"]
    except (ValueError, TypeError, KeyError):
        pass
    return "error", f"no verdict: the sandbox ended with exit status {returncode} (a resource limit or a start failure)"


def remove_tree(root: Path) -> None:
    """Delete `root` without recursion, however deep it is and whatever modes it has: move every grandchild up into
    `root` (so no path grows long), delete files and empty directories, repeat. Raises OSError if a pass frees
    nothing."""
    serial = 0
    while True:
        os.chmod(root, 0o700)
        entries = list(os.scandir(root))
        if not entries:
            break
        progress = False
        for entry in entries:
            try:
                if not entry.is_dir(follow_symlinks=False):
                    os.unlink(entry.path)
                    progress = True
                    continue
                os.chmod(entry.path, 0o700)
                for child in os.listdir(entry.path):
                    serial += 1
                    os.rename(os.path.join(entry.path, child), os.path.join(root, f".{serial}-{child}"[:200]))
                    progress = True
                os.rmdir(entry.path)
                progress = True
            except OSError:
                continue
        if not progress:
            raise OSError(f"cannot delete the sandbox's working directory {root}")
    os.rmdir(root)

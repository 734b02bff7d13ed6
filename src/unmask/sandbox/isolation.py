"""How a sandboxed run is started: under bubblewrap as an unprivileged uid, or (only when the user opts in) without
isolation.

With bubblewrap, `python -I -S _inside.py verify` runs with:
- a uid that is not root (`setpriv --reuid=65534` first when the evaluator is root: inside a user namespace that
  root creates, the program would keep root's access to root's files), no capabilities, no_new_privs, and no way to
  create further user namespaces;
- new user, mount, PID, network, IPC, UTS and cgroup namespaces: a network of its own (a loopback, no route out, no
  host socket), no view of other processes, and the verifier as PID 1 (signals from inside cannot kill it);
- a root file system that is an empty read-only tmpfs with read-only binds of /usr (and the /bin, /lib... links into
  it), of the Python installation and of `_inside.py`; a fresh /proc; bubblewrap's minimal /dev, read-only (its
  null, zero, random... nodes work); a fresh size-capped tmpfs at /work (the working directory, also HOME and TMPDIR;
  /tmp links to it). No /etc, /home or evaluator's files; /root only on the way to an interpreter installed there;
- `--die-with-parent`: killing the launcher (the wall-clock limit does) kills everything inside.

When root runs the evaluator and the Python installation is not readable by uid 65534 (say, a pyenv under /root),
the installation is first bind-mounted, as root, into a private mount namespace at /mnt, where bubblewrap can read it.
"""

from __future__ import annotations

import functools
import os
import shutil
import stat
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

ALLOW_UNSANDBOXED = "UNMASK_ALLOW_UNSANDBOXED_CODE"
INSIDE = Path(__file__).with_name("_inside.py")
SANDBOX_INSIDE = "/sandbox/_inside.py"  # where `_inside.py` lies inside the sandbox
WORK = "/work"
WORK_BYTES = 64 << 20  # size of the working directory's tmpfs
_NOBODY = 65534
_BRIDGE = "/mnt"
# as root: mount each directory given before `--` under /mnt/<i> in this (private) mount namespace, then exec the rest
_BRIDGE_SCRIPT = (f'mount -t tmpfs -o mode=0755,size=64k unmask-sandbox {_BRIDGE} || exit 125; i=0; '
                  f'while [ "$1" != -- ]; do mkdir {_BRIDGE}/$i && mount --bind "$1" {_BRIDGE}/$i || exit 125; '
                  'i=$((i + 1)); shift; done; shift; exec "$@"')
_TOP_LEVEL = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_READ_ONLY = ("--remount-ro", "/", "--remount-ro", "/dev")  # last: /dev's tmpfs (/dev/shm) has no size limit


class SandboxUnavailable(RuntimeError):
    """Generated code cannot run here: no working sandbox, and the user did not opt in to running it without."""


@dataclass(frozen=True)
class Launcher:
    """Builds the command line of one run.

    Attributes:
        isolated: True under bubblewrap; False when the user opted in to running code without isolation.
        python: the base interpreter (no virtual environment: the sandbox uses the standard library only).
        prefix: bubblewrap and its options (and what runs it), empty when not isolated.
    """

    isolated: bool
    python: str
    prefix: tuple[str, ...]

    def command(self, inside_fd: int | None, verdict_fd: int) -> list[str]:
        """The command line; `inside_fd` is a descriptor holding `_inside.py`'s source (bubblewrap copies it in)."""
        if not self.isolated:
            return [self.python, "-I", "-S", str(INSIDE), "verify", str(verdict_fd)]
        return [*self.prefix, "--ro-bind-data", str(inside_fd), SANDBOX_INSIDE, *_READ_ONLY,
                self.python, "-I", "-S", SANDBOX_INSIDE, "verify", str(verdict_fd)]

    @property
    def environment(self) -> dict[str, str]:
        home = WORK if self.isolated else "."
        return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": home, "TMPDIR": home}


def base_python() -> str:
    """The base interpreter behind `sys.executable` (a virtual environment's python resolves to it)."""
    executable = getattr(sys, "_base_executable", None) or sys.executable
    if not executable:
        raise SandboxUnavailable("sys.executable is empty: run the evaluation from a normal `python` interpreter")
    return os.path.realpath(executable)


def _python_roots(python: str) -> list[str]:
    """Directories to bind for the interpreter: its prefixes and its binary's directory, outside /usr."""
    candidates = {os.path.realpath(p) for p in (sys.base_prefix, sys.base_exec_prefix, os.path.dirname(python))}
    outside = sorted(p for p in candidates if not _under(p, "/usr"))
    return [p for p in outside if not any(q != p and _under(p, q) for q in outside)]


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _world_readable(path: str) -> bool:
    """Whether every directory from / down to `path` lets others traverse it (and `path` lets them read it)."""
    parts = Path(path).parts
    for depth in range(1, len(parts) + 1):
        mode = os.stat(Path(*parts[:depth])).st_mode
        if not mode & stat.S_IXOTH or (depth == len(parts) and not mode & stat.S_IROTH):
            return False
    return True


def _system_binds() -> list[str]:
    """/usr, and the top-level links into it (/bin -> usr/bin on merged-/usr systems) or the directories themselves."""
    args = ["--ro-bind", "/usr", "/usr"]
    for path in _TOP_LEVEL:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return args


def _bwrap_prefix(bwrap: str, python: str) -> tuple[str, ...]:
    roots = _python_roots(python)
    start: list[str] = []
    sources = roots
    if os.geteuid() == 0:
        unreadable = [root for root in roots if not _world_readable(root)]
        if unreadable:
            for tool in ("unshare", "mount"):
                if shutil.which(tool) is None:
                    raise SandboxUnavailable(f"the Python installation under {unreadable[0]} is not readable by uid "
                                             f"{_NOBODY}, and `{tool}` (util-linux) is missing to bridge it: install "
                                             "util-linux, or run the evaluator as a normal user")
            start = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", _BRIDGE_SCRIPT, "sh",
                     *roots, "--"]
            sources = [f"{_BRIDGE}/{i}" for i in range(len(roots))]
        if shutil.which("setpriv") is None:
            raise SandboxUnavailable("the evaluator runs as root and `setpriv` (util-linux) is missing to drop to an "
                                     "unprivileged uid before bubblewrap: install util-linux, or run as a normal user")
        start += ["setpriv", f"--reuid={_NOBODY}", f"--regid={_NOBODY}", "--clear-groups"]
    binds = [arg for source, root in zip(sources, roots) for arg in ("--ro-bind", source, root)]
    return (*start, bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
            "--new-session", "--as-pid-1", "--hostname", "sandbox", *_system_binds(), *binds,
            "--proc", "/proc", "--dev", "/dev", "--size", str(WORK_BYTES), "--tmpfs", WORK, "--symlink", WORK, "/tmp",
            "--chdir", WORK)


def _probe(launcher: Launcher) -> str:
    """Empty when the sandbox starts an interpreter; otherwise what went wrong."""
    command = [*launcher.prefix, *_READ_ONLY, launcher.python, "-I", "-S", "-c",
               "import os; assert os.getuid() != 0"]
    try:
        result = subprocess.run(command, env=launcher.environment, capture_output=True, text=True, timeout=30,
                                stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as error:
        return str(error)
    return "" if result.returncode == 0 else (result.stderr.strip() or f"exit status {result.returncode}")


@functools.lru_cache(maxsize=1)
def _bwrap_launcher() -> tuple[Launcher | None, str]:
    if sys.platform != "linux":
        return None, "bubblewrap needs Linux"
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return None, ("bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap; "
                      "scripts/setup.sh installs it when run as root)")
    try:
        launcher = Launcher(True, base_python(), _bwrap_prefix(bwrap, base_python()))
    except SandboxUnavailable as error:
        return None, str(error)
    failure = _probe(launcher)
    if failure:
        return None, (f"bubblewrap could not start a sandbox: {failure} (unprivileged user namespaces may be off: "
                      "sysctl kernel.unprivileged_userns_clone=1, or an AppArmor profile for bwrap on Ubuntu 24.04)")
    return launcher, ""


def launcher() -> Launcher:
    """How to start a run: bubblewrap when it works here; otherwise, only with UNMASK_ALLOW_UNSANDBOXED_CODE=1, a
    plain subprocess (warned once); otherwise SandboxUnavailable, saying why."""
    isolated, why = _bwrap_launcher()
    if isolated is not None:
        return isolated
    if os.environ.get(ALLOW_UNSANDBOXED) != "1":
        raise SandboxUnavailable(
            f"generated code runs only inside the bubblewrap sandbox, and {why}. To run it anyway WITHOUT isolation "
            f"(it would read and write whatever your user can, use the network and signal your processes; only "
            f"resource limits, a wall-clock kill and a separate verdict process remain), set {ALLOW_UNSANDBOXED}=1")
    _warn_unsandboxed(why)
    return Launcher(False, base_python(), ())


@functools.lru_cache(maxsize=1)
def _warn_unsandboxed(why: str) -> None:
    as_root = (" As root, even the process limit does not bind (a fork bomb is not contained) and the program can "
               "trace the verifier (a pass can be forged).") if os.geteuid() == 0 else ""
    warnings.warn(f"{ALLOW_UNSANDBOXED}=1: running generated code WITHOUT isolation ({why}); only resource limits, "
                  f"a wall-clock kill and a separate verdict process remain.{as_root}", RuntimeWarning, stacklevel=3)


def require() -> None:
    """Raise SandboxUnavailable now (before any model call) when code could not be run."""
    launcher()

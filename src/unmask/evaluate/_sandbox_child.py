"""The sandbox's child side; `unmask.evaluate.sandbox.run_code` runs this file, nothing imports it.

It is started as `python -I -S _sandbox_child.py MEMORY_MB CPU_SECONDS` in a fresh directory `BASE/work` holding
`program.py` and `test.py`, with the run's secret token on stdin, and uses the standard library only.

Two processes:

* supervisor: enters new network and PID namespaces where the kernel allows it (root, or unprivileged user
  namespaces), forks the runner, waits for it and exits with its status. The runner's parent is never the evaluator.
* runner: drops root to `nobody` (keeping only the right to read files, so that a stdlib under /root still imports),
  dies with the supervisor, caps memory, CPU time, file size, processes and core dumps, installs the guard (an audit
  hook), then runs program.py and test.py in one namespace, restoring builtins and signal handlers in between.

The guard ends the runner (exit 1, "sandbox: blocked ..." on stderr) when the program starts a process, signals
another one, opens a socket, loads ctypes, traces or walks the heap, writes outside BASE/work, or reads files
other than its own, the Python installation's and its /proc entry. Completion is proven to the parent by writing
the token to BASE/done: only the guard may write there, and only when called from the runner's own frame after the
test returned, so exiting early, patching builtins or printing anything cannot fake a pass.
"""

import os
import signal
import sys

_BLOCKED = b"sandbox: blocked "
_START, _FINISH = "unmask.sandbox.start", "unmask.sandbox.finish"
_NOBODY = 65534
_CLONE_NEWUSER, _CLONE_NEWNET, _CLONE_NEWPID = 0x10000000, 0x40000000, 0x20000000
_PR_SET_PDEATHSIG, _PR_SET_KEEPCAPS, _PR_SET_NO_NEW_PRIVS = 1, 8, 38
_CAPABILITY_VERSION_3, _CAP_DAC_READ_SEARCH = 0x20080522, 2
_MAX_FILE_BYTES = 16 << 20
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_FORBIDDEN_EVENTS = frozenset({
    "os.fork", "os.forkpty", "os.exec", "os.posix_spawn", "os.spawn", "os.system", "os.startfile",
    "subprocess.Popen", "os.kill", "os.killpg", "signal.pthread_kill", "resource.setrlimit", "resource.prlimit",
    "sys.settrace", "sys.setprofile", "sys._current_frames", "gc.get_objects", "gc.get_referrers",
    "gc.get_referents",
})
_FORBIDDEN_PREFIXES = ("socket.", "ctypes.", "sys.monitoring.")
_READABLE_FILES = ("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom", "/etc/localtime")
_FORBIDDEN_MODULES = frozenset({"ctypes", "_ctypes", "_posixsubprocess", "_testcapi", "_testinternalcapi"})
# event: ((argument position of a path it changes, argument position of that path's dir_fd or None), ...)
_PATH_EVENTS = {
    "os.mkdir": ((0, 2),), "os.rmdir": ((0, 1),), "os.remove": ((0, 1),), "os.rename": ((0, 2), (1, 3)),
    "os.link": ((0, 2), (1, 3)), "os.symlink": ((1, 2),), "os.truncate": ((0, None),), "os.chmod": ((0, 2),),
    "os.chown": ((0, 3),), "os.utime": ((0, 3),), "sqlite3.connect": ((0, None),),
}


def _libc():
    """The C library through ctypes, or None where ctypes is unavailable."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True)
    except (ImportError, OSError):
        return None


def _enter_namespaces(libc) -> None:
    """New network and PID namespaces (the PID one applies to the runner), with a user namespace when not root."""
    flags = _CLONE_NEWNET | _CLONE_NEWPID if os.geteuid() == 0 else _CLONE_NEWUSER | _CLONE_NEWNET | _CLONE_NEWPID
    try:
        libc.unshare(flags)
    except AttributeError:  # no libc, or no unshare: not Linux
        pass


def _supervise(pid: int) -> None:
    """Wait for the runner and exit with its status (128 + N when signal N killed it)."""
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    os._exit(code if code >= 0 else 128 - code)


def _drop_root(libc) -> None:
    """Become `nobody`, keeping CAP_DAC_READ_SEARCH so that an interpreter installed under /root still imports."""
    os.setgroups([])
    libc.prctl(_PR_SET_KEEPCAPS, 1, 0, 0, 0)
    os.setgid(_NOBODY)
    os.setuid(_NOBODY)
    import ctypes

    header = (ctypes.c_uint32 * 2)(_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)(1 << _CAP_DAC_READ_SEARCH, 1 << _CAP_DAC_READ_SEARCH, 0, 0, 0, 0)
    if libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed: the runner would run without read access")


def _confine(libc, memory_mb: int, cpu_seconds: int) -> None:
    """Drop root, die with the supervisor, and cap address space, CPU, file size, processes and core dumps."""
    import resource

    if os.geteuid() == 0:
        if libc is None:
            raise RuntimeError("the sandbox needs ctypes to drop root privileges; run the evaluator as a normal user")
        _drop_root(libc)
    if libc is not None and hasattr(libc, "prctl"):
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    limits = {
        resource.RLIMIT_AS: memory_mb << 20,
        resource.RLIMIT_CPU: cpu_seconds,
        resource.RLIMIT_FSIZE: _MAX_FILE_BYTES,
        resource.RLIMIT_NPROC: 1,  # this process only: no new processes or threads
        resource.RLIMIT_CORE: 0,
    }
    for limit, value in limits.items():
        hard = resource.getrlimit(limit)[1]
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(limit, (value, value))


def _forget_ctypes() -> None:
    """Unload ctypes from sys.modules, so that importing it again goes through the guard."""
    for name in [name for name in sys.modules if name.split(".")[0] in ("ctypes", "_ctypes")]:
        del sys.modules[name]


def _install_guard(finish_at: frozenset) -> None:
    """Read the token from stdin and install the guard; afterwards only the guard holds the token."""
    chunks = []
    while chunk := os.read(0, 4096):
        chunks.append(chunk)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.addaudithook(_guard(b"".join(chunks).strip(), finish_at))


def _finish_offsets(function) -> frozenset:
    """Bytecode offsets `function` (`_run`) can be at while it raises the finish event: those after it loads
    `finish` (CPython reports the call's PRECALL or CALL instruction, depending on specialisation)."""
    import dis

    instructions = list(dis.get_instructions(function))
    loads = [n for n, i in enumerate(instructions) if i.opname == "LOAD_FAST" and i.argval == "finish"]
    return frozenset(i.offset for i in instructions[loads[-1] + 1 :])


def _guard(token: bytes, finish_at: frozenset):
    """The audit hook. It calls only functions captured here and methods of built-in types, so that a program that
    patches modules or builtins cannot run code inside it; it ends the process instead of raising.

    The finish event counts only when raised by the runner's frame at an offset in `finish_at`: the same frame at any
    other instruction means a C-level callback (gc callback, weakref callback, signal handler) planted by the program.
    """
    write, exit_, getframe, getcwd, lstat, readlink, open_ = (
        os.write, os._exit, sys._getframe, os.getcwd, os.lstat, os.readlink, os.open)
    from _stat import S_ISDIR, S_ISLNK

    kind, str_, bytes_, int_, oserror, base_exception = type, str, bytes, int, OSError, BaseException
    forbidden_events, forbidden_prefixes, forbidden_modules = _FORBIDDEN_EVENTS, _FORBIDDEN_PREFIXES, _FORBIDDEN_MODULES
    path_events, write_flags, blocked = _PATH_EVENTS, _WRITE_FLAGS, _BLOCKED
    done_flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    state = {}  # "start": the runner's frame; "finishing": True while writing the proof

    def deny(event, detail=""):
        try:
            write(2, b"\n" + blocked + (event + " " + detail).strip().encode("utf-8", "replace") + b"\n")
        finally:
            exit_(1)

    def resolve(path, base):
        """`path` made absolute against `base` with symlinks resolved as the kernel would; None if unresolvable."""
        if kind(path) is bytes_:
            path = path.decode("utf-8", "surrogateescape")
        if kind(path) is not str_:
            return None
        pending = (path if path[:1] == "/" else base + "/" + path).split("/")
        pending.reverse()
        parts, hops = [], 0
        while pending:
            name = pending.pop()
            if name == "" or name == ".":
                continue
            if name == "..":
                if parts:
                    parts.pop()
                continue
            here = "/" + "/".join(parts) + ("/" if parts else "") + name
            try:
                mode = lstat(here).st_mode
            except oserror:
                mode = 0
            if not S_ISLNK(mode):
                parts.append(name)
                continue
            hops += 1
            try:
                target = readlink(here)
            except oserror:
                return None
            if hops > 40:
                return None
            if target[:1] == "/":
                parts = []
            more = target.split("/")
            more.reverse()
            pending.extend(more)
        return "/" + "/".join(parts)

    workdir = resolve(getcwd(), "/")
    done = workdir.rsplit("/", 1)[0] + "/done"
    try:
        own_proc = "/proc/" + readlink("/proc/self")
    except oserror:  # no /proc
        own_proc = "/proc/self"
    interpreter = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix] + sys.path
    readable_trees = tuple({resolve(path, workdir) for path in interpreter if path} | {own_proc})
    readable_files = frozenset(_READABLE_FILES + (resolve(__file__, workdir),))  # tracebacks quote this file

    def under(path, root):
        return path == root or path[: len(root) + 1] == root + "/"

    def base_of(dir_fd):
        return getcwd() if dir_fd is None or dir_fd == -1 else readlink("/proc/self/fd/" + str_(dir_fd))

    def check_open(path, flags):
        if kind(path) is int_:  # an open file descriptor
            return
        resolved = resolve(path, getcwd())
        if resolved is None:
            deny("open", "unresolvable path")
        if under(resolved, workdir) or (state.get("finishing") and resolved == done):
            return
        if flags & write_flags:
            if resolved != "/dev/null":
                deny("open", "write to " + resolved)
            return
        if resolved not in readable_files:
            for tree in readable_trees:
                if under(resolved, tree):
                    break
            else:
                deny("open", "read of " + resolved)
        try:
            is_dir = S_ISDIR(lstat(resolved).st_mode)
        except oserror:
            is_dir = False
        if is_dir:  # a directory descriptor would let dir_fd= calls write outside
            deny("open", "directory " + resolved)

    def check(event, args):
        if event in forbidden_events or event.startswith(forbidden_prefixes):
            deny(event)
        elif event == "import":
            if args[0] in forbidden_modules:
                deny(event, args[0])
        elif event == "open":
            check_open(args[0], args[2])
        elif event in path_events:
            for position, dir_fd in path_events[event]:
                if kind(args[position]) is int_:  # an open file descriptor
                    continue
                resolved = resolve(args[position], base_of(None if dir_fd is None else args[dir_fd]))
                if resolved is None or not under(resolved, workdir):
                    deny(event, resolved or "unresolvable path")
        elif event == _START:
            if "start" in state:
                deny(event)
            state["start"] = getframe(2)
        elif event == _FINISH:
            frame = getframe(2)
            if frame is not state.get("start") or frame.f_lasti not in finish_at:
                deny(event, "not raised by the runner")
            state["finishing"] = True
            fd = open_(done, done_flags, 0o600)
            write(fd, token)
            exit_(0)

    def guard(event, args):
        try:
            check(event, args)
        except base_exception:
            deny(event, "(guard error)")

    return guard


def _run(program: str, test: str) -> None:
    """Run program then test in one namespace, builtins and signal handlers restored in between, then ask the guard
    to prove completion. Everything used after the program starts is a local bound before it: a program cannot
    reach into a running frame to change them."""
    import _signal
    import builtins

    audit, start, finish, run, table, module = sys.audit, _START, _FINISH, exec, builtins.__dict__, builtins
    clear, update, set_timer, set_handler, handler_of = (
        table.clear, table.update, _signal.setitimer, _signal.signal, _signal.getsignal)
    flush_stderr, stream_errors = sys.stderr.flush, (OSError, ValueError)
    saved_builtins = tuple(table.items())
    saved_handlers = tuple((signum, handler_of(signum)) for signum in _signal.valid_signals())
    timers = (_signal.ITIMER_REAL, _signal.ITIMER_VIRTUAL, _signal.ITIMER_PROF)
    program_code = compile(program, "program.py", "exec", dont_inherit=True)
    test_code = compile(test, "test.py", "exec", dont_inherit=True)
    namespace = {"__name__": "program", "__builtins__": module}
    audit(start)
    run(program_code, namespace)
    for timer in timers:
        set_timer(timer, 0)
    for signum, handler in saved_handlers:
        if handler is not None and handler_of(signum) is not handler:
            set_handler(signum, handler)
    clear()
    update(saved_builtins)
    namespace["__builtins__"] = module
    run(test_code, namespace)
    try:  # what the program wrote to stderr reaches the parent (the guard ends the process without flushing)
        flush_stderr()
    except stream_errors:  # the program closed it
        pass
    audit(finish)


def _read(name: str) -> str:
    with open(name, encoding="utf-8") as f:
        return f.read()


def main() -> None:
    memory_mb, cpu_seconds = int(sys.argv[1]), int(sys.argv[2])
    libc = _libc()
    _enter_namespaces(libc)
    pid = os.fork()
    if pid:
        _supervise(pid)
    _confine(libc, memory_mb, cpu_seconds)
    del libc
    _forget_ctypes()
    _install_guard(_finish_offsets(_run))
    _run(_read("program.py"), _read("test.py"))


if __name__ == "__main__":
    main()

"""The two processes inside the sandbox: a trusted *verifier* and an untrusted *runner*. Standard library only;
`unmask.sandbox` starts this file as `python -I -S _inside.py verify VERDICT_FD`; nothing imports it.

The verifier (pid 1 of a fresh PID namespace under bubblewrap) reads the job (JSON on stdin: program, setup, test,
limits), makes itself non-dumpable (so that no other process of the same uid can ptrace it, read its memory or open
its file descriptors through /proc), and starts the runner as a fresh interpreter that inherits only two pipes. The
runner sets its resource limits, runs the program, then serves requests: `get` a global; `call`, `attr`, `iter` or
`next` on one of its objects. Every answer crosses as plain data (None, bool, int, float, complex, str, bytes,
bytearray and lists, tuples, dicts, sets, frozensets of them); any other object crosses as an opaque handle that the
test may only call, read attributes of, iterate over or pass back.

The verifier runs `setup` and `test` in its own interpreter, where no program code ever runs: the test's builtins,
modules and comparisons are the verifier's own, and what the program returns reaches them as fresh builtin values.
A global of the program that is a standard-library module of the same name (`import math`, which MBPP's asserts
rely on) reaches the test as the verifier's own module. The verdict goes to a file descriptor (named on the command
line) that only the verifier holds. So the program cannot patch what the test uses, cannot reach the verdict, and
has nothing secret to steal; it can only return values (or raise, exit, hang).
"""

import json
import os
import sys

_MAX_MESSAGE = 32 << 20  # bytes of one message from the runner
_MAX_DETAIL = 1000
_PR_SET_DUMPABLE = 4
_GLOBAL_LOADS = ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_FROM_DICT_OR_GLOBALS")


class ProgramEnded(Exception):
    """The runner exited (or closed its pipe): the program ended before the test did."""


class ProtocolError(Exception):
    """The runner sent something that is not a well-formed message."""


class SandboxedError(Exception):
    """The program raised an exception that is not a built-in one; its type name and message are in the text."""


# the wire: length-prefixed JSON of tagged trees


def send(fd: int, message) -> None:
    data = json.dumps(message, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    data = len(data).to_bytes(8, "big") + data
    while data:
        data = data[os.write(fd, data) :]


def receive(fd: int):
    """One message; raises ProgramEnded at end of file and ProtocolError on a malformed or oversized one."""
    size = int.from_bytes(_read_exactly(fd, 8), "big")
    if size > _MAX_MESSAGE:
        raise ProtocolError(f"a message of {size} bytes (at most {_MAX_MESSAGE})")
    try:
        return json.loads(_read_exactly(fd, size))
    except (ValueError, RecursionError, MemoryError) as error:
        raise ProtocolError(f"malformed message: {type(error).__name__}") from None


def _read_exactly(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise ProgramEnded("the program's process ended")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def encode(value, handle):
    """`value` as a JSON tree; objects that are not plain data become `["h", handle(value)]`."""
    if value is None:
        return ["n"]
    if isinstance(value, bool):
        return ["b", bool(value)]
    if isinstance(value, int):
        return ["i", format(int(value), "x")]
    if isinstance(value, float):
        return ["f", float(value).hex()]
    if isinstance(value, complex):
        return ["c", value.real.hex(), value.imag.hex()]
    if isinstance(value, str):
        return ["s", str(value)]
    if isinstance(value, (bytes, bytearray)):
        return ["Y" if isinstance(value, bytearray) else "y", bytes(value).hex()]
    for kind, tag in ((list, "l"), (tuple, "t"), (set, "S"), (frozenset, "F")):
        if isinstance(value, kind):
            return [tag, [encode(item, handle) for item in value]]
    if isinstance(value, dict):
        return ["d", [[encode(k, handle), encode(v, handle)] for k, v in value.items()]]
    return ["h", handle(value)]


def decode(tree, handle):
    """A JSON tree made by `encode` as fresh built-in values (`handle(n)` for `["h", n]`); ProtocolError otherwise."""
    try:
        return _decode(tree, handle)
    except ProtocolError:
        raise
    except Exception as error:  # any malformed tree: wrong shapes, unhashable keys, bad numbers, too deep
        raise ProtocolError(f"malformed value: {type(error).__name__}") from None


def _decode(tree, handle):
    if type(tree) is not list or not tree or type(tree[0]) is not str:
        raise ProtocolError("malformed value")
    tag, args = tree[0], tree[1:]
    if tag == "n" and not args:
        return None
    if tag == "b" and type(args[0]) is bool:
        return args[0]
    if tag == "i" and type(args[0]) is str:
        return int(args[0], 16)
    if tag == "f" and type(args[0]) is str:
        return float.fromhex(args[0])
    if tag == "c" and type(args[0]) is str and type(args[1]) is str:
        return complex(float.fromhex(args[0]), float.fromhex(args[1]))
    if tag == "s" and type(args[0]) is str:
        return args[0]
    if tag in ("y", "Y") and type(args[0]) is str:
        return (bytes if tag == "y" else bytearray).fromhex(args[0])
    if tag in ("l", "t", "S", "F") and type(args[0]) is list:
        kind = {"l": list, "t": tuple, "S": set, "F": frozenset}[tag]
        return kind(_decode(item, handle) for item in args[0])
    if tag == "d" and type(args[0]) is list:
        return {_decode(k, handle): _decode(v, handle) for k, v in args[0]}
    if tag == "h" and type(args[0]) is int:
        return handle(args[0])
    raise ProtocolError(f"malformed value with tag {tag!r}")


# the verifier (trusted)


class Remote:
    """An object of the program (a function, a class, an instance that is not plain data), seen from the test.

    The test can call it, read its attributes, iterate over it (answers come back as plain data or new handles) and
    pass it back to the program. It has no truth value, length or comparison here: those would be the program's to
    decide (`==` is identity).
    """

    __slots__ = ("_link", "_id", "_name")

    def __init__(self, link, number: int, name: str):
        self._link, self._id, self._name = link, number, name

    def __call__(self, *args, **kwargs):
        return self._link.request(["call", self._id, encode(list(args), _handle_of), encode(kwargs, _handle_of)],
                                  f"{self._name}(...)")

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._link.request(["attr", self._id, name], f"{self._name}.{name}")

    def __iter__(self):
        return self._link.request(["iter", self._id], f"iter({self._name})")

    def __next__(self):
        return self._link.request(["next", self._id], f"next({self._name})")

    def __bool__(self):
        raise TypeError(f"{self._name} is an object of the sandboxed program, not plain data: it has no truth value "
                        "in the test")

    def __repr__(self):
        return f"<sandboxed {self._name}>"


def _handle_of(value):
    if type(value) is Remote:
        return value._id
    raise TypeError(f"a {type(value).__name__} cannot be passed to the sandboxed program: only plain data "
                    "(None, bool, numbers, str, bytes, and lists, tuples, dicts, sets of them) and its own objects")


class _Link:
    """The verifier's end of the pipes to the runner."""

    def __init__(self, to_runner: int, from_runner: int):
        self.to_runner, self.from_runner = to_runner, from_runner

    def request(self, message, name: str):
        try:
            send(self.to_runner, message)
        except BrokenPipeError:
            raise ProgramEnded("the program's process ended") from None
        reply = receive(self.from_runner)
        if type(reply) is not list or not reply:
            raise ProtocolError("malformed reply")
        if reply[0] == "ok" and len(reply) == 2:
            return decode(reply[1], lambda number: Remote(self, number, name))
        if reply[0] == "module" and len(reply) == 3:  # the program's global `name` is a module
            if reply[1] == name and name in sys.stdlib_module_names:  # `import math`: the test gets its own math
                import importlib

                return importlib.import_module(name)
            return decode(reply[2], lambda number: Remote(self, number, name))
        if reply[0] == "raised" and len(reply) == 3 and type(reply[1]) is str and type(reply[2]) is str:
            raise _exception(reply[1], reply[2])
        if reply == ["missing"]:
            raise NameError(name)
        raise ProtocolError("malformed reply")


def _exception(name: str, message: str) -> Exception:
    """The built-in exception the program raised (same type, its message), or SandboxedError for any other type."""
    import builtins

    kind = getattr(builtins, name, None) if name.isidentifier() else None
    if isinstance(kind, type) and issubclass(kind, Exception):
        try:
            return kind(message)
        except Exception:  # a constructor that wants more arguments (UnicodeDecodeError)
            pass
    return SandboxedError(f"{name}: {message}")


def _global_names(code) -> set:
    """The global (or module-level) names `code` and the functions and classes inside it read."""
    import dis

    names = {i.argval for i in dis.get_instructions(code) if i.opname in _GLOBAL_LOADS}
    for constant in code.co_consts:
        if hasattr(constant, "co_names"):
            names |= _global_names(constant)
    return names


def _non_dumpable() -> None:
    """No ptrace, /proc/<pid>/mem or /proc/<pid>/fd access to this process by others of the same uid."""
    import ctypes

    if ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed")


def _set_limits(limits: dict) -> None:
    import resource

    for name, value in limits.items():
        limit = getattr(resource, "RLIMIT_" + name)
        hard = resource.getrlimit(limit)[1]
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(limit, (value, value))


def _remember_source(filename: str, source: str) -> None:
    """Tracebacks quote lines of `filename` without a file on disk."""
    import linecache

    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)


def verify(verdict_fd: int) -> None:
    """Run the job read from stdin and write the verdict (JSON: status, detail) to `verdict_fd`."""
    try:
        status, detail = _verify(json.loads(sys.stdin.buffer.read()))
    except BaseException as error:  # the verifier itself failed: never a pass
        status, detail = "error", f"sandbox verifier failed: {type(error).__name__}: {error}"
    verdict = json.dumps({"status": status, "detail": detail[:_MAX_DETAIL]}).encode()
    os.write(verdict_fd, verdict)
    os._exit(0)


def _verify(job: dict) -> tuple[str, str]:
    import builtins
    import signal
    import traceback

    _non_dumpable()
    _set_limits({"AS": (job["memory_mb"] + 512) << 20, "CORE": 0})
    to_runner_r, to_runner_w = os.pipe()
    from_runner_r, from_runner_w = os.pipe()
    _only_inheritable(to_runner_r, from_runner_w)
    runner = os.posix_spawn(
        sys.executable,
        [sys.executable, "-I", "-S", os.path.abspath(__file__), "run", str(to_runner_r), str(from_runner_w),
         json.dumps(job["limits"])],
        dict(os.environ), file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                          (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)])
    os.close(to_runner_r)
    os.close(from_runner_w)
    link = _Link(to_runner_w, from_runner_r)
    try:
        try:
            link.request(["program", job["program"]], "program")
        except ProgramEnded:
            return "failed", "the program exited before its test ran"
        except ProtocolError as error:
            return "error", f"the program broke the protocol: {error}"
        except Exception as error:  # it raised: the runner printed its traceback
            status = "failed" if isinstance(error, AssertionError) else "error"  # an assert of its own
            return status, f"the program raised {type(error).__name__}: {error}"
        namespace = {"__name__": "test", "__builtins__": builtins}
        _remember_source("setup.py", job["setup"])
        _remember_source("test.py", job["test"])
        test = compile(job["test"], "test.py", "exec", dont_inherit=True)
        try:
            exec(compile(job["setup"], "setup.py", "exec", dont_inherit=True), namespace)
            wanted = (_global_names(test) - set(namespace) - set(vars(builtins))) | set(job["from_program"])
            for name in sorted(wanted):
                try:
                    namespace[name] = link.request(["get", name], name)
                except NameError:  # the program has no such global
                    pass
            exec(test, namespace)
        except ProgramEnded:
            traceback.print_exc()
            return "failed", "the program exited before its test finished"
        except AssertionError:
            traceback.print_exc()
            return "failed", "an assertion of the test failed"
        except Exception as error:
            traceback.print_exc()
            return "error", f"{type(error).__name__}: {error}"
        return "passed", ""
    finally:
        os.kill(runner, signal.SIGKILL)
        os.waitpid(runner, 0)


def _only_inheritable(*keep: int) -> None:
    """Make every descriptor above stderr close on exec except `keep` (the verdict's above all)."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2:
            try:
                os.set_inheritable(fd, fd in keep)
            except OSError:  # the directory listing's own descriptor, closed by now
                pass


# the runner (untrusted: runs the program)


def run(to_runner: int, from_runner: int, limits: dict) -> None:
    """Set the limits, run the program, then answer the verifier's requests until it closes the pipe."""
    import builtins
    import traceback

    _set_limits(limits)
    objects = []

    def handle(value) -> int:
        objects.append(value)
        return len(objects) - 1

    def answer(compute) -> None:
        try:
            value = compute()
            module = type(value) is type(sys) and type(value.__name__) is str
            reply = ["module", value.__name__, encode(value, handle)] if module else ["ok", encode(value, handle)]
        except Exception as error:
            traceback.print_exc()
            reply = ["raised", type(error).__name__, str(error)[:_MAX_DETAIL]]
        for stream in (sys.stdout, sys.stderr):  # the verifier kills this process without waiting for exit
            try:
                stream.flush()
            except Exception:  # the program closed or replaced it
                pass
        send(from_runner, reply)

    namespace = {"__name__": "program", "__builtins__": builtins}
    while True:
        try:
            message = receive(to_runner)
        except ProgramEnded:
            return
        op = message[0]
        if op == "program":
            _remember_source("program.py", message[1])
            answer(lambda: exec(compile(message[1], "program.py", "exec", dont_inherit=True), namespace))
        elif op == "get":
            if message[1] in namespace:
                answer(lambda: namespace[message[1]])
            else:
                send(from_runner, ["missing"])
        elif op == "attr":
            answer(lambda: getattr(objects[message[1]], message[2]))
        elif op in ("iter", "next"):
            answer(lambda: (iter if op == "iter" else next)(objects[message[1]]))
        elif op == "call":
            answer(lambda: objects[message[1]](*decode(message[2], objects.__getitem__),
                                               **decode(message[3], objects.__getitem__)))


def main() -> None:
    if sys.argv[1] == "verify":
        verify(int(sys.argv[2]))
    else:
        run(int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4]))


if __name__ == "__main__":
    main()

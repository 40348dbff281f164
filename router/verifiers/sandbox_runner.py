"""Runs untrusted code and its asserts inside the sandbox process (executed as a script, not imported).

Reads ``{"code", "tests", "per_test_s", "token"}`` on stdin. Before the candidate runs it points
stdout/stderr at /dev/null (results go to a private duplicate of the pipe, each line tagged with
the token the candidate never sees) and installs an audit hook that refuses sockets, new
processes, native code, frame and garbage-collector introspection, raising resource limits, and
any file access outside the working directory (the standard library stays readable). Everything
the hook uses is bound at install time, so rebinding builtins or ``os`` functions does not blind it.
Each assert runs on its own under a wall-clock alarm; one ``<token> <index> <0|1>`` line per test.

The audit hook is defence in depth, not the boundary: the parent also applies rlimits, a wall-clock
kill, a fresh temporary directory and an empty environment. Deploy untrusted code execution inside
a container without network for stronger isolation.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import sysconfig
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

_DENY_PREFIXES = ("socket.", "subprocess.", "os.exec", "os.fork", "os.posix_spawn", "os.spawn", "os.kill",
                  "os.killpg", "os.system", "os.chdir", "os.chroot", "os.symlink", "os.link", "ctypes.", "gc.",
                  "sys.settrace", "sys.setprofile", "sys._current_frames", "sys.addaudithook", "code.__new__",
                  "resource.", "pty.", "signal.pthread_kill", "cpython.")  # fmt: skip
_PATH_EVENTS = ("os.listdir", "os.scandir", "os.mkdir", "os.rmdir", "os.remove", "os.rename", "os.truncate",
                "os.chmod", "os.chown", "os.utime", "shutil.", "glob.glob", "os.setxattr",
                "os.removexattr")  # fmt: skip
_DENY_IMPORTS = ("signal", "_signal", "ctypes", "_ctypes", "gc", "marshal", "_posixsubprocess", "_xxsubinterpreters")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _normalise(path: object, cwd: str, _type: type = type, _str: type = str, _bytes: type = bytes) -> str | None:
    """An absolute path without ``.``/``..`` tricks, or ``None`` when it cannot be judged safely."""
    if _type(path) is _bytes:
        text: str = path.decode("utf-8", "surrogateescape")  # type: ignore[attr-defined]
    elif _type(path) is _str:
        text = path  # type: ignore[assignment]
    else:
        return None
    if "\x00" in text:
        return None
    if not text.startswith("/"):
        text = cwd + "/" + text
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        return None
    return "/" + "/".join(parts)


def _make_hook(workdir: str, readable: tuple[str, ...]) -> Callable[[str, tuple[object, ...]], None]:
    deny_prefixes, path_events, deny_imports = _DENY_PREFIXES, _PATH_EVENTS, _DENY_IMPORTS
    normalise, write_flags, type_, int_ = _normalise, _WRITE_FLAGS, type, int
    frame_attributes = ("tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back")
    denied, not_found = PermissionError, ValueError

    def inside(path: str, roots: tuple[str, ...]) -> bool:
        for root in roots:  # noqa: SIM110 - builtins such as any() can be rebound by the candidate
            if path == root or path.startswith(root + "/"):
                return True
        return False

    def check_path(raw: object, writing: bool) -> None:
        if raw is None or type_(raw) is int_:  # the working directory, or an already-open descriptor
            return
        path = normalise(raw, workdir)
        if path is None or not (inside(path, (workdir,)) or (not writing and inside(path, readable))):
            raise denied("sandbox: access outside the working directory is not allowed")

    def hook(event: str, args: tuple[object, ...]) -> None:
        if event == "open":
            flags: int = args[2] if len(args) > 2 and type_(args[2]) is int_ else 0  # type: ignore[assignment]
            check_path(args[0], bool(flags & write_flags))
        elif event.startswith(path_events):
            writing = not event.startswith(("os.listdir", "os.scandir", "glob.glob"))
            for arg in args[:2] if event.startswith(("os.rename", "shutil.")) else args[:1]:
                check_path(arg, writing)
        elif event == "sys._getframe":
            raise not_found("sandbox: frame introspection is not allowed")
        elif event == "object.__getattr__" and len(args) > 1 and args[1] in frame_attributes:
            raise denied("sandbox: frame introspection is not allowed")
        elif event.startswith(deny_prefixes):
            raise denied("sandbox: " + event + " is not allowed")
        elif event == "import" and args and args[0] in deny_imports:
            raise denied("sandbox: importing " + args[0] + " is not allowed")

    return hook


def _run(code: str, tests: list[str], per_test_s: float, emit: Callable[[int, bool], None]) -> None:
    setitimer, timer = signal.setitimer, signal.ITIMER_REAL
    module = type(sys)("__candidate__")  # a real module, so dataclasses, pickle and typing can find it
    sys.modules["__candidate__"] = module
    namespace = module.__dict__
    try:
        setitimer(timer, per_test_s * 2)
        exec(compile(code, "<candidate>", "exec", dont_inherit=True), namespace)
    except BaseException:  # the candidate failed to even load: every test fails
        setitimer(timer, 0)
        return
    setitimer(timer, 0)
    for index, test in enumerate(tests):
        passed = False
        try:
            setitimer(timer, per_test_s)
            exec(compile(test, "<test>", "exec", dont_inherit=True), namespace)
            passed = True
        except BaseException:  # a failed assert, an error, or the alarm: this test fails
            pass
        finally:
            setitimer(timer, 0)
        emit(index, passed)


def main() -> None:
    payload = json.loads(sys.stdin.read())
    token, per_test_s = str(payload["token"]), float(payload["per_test_s"])
    results = os.fdopen(os.dup(1), "w", buffering=1)
    silent = os.open(os.devnull, os.O_WRONLY)
    os.dup2(silent, 1)
    os.dup2(silent, 2)

    def _alarm(signum: int, frame: object) -> None:
        raise TimeoutError("assert timed out")

    def emit(index: int, passed: bool) -> None:
        results.write(f"{token} {index} {int(passed)}\n")

    signal.signal(signal.SIGALRM, _alarm)
    sys.dont_write_bytecode = True
    paths = sysconfig.get_paths()
    readable = tuple(os.path.realpath(paths[k]) for k in ("stdlib", "platstdlib") if paths.get(k))
    sys.addaudithook(_make_hook(os.path.realpath(os.getcwd()), readable))
    for name in ("signal", "_signal", "gc", "marshal"):  # importing them again is refused
        sys.modules.pop(name, None)
    _run(payload["code"], payload["tests"], per_test_s, emit)
    results.close()


main()

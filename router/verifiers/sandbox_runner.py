"""Runs untrusted code and its asserts inside the sandbox process (executed as a script, not imported).

Before the candidate runs, an audit hook forbids sockets, new processes, native libraries and
file access outside the working directory (the interpreter's own library stays readable).
Each assert runs on its own with a wall-clock alarm; one JSON line of results goes to stdout.
"""

import json
import os
import signal
import sys

_WORKDIR = os.path.realpath(os.getcwd())
_READ_ONLY = tuple(os.path.realpath(p) for p in {sys.base_prefix, sys.prefix, sys.exec_prefix} if p)
_FORBIDDEN = ("socket.", "subprocess.", "os.system", "os.exec", "os.fork", "os.posix_spawn", "os.spawn",
              "os.kill", "ctypes.", "os.chdir", "shutil.rmtree", "os.remove", "os.rename", "os.rmdir")  # fmt: skip


class _Denied(Exception):
    pass


def _inside(path: str, roots: tuple[str, ...]) -> bool:
    real = os.path.realpath(path)
    return any(real == root or real.startswith(root + os.sep) for root in roots)


def _hook(event: str, args: tuple) -> None:  # type: ignore[type-arg]
    if event.startswith(_FORBIDDEN):
        raise _Denied(f"sandbox: {event} is not allowed")
    if event == "open" and args and isinstance(args[0], str | bytes):
        path = os.fsdecode(args[0])
        mode = args[1] if len(args) > 1 and isinstance(args[1], str) else "r"
        writing = any(flag in (mode or "r") for flag in "wax+")
        if _inside(path, (_WORKDIR,)) or (not writing and _inside(path, _READ_ONLY)):
            return
        raise _Denied(f"sandbox: access to {path} is not allowed")


def _alarm(signum: int, frame: object) -> None:
    raise TimeoutError("assert timed out")


def main() -> None:
    payload = json.loads(sys.stdin.read())
    per_test_s = float(payload["per_test_s"])
    signal.signal(signal.SIGALRM, _alarm)
    sys.addaudithook(_hook)
    namespace: dict = {"__name__": "__candidate__"}  # type: ignore[type-arg]
    results = []
    try:
        signal.setitimer(signal.ITIMER_REAL, per_test_s * 2)
        exec(compile(payload["code"], "<candidate>", "exec"), namespace)
        signal.setitimer(signal.ITIMER_REAL, 0)
    except BaseException as exc:  # the candidate failed to even load: every test fails
        signal.setitimer(signal.ITIMER_REAL, 0)
        print(json.dumps({"loaded": False, "error": type(exc).__name__, "passed": [False] * len(payload["tests"])}))
        return
    for test in payload["tests"]:
        try:
            signal.setitimer(signal.ITIMER_REAL, per_test_s)
            exec(compile(test, "<test>", "exec"), namespace)
            results.append(True)
        except BaseException:
            results.append(False)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    print(json.dumps({"loaded": True, "passed": results}))


main()

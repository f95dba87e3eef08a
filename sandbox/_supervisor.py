"""The local runner's in-between process: it runs one script and makes sure nothing outlives it.

Run as `python -I -S _supervisor.py [--ppid N] [--rlimit NAME=SOFT ...] -- ARGV...` (isolated,
no site: it imports only the standard library and starts in a few milliseconds).

Why a process of its own: `subprocess`'s timeout kills only the direct child
(python/cpython#76116), and killing a process group misses code that called `setsid()` or
double-forked into a daemon. On Linux this process marks itself a *child subreaper*
(PR_SET_CHILD_SUBREAPER), so every orphan of the run is re-parented to it instead of to init;
all the run's processes therefore stay its descendants, and it can find and kill them all
through /proc when the script ends, when the caller sends SIGTERM (timeout or cancel), or when
the caller itself dies (PR_SET_PDEATHSIG).

Exit status: the script's own exit code, or 128 + N when signal N killed it.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys
import time

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
# Handled synchronously with sigwaitinfo (no handler can interrupt the kill loop halfway).
_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}


def _prctl(option: int, value: int) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(option, value, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                found.extend(int(x) for x in fh.read().split())
        except OSError:
            continue
    return found


def _descendants() -> list[int]:
    out: list[int] = []
    todo = _children(os.getpid())
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(_children(pid))
    return out


def _reap_all() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _kill_everything(main_pgid: int) -> None:
    """SIGKILL every descendant until none is left (a fork bomb keeps forking while we kill)."""
    try:
        os.killpg(main_pgid, signal.SIGKILL)
    except OSError:
        pass
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        pids = _descendants()
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        _reap_all()
        time.sleep(0.001)
    _reap_all()


def main(argv: list[str]) -> int:
    ppid = None
    limits: list[tuple[int, int]] = []
    while argv and argv[0] != "--":
        flag = argv.pop(0)
        if flag == "--ppid":
            ppid = int(argv.pop(0))
        elif flag == "--rlimit":
            name, _, value = argv.pop(0).partition("=")
            limits.append((getattr(resource, name), int(value)))
        else:
            print(f"_supervisor: unknown flag {flag}", file=sys.stderr)
            return 2
    command = argv[1:]
    if not command:
        print("_supervisor: nothing to run", file=sys.stderr)
        return 2

    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS | {signal.SIGCHLD})
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if ppid is not None and os.getppid() != ppid:  # the caller died before PDEATHSIG was armed
        return 137

    pid = os.fork()
    if pid == 0:  # the script: its own process group, limits applied, then exec
        try:
            os.setpgid(0, 0)
            signal.pthread_sigmask(signal.SIG_SETMASK, set())  # the mask survives exec
            for which, soft in limits:
                _, hard = resource.getrlimit(which)
                if hard != resource.RLIM_INFINITY and (soft == resource.RLIM_INFINITY or soft > hard):
                    soft = hard
                try:
                    resource.setrlimit(which, (soft, hard))
                except (ValueError, OSError):
                    pass  # not allowed on this OS: the limit is best effort by design
            os.execvp(command[0], command)
        except OSError as exc:
            os.write(2, f"cannot start {command[0]}: {exc.strerror}\n".encode())
        os._exit(127)

    status: int | None = None
    while status is None:
        info = signal.sigwaitinfo(_STOP_SIGNALS | {signal.SIGCHLD})
        if info.si_signo != signal.SIGCHLD:
            break  # the caller's timeout or cancel: kill everything below
        while True:  # reap every child that ended; note the script's own status
            try:
                done, raw = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if done == 0:
                break
            if done == pid:
                status = raw
    _kill_everything(pid)  # whatever the script left running dies with it
    if status is None:
        return 128 + signal.SIGKILL
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The local runner: code runs as a process on this machine, under the caller's user.

A convenience for trusted code and for development, NOT a security boundary: the code can
read whatever the caller's user can read. What it does guarantee is lifecycle hygiene: each
script runs under a supervisor (`sandbox/_supervisor.py`) that owns every process the script
starts, so a timeout or `cancel()` kills the whole tree, daemons and SIGTERM-ignorers
included; the environment is minimal; rlimits cap CPU time, address space, file size and
process count where the OS allows.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from ..environment import minimal_env
from ..languages import Language
from ..limits import Limits, parse_size
from ..output import DEFAULT_OUTPUT_LIMIT, STDERR, STDOUT
from ..plots import HOOK_DIR, PLOTS_DIR, plot_env
from .base import BaseExecutor, BlockRun, Call, RunControl, StopReason

__all__ = ["LocalExecutor"]

_SUPERVISOR = str(Path(__file__).resolve().parent.parent / "_supervisor.py")
_KILL_GRACE_S = 1.0  # how long the supervisor gets to kill the tree before it is killed itself


class LocalExecutor(BaseExecutor):
    """Run blocks as local processes in `work_dir` (a temporary directory when None).

    Python blocks run with the caller's interpreter (`sys.executable`), so the packages of the
    caller's environment are importable, as with AutoGen's `LocalCommandLineCodeExecutor`.
    """

    def __init__(
        self,
        *,
        work_dir: str | os.PathLike[str] | None = None,
        timeout: float = 60,
        output_limit: int = DEFAULT_OUTPUT_LIMIT,
        env: Mapping[str, str] | None = None,
        memory_limit: int | str | None = "4g",
        cpu_time_limit: float | None = None,
        file_size_limit: int | str | None = "1g",
        max_processes: int | None = 512,
        python: str | None = None,
        max_concurrency: int = 8,
    ) -> None:
        super().__init__(
            work_dir=work_dir, timeout=timeout, output_limit=output_limit, env=env, max_concurrency=max_concurrency
        )
        self.memory_limit = parse_size(memory_limit)
        self.file_size_limit = parse_size(file_size_limit)
        self.cpu_time_limit = cpu_time_limit
        self.max_processes = max_processes
        self.python = python or sys.executable
        self._home = tempfile.mkdtemp(prefix="sandbox-home-")

    # -- backend verbs -------------------------------------------------------------------------

    def _reset(self) -> None:
        shutil.rmtree(self._home, ignore_errors=True)
        os.makedirs(self._home, exist_ok=True)

    def _shutdown(self) -> None:
        shutil.rmtree(self._home, ignore_errors=True)

    def _run_block(
        self, *, index: int, language: Language, script: PurePosixPath, control: RunControl, call: Call
    ) -> BlockRun:
        argv = [*self._interpreter(language), str(script)]
        command = [sys.executable, "-I", "-S", _SUPERVISOR, "--ppid", str(os.getpid()), *self._rlimit_flags(control, call), "--", *argv]
        env = minimal_env(home=self._home, tmpdir=self._home, path=os.environ.get("PATH", ""), extra=call.env)
        env = plot_env(env, hook_dir=str(HOOK_DIR), plots_dir=str(self.work_dir / PLOTS_DIR))
        proc = subprocess.Popen(
            command,
            cwd=self.work_dir,
            env=env,
            stdin=subprocess.PIPE if call.stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # the caller's Ctrl-C is ours to forward, not the code's
            close_fds=True,
        )
        feeder = None
        if call.stdin:
            feeder = threading.Thread(target=_feed, args=(proc, call.stdin), name="sandbox-stdin", daemon=True)
            feeder.start()
        try:
            stop = self._pump(proc, index, control, call)
        finally:
            self._stop_tree(proc)
            assert proc.stdout is not None and proc.stderr is not None
            proc.stdout.close()
            proc.stderr.close()
            if feeder is not None:
                feeder.join()
        return BlockRun(exit_code=proc.returncode, stop_reason=stop)

    # -- mechanism -----------------------------------------------------------------------------

    def _interpreter(self, language: Language) -> list[str]:
        if language.runner == "python":
            return [self.python]
        if language.runner == "bash":
            return [shutil.which("bash") or "/bin/bash"]
        return ["/bin/sh"]

    def _rlimit_flags(self, control: RunControl, call: Call) -> list[str]:
        limits: list[tuple[str, int]] = []
        cpu = self.cpu_time_limit if self.cpu_time_limit is not None else max(control.remaining(), 1) + 1
        limits.append(("RLIMIT_CPU", int(cpu) + 1))
        own = Limits.effective(call.limits, memory=self.memory_limit, cpus=None, pids=self.max_processes)
        if own.memory_bytes is not None:
            limits.append(("RLIMIT_AS", own.memory_bytes))
        if self.file_size_limit is not None:
            limits.append(("RLIMIT_FSIZE", self.file_size_limit))
        if own.pids is not None and os.geteuid() != 0:
            # RLIMIT_NPROC counts every process of the user, not just ours: leave room above
            # what the user already runs, or an ordinary desktop session could not start one.
            limits.append(("RLIMIT_NPROC", _processes_of_user() + own.pids))
        flags: list[str] = []
        for name, value in limits:
            flags += ["--rlimit", f"{name}={value}"]
        return flags

    @staticmethod
    def _pump(proc: subprocess.Popen[bytes], index: int, control: RunControl, call: Call) -> StopReason | None:
        """Copy both pipes into the buffer until the process is gone or the run is stopped."""
        assert proc.stdout is not None and proc.stderr is not None
        streams = {proc.stdout.fileno(): STDOUT, proc.stderr.fileno(): STDERR}
        with selectors.DefaultSelector() as sel:
            for fd in streams:
                os.set_blocking(fd, False)
                sel.register(fd, selectors.EVENT_READ)
            while True:
                if control.remaining() <= 0:
                    control.stop(StopReason.TIMEOUT)
                if control.stopped:
                    return control.stop_reason
                wait = min(0.05, max(control.remaining(), 0.0))
                if not sel.get_map():  # pipes closed: wait for the exit itself, not a poll tick
                    try:
                        proc.wait(wait)
                        return None
                    except subprocess.TimeoutExpired:
                        continue  # the code closed its pipes but still runs
                for key, _ in sel.select(wait):
                    try:
                        data = os.read(key.fd, 65536)
                    except BlockingIOError:
                        continue
                    if data:
                        call.write(index, streams[key.fd], data)
                    else:
                        sel.unregister(key.fd)

    @staticmethod
    def _stop_tree(proc: subprocess.Popen[bytes]) -> None:
        """Have the supervisor kill the tree; if it does not finish in time, kill it and its group."""
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(_KILL_GRACE_S)
            except subprocess.TimeoutExpired:
                pass
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.wait()


def _feed(proc: subprocess.Popen[bytes], data: bytes) -> None:
    """Write the run's stdin, then close it; code that stops reading just loses the rest."""
    assert proc.stdin is not None
    try:
        proc.stdin.write(data)
    except (BrokenPipeError, OSError):
        pass
    finally:
        try:
            proc.stdin.close()
        except OSError:
            pass


def _processes_of_user() -> int:
    import psutil

    uid = os.getuid()
    count = 0
    for p in psutil.process_iter(["uids"]):
        try:
            if p.info["uids"] and p.info["uids"].real == uid:
                count += 1
        except (psutil.Error, TypeError):
            continue
    return count

"""What the benchmark measures: every runner behind one small interface, floors and peers included.

A subject is opened (its cold start), runs code (thread-safe when `concurrent`), and is
closed. The floors are what any runner pays at least: a bare `python -c` process, a
`docker run --rm`, a `docker exec` into a running container. The peers are AutoGen's
executors, installed from PyPI into the benchmark's own environment (scripts/bench).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IMAGE = "python:3.11-slim"


@dataclass(frozen=True)
class Ran:
    ok: bool
    output_bytes: int


class Subject:
    name = "?"
    kind = "ours"  # "floor", "ours" or "peer"
    concurrent = True  # may `run` be called from several threads at once
    work_dir: Path | None = None  # where a heartbeat file written by the code shows up, if anywhere

    def open(self) -> None: ...

    def run(self, code: str, timeout: float = 30) -> Ran:
        raise NotImplementedError

    def settle(self) -> None:
        """Let background work finish (a pool's refill) before a latency sample."""

    def close(self) -> None: ...


# -- floors -----------------------------------------------------------------------------------


class PythonC(Subject):
    name, kind = "python -c (floor)", "floor"

    def open(self) -> None:
        self.work_dir = Path(tempfile.mkdtemp(prefix="bench-py-"))

    def run(self, code: str, timeout: float = 30) -> Ran:
        try:
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=timeout, cwd=self.work_dir)
        except subprocess.TimeoutExpired as exc:  # kills the direct child only (cpython#76116)
            return Ran(False, len(exc.stdout or b""))
        return Ran(done.returncode == 0, len(done.stdout) + len(done.stderr))

    def close(self) -> None:
        if self.work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)


class DockerRun(Subject):
    name, kind = "docker run --rm (floor)", "floor"

    def run(self, code: str, timeout: float = 30) -> Ran:
        argv = ["docker", "run", "--rm", "--network", "none", IMAGE, "python3", "-c", code]
        done = subprocess.run(argv, capture_output=True, timeout=timeout + 30)
        return Ran(done.returncode == 0, len(done.stdout) + len(done.stderr))


class DockerExec(Subject):
    name, kind = "docker exec (floor)", "floor"

    def open(self) -> None:
        argv = ["docker", "run", "-d", "--rm", "--network", "none", "--label", "io.sandbox.bench=1", IMAGE, "sleep", "3600"]
        self.container = subprocess.run(argv, capture_output=True, check=True, text=True).stdout.strip()

    def run(self, code: str, timeout: float = 30) -> Ran:
        done = subprocess.run(["docker", "exec", self.container, "python3", "-c", code], capture_output=True, timeout=timeout + 30)
        return Ran(done.returncode == 0, len(done.stdout) + len(done.stderr))

    def close(self) -> None:
        subprocess.run(["docker", "rm", "-f", self.container], capture_output=True)


# -- ours -------------------------------------------------------------------------------------


class Ours(Subject):
    def __init__(self, name: str, factory: Callable[[], Any]) -> None:
        self.name = name
        self.factory = factory

    def open(self) -> None:
        self.executor = self.factory()
        self.work_dir = self.executor.work_dir

    def run(self, code: str, timeout: float = 30) -> Ran:
        from sandbox import CodeBlock

        result = self.executor.execute([CodeBlock(code, "python")], timeout=timeout)
        return Ran(result.ok, len(result.output.encode()) + result.truncated_bytes)

    def settle(self) -> None:
        pool = getattr(self.executor, "pool", None)
        if pool is not None:
            pool.wait_idle()

    def close(self) -> None:
        self.executor.close()


def ours() -> list[Subject]:
    from sandbox import DockerExecutor, LocalExecutor
    from sandbox.executors.pool import Pool

    return [
        Ours("ours: local", lambda: LocalExecutor(timeout=60)),
        Ours("ours: docker pooled", lambda: DockerExecutor(pool=Pool(size=4), timeout=60)),
        Ours("ours: docker pooled, reused netns", lambda: DockerExecutor(
            pool=Pool(size=4, reuse_network_namespaces=True), timeout=60)),
        Ours("ours: docker unpooled", lambda: DockerExecutor(pool=0, timeout=60)),
        Ours("ours: docker session", lambda: DockerExecutor(session=True, timeout=60)),
        Ours("ours: docker pooled, gVisor", lambda: DockerExecutor(pool=Pool(size=4), runtime="runsc", timeout=60)),
    ]


# -- AutoGen (the peer), driven from a private event loop ---------------------------------------


class AutoGen(Subject):
    kind = "peer"

    def __init__(self, docker: bool) -> None:
        self.docker = docker
        self.name = f"AutoGen {'DockerCommandLineCodeExecutor' if docker else 'LocalCommandLineCodeExecutor'}"

    def _await(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def open(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.work_dir = Path(tempfile.mkdtemp(prefix="bench-autogen-"))
        if self.docker:
            from autogen_ext.code_executors.docker import DockerCommandLineCodeExecutor

            self.executor: Any = DockerCommandLineCodeExecutor(image=IMAGE, work_dir=self.work_dir, timeout=60)
        else:
            from autogen_ext.code_executors.local import LocalCommandLineCodeExecutor

            self.executor = LocalCommandLineCodeExecutor(work_dir=self.work_dir, timeout=60)
        self._await(self.executor.start())

    def run(self, code: str, timeout: float = 30) -> Ran:
        from autogen_core import CancellationToken
        from autogen_core.code_executor import CodeBlock

        self.executor._timeout = timeout  # AutoGen takes its timeout at construction only
        result = self._await(self.executor.execute_code_blocks([CodeBlock(code=code, language="python")], CancellationToken()))
        return Ran(result.exit_code == 0, len(result.output.encode()))

    def close(self) -> None:
        try:
            self._await(self.executor.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
            self.loop.close()
            shutil.rmtree(self.work_dir, ignore_errors=True)


def peers() -> list[Subject]:
    return [AutoGen(docker=False), AutoGen(docker=True)]

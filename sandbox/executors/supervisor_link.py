"""The caller's end of a sandbox's resident supervisor (`sandbox/_supervisor.py --serve`).

One link per sandbox: jobs go out as frames on the sandbox's stdin, their output and exit
status come back as frames on its stdout, read by one thread that hands each job's bytes to
that job's sink as they arrive. How the bytes travel (a container's attach socket, a local
process's pipes) is a `Channel`'s business.
"""

from __future__ import annotations

import json
import struct
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .. import _supervisor as wire
from ..errors import SandboxError

__all__ = ["Channel", "Job", "SupervisorLink"]

Sink = Callable[[int, bytes], None]  # (1 stdout | 2 stderr, data)


class Channel(Protocol):
    def read(self) -> bytes:
        """The supervisor's next stdout bytes; b"" once the sandbox is gone."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None:
        """Release the transport; a `read` blocked in another thread returns b""."""

    def diagnostics(self) -> str:
        """What the supervisor wrote on its stderr, for error messages (may be empty)."""


@dataclass(eq=False)
class Job:
    """One script handed to the supervisor; `done` is set when it ended or the link died."""

    number: int
    sink: Sink
    done: threading.Event = field(default_factory=threading.Event)
    exit_code: int | None = None
    oom_kills: int | None = None  # None: the sandbox cannot see its cgroup's counter
    lost: bool = False  # the sandbox vanished before the job reported its end


class SupervisorLink:
    def __init__(self, channel: Channel, *, name: str = "sandbox") -> None:
        self._channel = channel
        self._jobs: dict[int, Job] = {}
        self._next = 1
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._ready = threading.Event()
        self._dead = threading.Event()
        self.hello: dict[str, Any] = {}
        self._reader = threading.Thread(target=self._read_loop, name=f"{name}-link", daemon=True)
        self._reader.start()

    @property
    def alive(self) -> bool:
        return not self._dead.is_set()

    def wait_ready(self, timeout: float) -> dict[str, Any]:
        """Block until the supervisor said hello; raise with its stderr if it died or stalled."""
        if not self._ready.wait(timeout) or not self.hello:
            detail = self._channel.diagnostics().strip() or "no output"
            raise SandboxError(
                f"the sandbox's supervisor did not start ({detail[-400:]}); the image needs `python3` "
                "(3.8 or newer) on its PATH"
            )
        return self.hello

    def run(
        self, argv: Sequence[str], *, env: Mapping[str, str], cwd: str, sink: Sink, stdin: bytes = b"",
        keep_leftovers: bool = False,
    ) -> Job:
        spec = json.dumps({"argv": list(argv), "env": dict(env), "cwd": cwd, "keep_leftovers": keep_leftovers}).encode()
        with self._lock:
            number, self._next = self._next, self._next + 1
            job = Job(number, sink)
            self._jobs[number] = job
        if self._dead.is_set():
            self._lose(job)
            return job
        self._send(wire.frame(wire.RUN, number, struct.pack(">I", len(spec)) + spec + stdin))
        return job

    def kill(self, job: Job) -> None:
        """Ask the supervisor to kill the job's whole process tree; `job.done` follows."""
        if not job.done.is_set():
            self._send(wire.frame(wire.KILL, job.number))

    def close(self) -> None:
        self._channel.close()
        self._reader.join(2)

    # -- the reader thread ---------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        try:
            with self._send_lock:
                self._channel.write(data)
        except OSError:
            self._die()  # the sandbox is gone; the reader sees EOF too

    def _read_loop(self) -> None:
        buffer = bytearray()
        size = wire.HEADER.size
        try:
            while chunk := self._channel.read():
                buffer += chunk
                while len(buffer) >= size:
                    kind, number, length = wire.HEADER.unpack_from(buffer)
                    if len(buffer) < size + length:
                        break
                    payload = bytes(buffer[size : size + length])
                    del buffer[: size + length]
                    self._dispatch(kind, number, payload)
        except (OSError, ValueError):
            pass  # the channel broke: the sandbox was killed or removed
        finally:
            self._die()

    def _dispatch(self, kind: int, number: int, payload: bytes) -> None:
        if kind == wire.READY:
            self.hello = json.loads(payload)
            self._ready.set()
            return
        with self._lock:
            job = self._jobs.get(number)
        if job is None:
            return
        if kind == wire.OUT or kind == wire.ERR:
            job.sink(1 if kind == wire.OUT else 2, payload)
        elif kind == wire.EXIT:
            report = json.loads(payload)
            job.exit_code = report.get("code")
            job.oom_kills = report.get("oom_kills")
            with self._lock:
                self._jobs.pop(number, None)
            job.done.set()

    def _die(self) -> None:
        self._dead.set()
        self._ready.set()  # wake a `wait_ready` that would otherwise wait for its timeout
        with self._lock:
            jobs, self._jobs = list(self._jobs.values()), {}
        for job in jobs:
            self._lose(job)

    @staticmethod
    def _lose(job: Job) -> None:
        job.lost = True
        job.done.set()

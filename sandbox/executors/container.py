"""One sandbox container: created locked down, its supervisor reached over the attach socket.

The container's only process (under the engine's init) is `sandbox/_supervisor.py --serve`,
handed to the image's `python3 -c`, so the image needs nothing of ours installed. We attach to
its stdin and stdout *before* starting it (so its hello cannot be missed) and keep that one
connection for the container's life: each job is a frame written on it, never a `docker exec`.

The container is created with `StdinOnce`: when the attach connection closes, even because
the caller was SIGKILLed, the engine closes the supervisor's stdin, the supervisor kills every
job and exits, and auto-remove deletes the container. `sandbox reap` is the backstop.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import docker.errors

from .docker_errors import translate
from .supervisor_link import SupervisorLink

__all__ = ["ContainerSandbox", "SUPERVISOR_COMMAND"]

_SOURCE = (Path(__file__).resolve().parent.parent / "_supervisor.py").read_text()
# -I -S: no site, no user paths, no PYTHON* variables: the supervisor starts in a few ms and
# nothing in the image's environment can change how it behaves.
SUPERVISOR_COMMAND = ["python3", "-I", "-S", "-c", _SOURCE, "--serve"]
_DOCKER_FRAME = struct.Struct(">BxxxL")
_STDERR_KEPT = 4096


class _AttachChannel:
    """The container's stdin and its multiplexed stdout/stderr, on one hijacked HTTP connection.

    docker-py's `attach_socket` returns the socket but not the HTTP response that owns it, so
    the socket could only be released by the garbage collector; we keep both and close both.
    """

    def __init__(self, api: Any, container_id: str) -> None:
        self._response = api._post(
            api._url("/containers/{0}/attach", container_id),
            headers={"Connection": "Upgrade", "Upgrade": "tcp"},
            params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1},
            stream=True,
        )
        api._raise_for_status(self._response)
        raw = api._get_raw_response_socket(self._response)
        self._sock: socket.socket = getattr(raw, "_sock", raw)
        self._buffer = bytearray()
        self._stderr = bytearray()
        self._closed = threading.Event()

    def read(self) -> bytes:
        """The supervisor's next stdout bytes; its stderr is kept aside for diagnostics."""
        while True:
            while len(self._buffer) >= _DOCKER_FRAME.size:
                stream, size = _DOCKER_FRAME.unpack_from(self._buffer)
                if len(self._buffer) < _DOCKER_FRAME.size + size:
                    break
                data = bytes(self._buffer[_DOCKER_FRAME.size : _DOCKER_FRAME.size + size])
                del self._buffer[: _DOCKER_FRAME.size + size]
                if stream == 1:
                    return data
                self._stderr += data
                del self._stderr[:-_STDERR_KEPT]
            if self._closed.is_set():
                return b""
            chunk = self._sock.recv(262144)
            if not chunk:
                return b""
            self._buffer += chunk

    def write(self, data: bytes) -> None:
        self._sock.sendall(data)

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        try:
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the reader blocked in recv()
        except OSError:
            pass
        try:
            self._sock.close()
            self._response.close()
        except Exception:
            pass  # closing what the engine already dropped

    def diagnostics(self) -> str:
        return self._stderr.decode("utf-8", "replace")


class ContainerSandbox:
    """A started container whose supervisor said hello; `destroy()` kills and removes it."""

    def __init__(self, client: docker.DockerClient, create_kwargs: dict[str, Any], *, image: str,
                 runtime: str | None, ready_timeout: float = 30, on_end: Callable[[], None] | None = None) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._destroyed = False
        self._on_end = on_end  # called once, after the container was retired or destroyed
        with translate(image=image, runtime=runtime):
            # Not detached, with stdin open: docker-py then sets AttachStdin and StdinOnce.
            self.container = client.containers.create(
                command=SUPERVISOR_COMMAND, stdin_open=True, tty=False, detach=False, **create_kwargs
            )
        try:
            with translate(image=image, runtime=runtime):
                self._channel = _AttachChannel(client.api, self.container.id)
            self.link = SupervisorLink(self._channel, name=f"sandbox-{self.container.short_id}")
            with translate(image=image, runtime=runtime):
                self.container.start()
            self.hello = self.link.wait_ready(ready_timeout)
        except BaseException:
            self.destroy()
            raise

    @property
    def id(self) -> str:
        return str(self.container.id)

    @property
    def alive(self) -> bool:
        return not self._destroyed and self.link.alive

    @staticmethod
    def force_remove(container: Any) -> None:
        try:
            container.remove(force=True)
        except Exception:  # already gone (auto-remove), its removal under way, or the engine away:
            pass  # cleanup never masks the outcome, and `sandbox reap` is the backstop

    def retire(self) -> None:
        """End an idle container without waiting: close the attach connection and let it go.

        StdinOnce turns the closed connection into EOF on the supervisor's stdin; it kills
        whatever is left and exits, and the engine's auto-remove deletes the container. No API
        call, so `close()` on a full pool returns at once; the engine's work happens after.
        Idempotent, never raises.
        """
        self._end(remove=False)

    def destroy(self) -> None:
        """Kill every process in the container at once and remove it; idempotent, never raises."""
        self._end(remove=True)

    def _end(self, *, remove: bool) -> None:
        with self._lock:
            if self._destroyed:
                return
            self._destroyed = True
        if remove:
            self.force_remove(self.container)
        link = getattr(self, "link", None)  # absent when the start failed halfway
        if link is not None:
            link.close()
        elif hasattr(self, "_channel"):
            self._channel.close()
        self._ended()

    def _ended(self) -> None:
        if self._on_end is not None:
            try:
                self._on_end()
            except Exception:
                pass  # a hook's failure must not turn a cleanup into an error

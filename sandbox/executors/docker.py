"""The Docker runner: every call in a fresh, locked-down container (or one kept per executor).

Hardened by default, each default a keyword away: a non-root user, no network, a read-only
root filesystem with a size-limited tmpfs on /tmp, all capabilities dropped,
no-new-privileges, memory with swap capped at the same value, a CPU quota, a pids limit,
`nofile` and `fsize` ulimits, and the engine's init (tini) as PID 1 to reap zombies.

How a call runs: the container starts with a sleeper as its only process, each block is a
`docker exec` streamed back frame by frame (so stdout and stderr stay apart and in order),
and on timeout or cancel the whole container is killed, which kills every process in it,
whatever it did to hide. The fresh container's sleeper also ends by itself a little after
the call's deadline, and the container is created with auto-remove, so a caller that dies
by SIGKILL leaves nothing running for long; `sandbox reap` removes what is left.

Ownership: the code runs as the caller's uid/gid, so the files it writes belong to the caller
on the host. A root caller's code runs as `SANDBOX_UID` instead, never as root: the workspace
is lent to that uid for the call and handed back to root afterwards.
"""

from __future__ import annotations

import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

import docker
import docker.errors
from docker.types import Ulimit
from docker.utils.socket import frames_iter

from ..environment import DEFAULT_PATH, minimal_env
from ..labels import owner_labels
from ..languages import Language
from ..limits import parse_size
from ..output import DEFAULT_OUTPUT_LIMIT, STDERR, STDOUT, OutputBuffer
from .base import BaseExecutor, BlockRun, RunControl
from ..errors import EngineUnavailableError, ImageNotFoundError
from .docker_errors import OFFLINE_IMAGE_HINT, engine_address, engine_unavailable, translate
from .ownership import hand_back, lend

__all__ = ["DEFAULT_IMAGE", "SANDBOX_UID", "DockerExecutor", "engine_answers"]

DEFAULT_IMAGE = "python:3.11-slim"
SANDBOX_UID = 65532  # the uid a root caller's code runs as (distroless "nonroot"); never 0
CONTAINER_WORKSPACE = "/workspace"
_SLEEPER_GRACE_S = 30  # a fresh container outlives its call's deadline by this much at most
_INTERPRETERS = {"python": "python3", "bash": "bash", "sh": "sh"}


class DockerExecutor(BaseExecutor):
    """Run blocks in Docker containers through docker-py, against the engine `DOCKER_HOST` names.

    `session=False` (default): a fresh container per `execute()`; state carries over only in
    the workspace. `session=True`: one container for the executor's life (AutoGen's model),
    replaced after a timeout, a cancel, an OOM kill or `restart()`.
    """

    def __init__(
        self,
        image: str = DEFAULT_IMAGE,
        *,
        work_dir: str | os.PathLike[str] | None = None,
        timeout: float = 60,
        output_limit: int = DEFAULT_OUTPUT_LIMIT,
        env: Mapping[str, str] | None = None,
        session: bool = False,
        network: bool | str = False,
        memory: int | str = "512m",
        cpus: float = 1.0,
        pids_limit: int = 256,
        tmpfs_size: int | str = "64m",
        nofile: int = 1024,
        file_size_limit: int | str = "256m",
        read_only: bool = True,
        user: str | None = None,
        runtime: str | None = None,
        auto_pull: bool = True,
        client: docker.DockerClient | None = None,
    ) -> None:
        self.image = image
        self.session = session
        self.network = network
        self.memory = parse_size(memory)
        self.cpus = cpus
        self.pids_limit = pids_limit
        self.tmpfs_size = parse_size(tmpfs_size)
        self.nofile = nofile
        self.file_size_limit = parse_size(file_size_limit)
        self.read_only = read_only
        self.runtime = runtime
        self.auto_pull = auto_pull
        self.id = uuid.uuid4().hex[:12]
        self._client = client or _connect()
        self._owns_client = client is None
        try:
            super().__init__(work_dir=work_dir, timeout=timeout, output_limit=output_limit, env=env)
            self.user = user or _default_user()
            self._lends = self.user.split(":")[0] == str(SANDBOX_UID) and os.geteuid() == 0
            self._ensure_image()
        except BaseException:
            if self._owns_client:
                self._client.close()
            if hasattr(self, "_workspace"):
                self._workspace.cleanup()
                self._state = type(self._state).CLOSED  # nothing to warn about in __del__
            raise
        self._containers: dict[RunControl, Any] = {}
        self._session_container: Any = None
        self._containers_lock = threading.Lock()

    # -- lifecycle of containers -------------------------------------------------------------

    def _begin_call(self, control: RunControl) -> None:
        if self._lends:
            lend(self.work_dir, SANDBOX_UID)
        if self.session:
            with self._containers_lock:
                if self._session_container is None:
                    self._session_container = self._start_container(sleep="infinity", mode="session")
                self._containers[control] = self._session_container
            return
        seconds = math.ceil(control.remaining()) + _SLEEPER_GRACE_S
        container = self._start_container(sleep=str(seconds), mode="fresh")
        with self._containers_lock:
            self._containers[control] = container

    def _end_call(self, control: RunControl) -> None:
        with self._containers_lock:
            container = self._containers.pop(control, None)
        try:
            if container is not None and (not self.session or control.stopped):
                self._discard(container)
        finally:
            if self._lends:
                hand_back(self.work_dir, SANDBOX_UID, os.getuid(), os.getgid())

    def _reset(self) -> None:
        with self._containers_lock:
            container, self._session_container = self._session_container, None
        if container is not None:
            self._remove(container)

    def _shutdown(self) -> None:
        with self._containers_lock:
            leftovers = {c.id: c for c in self._containers.values()}
            if self._session_container is not None:
                leftovers[self._session_container.id] = self._session_container
            self._containers.clear()
            self._session_container = None
        threads = [threading.Thread(target=self._remove, args=(c,), daemon=True) for c in leftovers.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join(5)
        if self._owns_client:
            self._client.close()

    def _start_container(self, *, sleep: str, mode: str) -> Any:
        host_config: dict[str, Any] = dict(
            image=self.image,
            command=["sleep", sleep],
            init=True,  # tini as PID 1 reaps the zombies the code leaves
            user=self.user,
            working_dir=CONTAINER_WORKSPACE,
            environment=minimal_env(home="/tmp", tmpdir="/tmp", path=DEFAULT_PATH, extra=self.env),
            volumes={str(self.work_dir): {"bind": CONTAINER_WORKSPACE, "mode": "rw"}},
            network_mode=self.network if isinstance(self.network, str) else ("bridge" if self.network else "none"),
            read_only=self.read_only,
            tmpfs={"/tmp": f"rw,nosuid,nodev,size={self.tmpfs_size},mode=1777"},
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            mem_limit=self.memory,
            memswap_limit=self.memory,  # swap capped at the memory limit: no swapping past it
            nano_cpus=int(self.cpus * 1e9),
            pids_limit=self.pids_limit,
            ulimits=[
                Ulimit(name="nofile", soft=self.nofile, hard=self.nofile),
                Ulimit(name="fsize", soft=self.file_size_limit, hard=self.file_size_limit),
            ],
            labels=owner_labels(executor_id=self.id, mode=mode),
            auto_remove=mode == "fresh",
            detach=True,
        )
        if self.runtime:
            host_config["runtime"] = self.runtime
        with translate(image=self.image, runtime=self.runtime):
            return self._client.containers.run(**host_config)

    def _discard(self, container: Any) -> None:
        """Remove a container; if it was the session's, the next call starts a new one."""
        self._remove(container)
        with self._containers_lock:
            if self._session_container is container:
                self._session_container = None

    def _remove(self, container: Any) -> None:
        try:
            container.remove(force=True)
        except (docker.errors.NotFound, docker.errors.APIError):
            pass  # already gone (auto-remove), or removal already in progress
        except Exception:  # never let cleanup mask the real outcome; the reaper is the backstop
            pass

    def _ensure_image(self) -> None:
        with translate(image=self.image):
            try:
                self._client.images.get(self.image)
                return
            except docker.errors.ImageNotFound:
                if not self.auto_pull:
                    raise
            try:
                self._client.images.pull(self.image)
            except docker.errors.APIError as exc:  # no registry, no such image, no credentials
                raise ImageNotFoundError(
                    f"image {self.image!r} is not here and pulling it failed ({exc.explanation or exc}): "
                    + OFFLINE_IMAGE_HINT.format(image=self.image)
                ) from exc

    # -- one block ------------------------------------------------------------------------------

    def _run_block(
        self, *, index: int, language: Language, script: PurePosixPath, control: RunControl, output: OutputBuffer
    ) -> BlockRun:
        with self._containers_lock:
            container = self._containers[control]
        api = self._client.api
        started = time.time() - 1  # event timestamps have whole-second precision on old engines
        argv = [_INTERPRETERS[language.runner or "sh"], f"{CONTAINER_WORKSPACE}/{script}"]
        with translate(image=self.image, runtime=self.runtime):
            exec_id = api.exec_create(container.id, argv, workdir=CONTAINER_WORKSPACE, user=self.user)["Id"]
            stream = _ExecStream(api, exec_id)
        done = threading.Event()

        def pump() -> None:
            try:
                for stream_id, data in stream.frames():
                    output.write(index, STDERR if stream_id == 2 else STDOUT, data)
            except Exception:  # the stream breaks when we kill the container: expected
                pass  # the outcome comes from the stop reason or exec_inspect, not from here
            finally:
                done.set()

        reader = threading.Thread(target=pump, name=f"sandbox-exec-{index}", daemon=True)
        reader.start()
        stop = control.wait(done)
        if stop is not None:
            self._remove(container)  # kills every process of the run at once
            reader.join(0.2)  # let the engine relay what the code wrote before the kill
            stream.close()  # under runsc the engine may leave the stream open: end it ourselves
            reader.join(2)
            return BlockRun(exit_code=None, stop_reason=stop)
        reader.join()
        stream.close()
        with translate(image=self.image):
            exit_code = api.exec_inspect(exec_id).get("ExitCode")
            oom = exit_code == 137 and self._oom_killed(container, started)
        if oom and self.session:
            self._discard(container)  # the OOM killer may have hit the session's own processes
        return BlockRun(
            exit_code=exit_code,
            oom_killed=oom,
            message=f"killed: the run exceeded its memory limit of {(self.memory or 0) / 2**20:g} MiB" if oom else "",
        )

    def _oom_killed(self, container: Any, since: float) -> bool:
        """Did the kernel's OOM killer act in this container since `since`?

        `State.OOMKilled` is only set when the container itself exits, and here the killed
        process is an exec'd one while the container lives on; the engine does emit an `oom`
        event at once, on cgroup v1 and v2 and for remote engines alike, so we ask for it.
        The event travels from containerd to the engine asynchronously: look a few times.
        """
        for attempt in range(5):
            now = time.time()
            try:
                events = self._client.api.events(
                    since=f"{since:.3f}", until=f"{now:.3f}", filters={"container": container.id, "event": "oom"},
                    decode=True,
                )
                if any(True for _ in events):
                    return True
            except (docker.errors.APIError, ValueError):
                return False
            time.sleep(0.05 * (attempt + 1))
        return False


def engine_answers(timeout: float = 3) -> bool:
    """Whether a Docker engine answers at the address DOCKER_HOST names within `timeout` s (never raises)."""
    try:
        _connect(timeout).close()
    except EngineUnavailableError:
        return False
    return True


def _connect(timeout: float = 30) -> docker.DockerClient:
    """A client for the engine DOCKER_HOST names, checked with a ping; fails with the fix named."""
    address = engine_address()
    if address.startswith("unix://"):
        # Probe the socket ourselves: docker-py leaks its socket when its constructor's version
        # probe cannot connect, and "No such file or directory" is the clearer message anyway.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.settimeout(min(timeout, 5))
                probe.connect(address[len("unix://"):])
            except OSError as exc:
                raise engine_unavailable(exc.strerror or type(exc).__name__) from None
    client = None
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except Exception as exc:  # docker-py raises DockerException or requests errors here
        if client is not None:
            client.close()
        raise engine_unavailable(type(exc).__name__ if not str(exc) else str(exc).split("(")[0].strip()) from exc
    return client


class _ExecStream:
    """The attached output of one exec, as (stream id, bytes) frames in the engine's order.

    docker-py's `exec_start(stream=True)` hands back a generator whose upgraded socket is only
    released by the garbage collector (a ResourceWarning per call, and descriptors piling up
    until then); here we keep the HTTP response and close it, and its socket, ourselves.
    """

    def __init__(self, api: Any, exec_id: str) -> None:
        self._response = api._post_json(
            api._url("/exec/{0}/start", exec_id),
            headers={"Connection": "Upgrade", "Upgrade": "tcp"},
            data={"Tty": False, "Detach": False},
            stream=True,
        )
        api._raise_for_status(self._response)
        self._socket = api._get_raw_response_socket(self._response)

    def frames(self) -> Any:
        return frames_iter(self._socket, tty=False)

    def close(self) -> None:
        try:
            raw = getattr(self._socket, "_sock", None)
            if raw is not None:
                raw.shutdown(socket.SHUT_RDWR)  # wakes a reader blocked on it; close() alone does not
            self._response.close()
            if raw is not None:
                raw.close()
        except Exception:
            pass  # closing a socket the engine already dropped


def _default_user() -> str:
    uid, gid = os.getuid(), os.getgid()
    if uid == 0:
        return f"{SANDBOX_UID}:{SANDBOX_UID}"
    return f"{uid}:{gid}"

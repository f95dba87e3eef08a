"""The Docker runner: every call in a fresh, locked-down container (or one kept per executor).

Hardened by default, each default a keyword away: a non-root user, no network, a read-only
root filesystem with a size-limited tmpfs on /tmp, all capabilities dropped,
no-new-privileges, memory with swap capped at the same value, a CPU quota, a pids limit,
`nofile` and `fsize` ulimits, and the engine's init (tini) as PID 1 to reap zombies.

How a call runs: each container's only process is our supervisor (`sandbox/_supervisor.py`,
see `container.py`), reached over the container's attach socket; a block is a frame sent to
it, its output comes back frame by frame, stdout and stderr apart, in the order it read them.
No `docker exec` per block. Fresh mode takes a never-used container from a pool started
ahead of time (`pool=Pool(size=...)`; `pool=0` starts one per call) and destroys it after
the call; session mode keeps one container for the executor's life. On timeout or cancel, a
fresh container is removed, which kills everything in it at once; in a session, the
supervisor kills the run's whole process tree and the container lives on.

Ownership: the code runs as the caller's uid/gid, so the files it writes belong to the caller
on the host. A root caller's code runs as `SANDBOX_UID` instead, never as root: the workspace
is lent to that uid while calls run and handed back to root afterwards.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import docker
import docker.errors
from docker.types import Ulimit

from ..environment import DEFAULT_PATH, minimal_env
from ..errors import EngineUnavailableError, ImageNotFoundError
from ..labels import EXECUTOR, MODE, owner_labels
from ..languages import Language
from ..limits import Limits, parse_size
from ..output import DEFAULT_OUTPUT_LIMIT
from ..plots import HOOK_DIR, PLOTS_DIR, plot_env
from .allowlist import check_network_options
from .base import BaseExecutor, BlockRun, Call, RunControl
from .container import ContainerSandbox
from .docker_errors import OFFLINE_IMAGE_HINT, engine_address, engine_unavailable, translate
from .ownership import Loan
from .egress import EgressPolicy, networked_runtime
from .lanes import NamespaceLanes
from .pool import Pool, SandboxPool

if TYPE_CHECKING:
    from .images import Requirement, Requirements

__all__ = ["DEFAULT_IMAGE", "SANDBOX_UID", "DockerExecutor", "Pool", "engine_answers"]

DEFAULT_IMAGE = "python:3.11-slim"
SANDBOX_UID = 65532  # the uid a root caller's code runs as (distroless "nonroot"); never 0
CONTAINER_WORKSPACE = "/workspace"
CONTAINER_PLOT_HOOK = "/opt/sandbox-plot-hook"  # sandbox/_plot_hook, bind-mounted read-only
_INTERPRETERS = {"python": "python3", "bash": "bash", "sh": "sh"}
_SESSION_KILL_GRACE_S = 2.0  # a session's supervisor gets this long to kill a run's tree


class DockerExecutor(BaseExecutor):
    """Run blocks in Docker containers through docker-py, against the engine `DOCKER_HOST` names.

    `session=False` (default): every `execute()` gets a container nobody used before; state
    carries over only in the workspace. `pool` says how many are started ahead of time (an
    int, or `Pool(size=..., when_empty="wait" | "start")`). `session=True`: one container for
    the executor's life (AutoGen's model); it is replaced only if it dies or on `restart()`.
    Thread-safe: calls from several threads run at once, up to `max_concurrency`.

    Network: none by default (only loopback). `allow_hosts=["host", "host:port", "*.suffix"]`
    lets the code reach only those, through a filtering proxy outside the sandbox (see
    `sandbox.executors.egress`; its decisions: `executor.egress.events()`), reaching out via
    `egress_network` (default: the engine's bridge). `network=True` (the default bridge) or a
    network name gives the code that whole network, unfiltered: dangerous, for trusted code.
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
        pool: int | Pool = 1,
        max_concurrency: int = 8,
        network: bool | str = False,
        allow_hosts: Sequence[str] | None = None,
        egress_network: str | None = None,
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
        requirements: Requirements | Sequence[Requirement] | None = None,
        client: docker.DockerClient | None = None,
    ) -> None:
        egress_rules = check_network_options(network=network, allow_hosts=allow_hosts, egress_network=egress_network)
        self.image = image
        self.base_image = image  # `image` becomes a derived image's tag when requirements are given
        self.session = session
        self.pool_policy = pool if isinstance(pool, Pool) else Pool(size=pool)
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
        self._calls: dict[RunControl, ContainerSandbox] = {}
        self._session_sandbox: ContainerSandbox | None = None
        self._sandboxes_lock = threading.Lock()
        self._session_lock = threading.Lock()
        self._pool: SandboxPool[ContainerSandbox] | None = None
        self._lanes: NamespaceLanes | None = None
        self.egress: EgressPolicy | None = None
        try:
            super().__init__(
                work_dir=work_dir, timeout=timeout, output_limit=output_limit, env=env, max_concurrency=max_concurrency
            )
            self.user = user or _default_user()
            lends = self.user.split(":")[0] == str(SANDBOX_UID) and os.geteuid() == 0
            self._loan = Loan(self.work_dir, SANDBOX_UID) if lends else None
            self._ensure_image()
            if requirements:  # run in `image` plus these packages, built once (sandbox.executors.images)
                from .images import ensure_derived_image

                self.image = ensure_derived_image(self._client, self.image, requirements, owner=self.id, runtime=runtime).tag
            if self.pool_policy.reuse_network_namespaces and not session:
                if network is not False or egress_rules:
                    raise ValueError(
                        "Pool(reuse_network_namespaces=True) only applies to sandboxes without a network; "
                        "drop it, or drop network= / allow_hosts="
                    )
                self._lanes = NamespaceLanes(lambda: self._start_sandbox("anchor"))
            if network or egress_rules:  # a runsc registered with --network=none needs its networked twin
                with translate(runtime=runtime):
                    self.runtime = networked_runtime(self._client.info().get("Runtimes") or {}, runtime)
            if egress_rules:
                self.egress = EgressPolicy.open(
                    self._client, allow_hosts=egress_rules, image=image,
                    labels=owner_labels(executor_id=self.id, mode="egress"), runtime=self.runtime,
                    egress_network=egress_network,
                )
            if not session:
                self._pool = SandboxPool(
                    self.pool_policy, start=lambda: self._start_sandbox("fresh"), destroy=ContainerSandbox.retire,
                    name=f"pool-{self.id}",
                )
        except BaseException:
            if self.egress is not None:
                self.egress.close()
            if self._owns_client:
                self._client.close()
            if hasattr(self, "_workspace"):
                self._workspace.cleanup()
                self._state = type(self._state).CLOSED  # nothing to warn about in __del__
            raise

    @property
    def pool(self) -> SandboxPool[ContainerSandbox] | None:
        """The fresh-mode pool (None in session mode); `pool.wait_ready()` helps benchmarks."""
        return self._pool

    # -- lifecycle of sandboxes --------------------------------------------------------------

    def _check_limits(self, limits: Limits | None) -> None:
        if limits is not None and self.session and (limits.memory or limits.cpus or limits.pids):
            raise ValueError(
                "per-call limits need a container of the call's own; a session's container is shared by "
                "every call: set memory=/cpus=/pids_limit= on the executor, or use session=False"
            )

    def _begin_call(self, control: RunControl, call: Call) -> None:
        if self._loan is not None:
            self._loan.begin()
        try:
            sandbox = self._session() if self.session else self._fresh_sandbox(control, call)
        except BaseException:
            if self._loan is not None:
                self._loan.end()
            raise
        with self._sandboxes_lock:
            self._calls[control] = sandbox

    def _fresh_sandbox(self, control: RunControl, call: Call) -> ContainerSandbox:
        """A never-used container for this call, with the call's limits set on it."""
        assert self._pool is not None
        sandbox = self._pool.acquire(max(control.remaining(), 1.0) + 30)
        if call.limits is None or self._apply_limits(sandbox, call.limits):
            return sandbox
        # The runtime cannot change a running container's limits (gVisor cannot): this call
        # gets a container created with them instead.
        self._pool.retire(sandbox)
        return self._start_sandbox("fresh", call.limits)

    def _apply_limits(self, sandbox: ContainerSandbox, limits: Limits) -> bool:
        """Set this call's limits on its container before the code starts (it serves no other call).

        False when the engine or runtime refused the update.
        """
        update: dict[str, int] = {}
        if limits.memory_bytes:
            update["Memory"] = update["MemorySwap"] = limits.memory_bytes  # no swap past it, as at creation
        if limits.cpus:
            update["NanoCpus"] = int(limits.cpus * 1e9)
        if limits.pids:
            update["PidsLimit"] = limits.pids
        if not update:
            return True
        api = self._client.api
        try:  # docker-py's update_container has no pids limit: post the engine's own request
            api._raise_for_status(api._post_json(api._url("/containers/{0}/update", sandbox.id), data=update))
        except docker.errors.APIError:
            return False
        return True

    def _end_call(self, control: RunControl) -> None:
        with self._sandboxes_lock:
            sandbox = self._calls.pop(control, None)
        try:
            if sandbox is not None and not self.session:
                assert self._pool is not None
                self._pool.retire(sandbox)
        finally:
            if self._loan is not None and sandbox is not None:
                self._loan.end()

    def _session(self) -> ContainerSandbox:
        with self._session_lock:
            current = self._session_sandbox
            if current is None or not current.alive:
                if current is not None:
                    current.destroy()
                current = self._session_sandbox = self._start_sandbox("session")
            return current

    def _drop_session(self, sandbox: ContainerSandbox) -> None:
        with self._session_lock:
            if self._session_sandbox is sandbox:
                self._session_sandbox = None
        sandbox.destroy()

    def _reset(self) -> None:
        with self._session_lock:
            sandbox, self._session_sandbox = self._session_sandbox, None
        if sandbox is not None:
            sandbox.destroy()

    def _shutdown(self) -> None:
        # Calls in flight were cancelled just before: their containers are killed outright.
        # Idle ones (the session's, the pool's) are retired: they end themselves at once.
        with self._sandboxes_lock:
            running = list(self._calls.values())
        with self._session_lock:
            session, self._session_sandbox = self._session_sandbox, None
        threads = [threading.Thread(target=sb.destroy, daemon=True) for sb in running]
        for t in threads:
            t.start()
        if session is not None:
            session.retire()
        if self._pool is not None:
            self._pool.close()  # waits only for starts in flight, which then retire themselves
        if self._lanes is not None:
            self._lanes.close()
        for t in threads:
            t.join(5)
        try:
            self._await_gone()
            if self.egress is not None:  # after the sandboxes: a network with endpoints cannot go
                self.egress.close()
        finally:
            if self._owns_client:
                self._client.close()

    def _await_gone(self, timeout: float = 2.0) -> None:
        """Return once the engine has removed every container of this executor (force what lingers)."""
        labels = {"label": [f"{EXECUTOR}={self.id}"]}
        deadline = time.monotonic() + timeout
        try:
            while left := [
                c for c in self._client.containers.list(all=True, filters=labels, ignore_removed=True)
                if c.labels.get(MODE) != "egress"  # the proxy is the egress policy's to remove
            ]:
                if time.monotonic() > deadline:
                    for container in left:
                        ContainerSandbox.force_remove(container)
                    return
                time.sleep(0.05)
        except docker.errors.APIError:
            pass  # the engine went away: nothing more to do here; `sandbox reap` is the backstop

    def _start_sandbox(self, mode: str, limits: Limits | None = None) -> ContainerSandbox:
        own = self._limits(limits)
        create: dict[str, Any] = dict(
            image=self.image,
            init=True,  # tini as PID 1 reaps the zombies the code leaves
            user=self.user,
            working_dir=CONTAINER_WORKSPACE,
            environment=self._job_env({}),
            volumes={
                str(self.work_dir): {"bind": CONTAINER_WORKSPACE, "mode": "rw"},
                str(HOOK_DIR): {"bind": CONTAINER_PLOT_HOOK, "mode": "ro"},
            },
            network_mode=self.network if isinstance(self.network, str) else ("bridge" if self.network else "none"),
            read_only=self.read_only,
            tmpfs={"/tmp": f"rw,nosuid,nodev,size={self.tmpfs_size},mode=1777"},
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            mem_limit=own.memory_bytes,
            memswap_limit=own.memory_bytes,  # swap capped at the memory limit: no swapping past it
            nano_cpus=int((own.cpus or self.cpus) * 1e9),
            pids_limit=own.pids,
            ulimits=[
                Ulimit(name="nofile", soft=self.nofile, hard=self.nofile),
                Ulimit(name="fsize", soft=self.file_size_limit, hard=self.file_size_limit),
            ],
            labels=owner_labels(executor_id=self.id, mode=mode),
            auto_remove=True,
        )
        if self.egress is not None:  # the internal network, the proxy as DNS, /etc/hosts for TCP forwards
            create.update(self.egress.container_options())
        if self.runtime:
            create["runtime"] = self.runtime
        if self._lanes is None or mode != "fresh":
            return ContainerSandbox(self._client, create, image=self.image, runtime=self.runtime)
        lanes = self._lanes
        anchor = lanes.take()
        create["network_mode"] = f"container:{anchor.id}"
        try:
            return ContainerSandbox(
                self._client, create, image=self.image, runtime=self.runtime, on_end=lambda: lanes.give_back(anchor)
            )
        except BaseException:
            lanes.give_back(anchor)
            raise

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
        self, *, index: int, language: Language, script: PurePosixPath, control: RunControl, call: Call
    ) -> BlockRun:
        with self._sandboxes_lock:
            sandbox = self._calls[control]
        started = time.time() - 1  # event timestamps have whole-second precision on old engines
        argv = [_INTERPRETERS[language.runner or "sh"], f"{CONTAINER_WORKSPACE}/{script}"]
        job = sandbox.link.run(
            argv,
            env=self._job_env(call.env),
            cwd=CONTAINER_WORKSPACE,
            stdin=call.stdin,
            sink=lambda stream, data: call.write(index, stream, data),
            keep_leftovers=self.session,  # a session keeps what the code started in the background
        )
        stop = control.wait(job.done)
        if stop is not None:
            if self.session:
                sandbox.link.kill(job)
                if not job.done.wait(_SESSION_KILL_GRACE_S):
                    self._drop_session(sandbox)  # the supervisor did not answer: start over
            else:
                sandbox.destroy()  # kills every process of the run at once
            return BlockRun(exit_code=None, stop_reason=stop)
        memory = self._limits(call.limits).memory_bytes
        if job.lost:  # the container died under the run: the OOM killer, or the code killed our supervisor
            oom = self._oom_killed(sandbox, started)
            if self.session:
                self._drop_session(sandbox)
            return BlockRun(
                exit_code=137, oom_killed=oom,
                message=self._oom_message(memory) if oom else
                "the sandbox died during the run (the code killed its supervisor, or the container was removed)",
            )
        exit_code = job.exit_code
        oom = exit_code == 137 and (
            job.oom_kills > 0 if job.oom_kills is not None else self._oom_killed(sandbox, started)
        )
        return BlockRun(exit_code=exit_code, oom_killed=oom, message=self._oom_message(memory) if oom else "")

    def _limits(self, limits: Limits | None) -> Limits:
        return Limits.effective(limits, memory=self.memory, cpus=self.cpus, pids=self.pids_limit)

    def _job_env(self, extra: Mapping[str, str]) -> dict[str, str]:
        """A run's environment: the minimal one, the proxy's variables, the caller's, the plots hook."""
        proxy = dict(self.egress.environment) if self.egress is not None else {}
        env = minimal_env(home="/tmp", tmpdir="/tmp", path=DEFAULT_PATH, extra={**proxy, **extra})
        return plot_env(env, hook_dir=CONTAINER_PLOT_HOOK, plots_dir=f"{CONTAINER_WORKSPACE}/{PLOTS_DIR}")

    @staticmethod
    def _oom_message(memory: int | None) -> str:
        return f"killed: the run exceeded its memory limit of {(memory or 0) / 2**20:g} MiB"

    def _oom_killed(self, sandbox: ContainerSandbox, since: float) -> bool:
        """Did the kernel's OOM killer act in this container since `since`? (When it cannot see its cgroup.)

        The supervisor reads the cgroup's own OOM-kill counter where it can (runc, cgroup v1
        and v2). Where it cannot (gVisor has no cgroupfs), the engine's `oom` event says it:
        `State.OOMKilled` is only set when the container itself exits, and the killed process
        is one of many. The event travels from containerd to the engine asynchronously: look
        a few times.
        """
        for attempt in range(5):
            now = time.time()
            try:
                events = self._client.api.events(
                    since=f"{since:.3f}", until=f"{now:.3f}", filters={"container": sandbox.id, "event": "oom"},
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


def _default_user() -> str:
    uid, gid = os.getuid(), os.getgid()
    if uid == 0:
        return f"{SANDBOX_UID}:{SANDBOX_UID}"
    return f"{uid}:{gid}"

"""The abuse suite's harness: hostile code against every backend, three checks per case.

Each case asserts the outcome it expects in its own body. The `target` fixture then asserts
the other two things every case owes, after the body, so that no case can forget them:

- the engine keeps working: the next run on each executor the case made (still open)
  succeeds, and so does a run on a new executor of the same backend;
- nothing leaks: every executor is closed, then no container of the case is left (the
  `make_executor` fixture), no process of the test (ditto) or of the case's containers (a
  runsc sandbox or a shim) is left on the host, every temporary directory the engine made is
  gone, and every host file the case planted is unchanged.

The main matrix is the fresh-container one (`local`, `docker`, `docker-runsc`, and whatever
`tests/conftest.py` adds to BACKENDS). `docker-session` runs only the cases marked
`@pytest.mark.session`; for the others it is deselected, not skipped. A case that is not
meaningful for the local runner skips it with a reason starting "n/a:"; a Docker backend
never skips (the harness fails instead).
"""

from __future__ import annotations

import hashlib
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from backends import DOCKER_BACKENDS  # tests/backends.py (pytest puts tests/ on sys.path)
from sandbox import CodeBlock, CodeExecutor, ExecutionResult

SESSION_BACKEND = "docker-session"
# What the keywords of a case mean for each kind of executor.
_LOCAL_NAMES = {"memory": "memory_limit", "pids_limit": "max_processes"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "session: the case also runs on the docker-session backend")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The session backend runs only the cases marked for it; the rest are deselected."""
    here = Path(__file__).parent
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        in_suite = here in Path(str(item.fspath)).parents
        if in_suite and params.get("backend") == SESSION_BACKEND and item.get_closest_marker("session") is None:
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _fingerprint(path: Path) -> tuple[Any, ...]:
    """What must not change about a host file: content, owner, mode, and that it is a file."""
    st = path.lstat()
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() and not path.is_symlink() else ""
    return (st.st_uid, st.st_gid, st.st_mode, st.st_size, st.st_mtime_ns, digest)


@dataclass
class Target:
    """One backend under attack, with the helpers a case needs."""

    backend: str
    make: Callable[..., CodeExecutor]
    tmp: Path  # the test's own directory on the host, outside every workspace
    executors: list[CodeExecutor] = field(default_factory=list)
    host_files: dict[Path, tuple[Any, ...]] = field(default_factory=dict)

    @property
    def is_docker(self) -> bool:
        return self.backend in DOCKER_BACKENDS

    @property
    def runtime(self) -> str | None:
        runtime: str | None = DOCKER_BACKENDS.get(self.backend, {}).get("runtime")
        return runtime

    @property
    def is_gvisor(self) -> bool:
        return self.runtime == "runsc"

    @property
    def is_session(self) -> bool:
        return bool(DOCKER_BACKENDS.get(self.backend, {}).get("session"))

    def not_applicable(self, reason: str) -> None:
        """Skip a case that means nothing for the local runner; a Docker backend never skips."""
        if self.is_docker:
            pytest.fail(f"a Docker backend must not skip a case: {reason}")
        pytest.skip(f"n/a: {reason}")

    def executor(self, **limits: Any) -> CodeExecutor:
        """An executor of this backend; `memory=` and `pids_limit=` mean the same on both kinds."""
        if not self.is_docker:
            limits = {_LOCAL_NAMES.get(k, k): v for k, v in limits.items()}
        limits.setdefault("timeout", 20)
        ex = self.make(**limits)
        self.executors.append(ex)
        return ex

    def run(
        self, code: str, language: str = "python", *, executor: CodeExecutor | None = None, timeout: float = 20,
        filename: str | None = None,
    ) -> ExecutionResult:
        """Run one block (dedented) and return its result."""
        ex = executor or (self.executors[-1] if self.executors else self.executor())
        return ex.execute([CodeBlock(textwrap.dedent(code), language, filename)], timeout=timeout)

    def plant(self, name: str, content: bytes = b"host secret\n") -> Path:
        """A host file outside every workspace; the harness checks it is unchanged at the end."""
        path = self.tmp / "host" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        self.watch(path)
        return path

    def watch(self, path: Path) -> None:
        """Check at the end that an existing host file (or directory entry) is unchanged."""
        self.host_files[path] = _fingerprint(path)


# -- the checks after every case ------------------------------------------------------------

def _container_ids(executors: list[Any], since: float) -> set[str]:
    """Every container the case's executors created, from the engine's event log."""
    from sandbox.executors.docker import _connect
    from sandbox.labels import EXECUTOR

    ids = [ex.id for ex in executors if hasattr(ex, "image")]
    if not ids:
        return set()
    client = _connect()
    try:
        found: set[str] = set()
        for ex_id in ids:
            events = client.api.events(
                since=f"{since:.3f}", until=f"{time.time():.3f}", decode=True,
                filters={"type": "container", "event": "create", "label": f"{EXECUTOR}={ex_id}"},
            )
            found.update(e["id"] for e in events if e.get("id"))
        return found
    finally:
        client.close()


def _host_processes_of(container_ids: set[str]) -> list[str]:
    """Host processes that still name one of the containers: a runsc sandbox or gofer, a shim."""
    left = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(proc.info.get("cmdline") or [])
        if any(cid in cmdline for cid in container_ids):
            left.append(f"{proc.info['pid']}: {cmdline[:120]}")
    return left


def _engine_keeps_working(target: Target) -> None:
    """The next run on each open executor of the case, and a run on a new one, succeed.

    The runs go in parallel (different executors are independent): this check follows every
    case of the suite, so its time counts many times over.
    """
    def hello(ex: CodeExecutor, text: str) -> ExecutionResult:
        return ex.execute([CodeBlock(f"print({text!r})", "python")], timeout=30)

    fresh = target.make(timeout=30)
    runs = [(ex, "next run on the same executor") for ex in target.executors if not ex.closed]  # type: ignore[attr-defined]
    target.executors.append(fresh)
    runs.append((fresh, "a run on a new executor"))
    with ThreadPoolExecutor(len(runs)) as pool:
        results = list(pool.map(lambda run: hello(*run), runs))
    for (_, what), result in zip(runs, results):
        assert result.ok and result.stdout == what + "\n", f"{what} failed: {result}"


def _nothing_leaked(target: Target, engine_tmp: Path, since: float) -> None:
    containers = _container_ids(target.executors, since) if target.is_docker else set()
    for ex in target.executors:
        ex.close()
    deadline = time.monotonic() + 10
    while (left := _host_processes_of(containers)) and time.monotonic() < deadline:
        time.sleep(0.1)  # a runsc sandbox exits a moment after its container is removed
    assert not left, f"host processes of the case's containers left behind: {left}"
    leftovers = sorted(p.name for p in engine_tmp.iterdir())
    assert not leftovers, f"temporary directories left behind: {leftovers}"
    for path, before in target.host_files.items():
        assert path.exists() or path.is_symlink(), f"host file {path} was removed"
        assert _fingerprint(path) == before, f"host file {path} was changed"


@pytest.fixture
def target(
    backend: str, make_executor: Callable[..., CodeExecutor], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Target]:
    """The backend under attack; after the case, asserts the engine works and nothing leaked."""
    # Every temporary directory the engine makes (workspaces, the local runner's home) lands
    # here, so "no temp dir left" is checked without racing other programs on the shared /tmp.
    engine_tmp = tmp_path / "engine-tmp"
    engine_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(engine_tmp))
    since = time.time() - 1  # event timestamps have whole-second precision on old engines
    t = Target(backend=backend, make=make_executor, tmp=tmp_path)
    yield t
    _engine_keeps_working(t)
    _nothing_leaked(t, engine_tmp, since)

"""The executor fixture: one conformance suite, stamped out over every backend.

Docker tests never skip silently in CI: with SANDBOX_REQUIRE_DOCKER=1 (set by scripts/test
when CI=true) a missing engine or image fails the run. Every executor a test makes is closed
by the fixture, and the fixture then checks that nothing leaked: no container of that
executor left on the engine, no process left under the test process.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import psutil
import pytest

from backends import BACKENDS, DOCKER_BACKENDS  # tests/backends.py: the backend list
from sandbox import CodeExecutor
from sandbox.labels import EXECUTOR, MANAGED

REQUIRE_DOCKER = os.environ.get("SANDBOX_REQUIRE_DOCKER") == "1" or os.environ.get("CI") == "true"
_docker_problem: list[str] = []
_runtime_problems: dict[str, str] = {}


def docker_problem() -> str | None:
    """Why Docker tests cannot run here, or None when they can (checked once per session)."""
    if not _docker_problem:
        try:
            from sandbox.executors.docker import DEFAULT_IMAGE, _connect

            client = _connect()
            try:
                client.images.get(DEFAULT_IMAGE)
                _docker_problem.append("")
            except Exception:
                _docker_problem.append(f"image {DEFAULT_IMAGE} missing: run scripts/setup")
            finally:
                client.close()
        except Exception as exc:
            _docker_problem.append(str(exc))
    return _docker_problem[0] or None


def runtime_problem(runtime: str) -> str | None:
    """Why the engine cannot run containers under `runtime`, or None when it can (checked once)."""
    if runtime not in _runtime_problems:
        from sandbox.executors.docker import _connect

        client = _connect()
        try:
            known = (client.info().get("Runtimes") or {}).keys()
        finally:
            client.close()
        _runtime_problems[runtime] = "" if runtime in known else (
            f"the engine has no runtime {runtime!r}: run scripts/setup (as root on Debian it installs "
            "and registers runsc)"
        )
    return _runtime_problems[runtime] or None


def require_docker(runtime: str | None = None) -> None:
    problem = docker_problem()
    if problem is None and runtime is not None:
        problem = runtime_problem(runtime)
    if problem is None:
        return
    if REQUIRE_DOCKER:
        pytest.fail(f"Docker is required here (CI / SANDBOX_REQUIRE_DOCKER=1) but unusable: {problem}")
    pytest.skip(f"no usable Docker engine: {problem}")


def _containers_of(executor_id: str) -> list[Any]:
    from sandbox.executors.docker import _connect

    client = _connect()
    try:
        return list(client.containers.list(all=True, filters={"label": [f"{MANAGED}=true", f"{EXECUTOR}={executor_id}"]}, ignore_removed=True))
    finally:
        client.close()


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def _assert_no_leaks(made: list[Any], children_before: set[int]) -> None:
    deadline = time.monotonic() + 5
    for ex in made:
        if hasattr(ex, "image"):  # a DockerExecutor: its containers must be gone
            while (left := _containers_of(ex.id)) and time.monotonic() < deadline:
                time.sleep(0.1)  # auto-remove finishes asynchronously
            assert not left, f"containers left behind: {[c.short_id for c in left]}"
    # Only processes that appeared during the test count: a Docker engine that scripts/test
    # started before exec'ing pytest may legitimately be among our children.
    while (new := _children() - children_before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not new, f"processes left behind: {sorted(new)}"


@pytest.fixture
def docker_required() -> None:
    """Skip (or, in CI, fail) when no Docker engine with the sandbox image is usable."""
    require_docker()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name in DOCKER_BACKENDS:
        require_docker(DOCKER_BACKENDS[name].get("runtime"))
    return name


@pytest.fixture
def make_executor(backend: str, tmp_path: Any) -> Iterator[Callable[..., CodeExecutor]]:
    """Factory: `make_executor(timeout=5, env={...})` for the backend under test."""
    made: list[Any] = []
    children_before = _children()

    def make(**kwargs: Any) -> CodeExecutor:
        if backend == "local":
            from sandbox import LocalExecutor

            ex: Any = LocalExecutor(**kwargs)
        else:
            from sandbox import DockerExecutor

            ex = DockerExecutor(**{**DOCKER_BACKENDS[backend], **kwargs})
        made.append(ex)
        return ex  # type: ignore[no-any-return]

    yield make
    for ex in made:
        ex.close()
    _assert_no_leaks(made, children_before)


@pytest.fixture
def executor(make_executor: Callable[..., CodeExecutor]) -> CodeExecutor:
    return make_executor(timeout=20)

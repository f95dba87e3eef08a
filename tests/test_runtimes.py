"""Container runtimes: gVisor (runsc) as one word, and a missing runtime that fails closed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from sandbox import CodeBlock, CodeExecutor, DockerExecutor, RuntimeUnavailableError
from sandbox.labels import EXECUTOR

pytestmark = pytest.mark.docker

# /proc/sentry-meminfo is gVisor's own file: only its kernel (the Sentry) serves it.
UNDER_GVISOR = "import os; print('gvisor' if os.path.exists('/proc/sentry-meminfo') else 'host kernel')"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sandbox", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("backend", ["docker", "docker-runsc"], indirect=True)
@pytest.mark.parametrize("session", [False, True], ids=["fresh", "session"])
def test_runtime_runsc_runs_every_sandbox_under_gvisor(
    backend: str, session: bool, make_executor: Callable[..., CodeExecutor]
) -> None:
    ex = make_executor(session=session)
    for _ in range(2):  # the second call: a new fresh container, or the session's again
        result = ex.execute([CodeBlock(UNDER_GVISOR, "python")])
        assert result.ok, result
        assert result.stdout == ("gvisor\n" if backend == "docker-runsc" else "host kernel\n")


def _created_since(since: float, executor_id: str) -> list[Any]:
    from sandbox.executors.docker import _connect

    client = _connect()
    try:
        return list(client.api.events(
            since=f"{since:.3f}", until=f"{time.time():.3f}", decode=True,
            filters={"type": "container", "event": "create", "label": f"{EXECUTOR}={executor_id}"},
        ))
    finally:
        client.close()


@pytest.mark.usefixtures("docker_required")
def test_a_missing_runtime_fails_closed_and_never_falls_back_to_runc() -> None:
    since = time.time() - 1
    with DockerExecutor(runtime="nonexistent") as ex:
        for _ in range(2):  # and again: no call ever runs the code under another runtime
            with pytest.raises(RuntimeUnavailableError) as info:
                ex.execute([CodeBlock("print('ran anyway')", "python")])
            message = str(info.value)
            assert "'nonexistent'" in message and "daemon.json" in message and "scripts/setup" in message
    assert _created_since(since, ex.id) == [], "a container was created for a runtime that does not exist"


@pytest.mark.usefixtures("docker_required")
def test_cli_runtime_option_runs_under_runsc_or_fails_closed() -> None:
    missing = cli("exec", "--runtime", "nonexistent", "-c", "print('ran anyway')")
    assert missing.returncode == 125, missing.stderr
    assert "ran anyway" not in missing.stdout
    assert "'nonexistent'" in missing.stderr and "daemon.json" in missing.stderr
    runtimes = _runtimes()
    if "runsc" not in runtimes:
        if os.environ.get("CI") == "true":
            pytest.fail("runsc is not registered with the engine: run scripts/setup")
        pytest.skip("runsc is not registered with the engine: run scripts/setup")
    done = cli("exec", "--runtime", "runsc", "-c", UNDER_GVISOR)
    assert done.returncode == 0 and done.stdout == "gvisor\n", done.stderr


@pytest.mark.usefixtures("docker_required")
def test_doctor_reports_each_runtime_with_its_start_time() -> None:
    done = cli("doctor")
    for runtime in ("runc", *(["runsc"] if "runsc" in _runtimes() else [])):
        line = next(l for l in done.stdout.splitlines() if f"runtime {runtime}" in l)
        assert line.startswith("[ok  ]"), done.stdout
        assert re.search(r"started and exited in \d+\.\d+ s", line), line


def _runtimes() -> set[str]:
    from sandbox.executors.docker import _connect

    client = _connect()
    try:
        return set((client.info().get("Runtimes") or {}).keys())
    finally:
        client.close()

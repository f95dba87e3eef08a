"""Fixtures for the agent tests: a scripted OpenAI server on loopback, an executor that records.

Safety: every test runs in its own working directory (the disk cache lands there) with
`OPENAI_BASE_URL` pointing at a closed loopback port and proxies switched off, so a test
that forgot its `base_url` fails fast on 127.0.0.1 and never reaches a real API.

Docker policy (as in tests/conftest.py): with SANDBOX_REQUIRE_DOCKER=1 or CI=true a missing
engine or image fails the test; otherwise the test is skipped with the reason.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# This directory is named `agents`, like the package under test, and pytest puts `tests/` on
# sys.path (tests/conftest.py has no package), so `import agents` would find this directory
# as a namespace package: the editable install's finder runs after the path scan. A regular
# package anywhere on sys.path wins over a namespace portion, so the repository root is added.
# (pyproject's `[tool.pytest.ini_options] pythonpath = ["."]` would do the same for every test.)
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.append(_ROOT)
if "agents" in sys.modules and getattr(sys.modules["agents"], "__file__", None) is None:
    del sys.modules["agents"]  # a namespace package created before this conftest ran

from agents import RetryPolicy  # noqa: E402
from openai_server import ScriptedOpenAIServer  # noqa: E402
from recording_executor import RecordingExecutor  # noqa: E402

MODEL = "scripted-model"
FAST_RETRY = RetryPolicy(attempts=3, initial_wait=0.01, max_wait=0.02)


_real_connect = socket.socket.connect


def _loopback_connect(self: socket.socket, address: Any) -> None:
    """socket.connect that refuses any network peer but this machine's loopback."""
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        if not ipaddress.ip_address(host).is_loopback:
            raise OSError(f"tests/agents may only talk to 127.0.0.1, not {host}")
    _real_connect(self, address)


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(socket.socket, "connect", _loopback_connect)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # discard port: nothing listens
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def server() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer() as s:
        yield s


@pytest.fixture
def llm_config(server: ScriptedOpenAIServer) -> dict[str, Any]:
    """The seeds' llm_config shape, pointed at the scripted server, cache off, fast retries."""
    return {
        "config_list": [{"model": MODEL, "api_key": "sk-test", "base_url": server.base_url}],
        "temperature": 0,
        "cache_seed": None,
        "retry": FAST_RETRY,
    }


@pytest.fixture
def recorder() -> RecordingExecutor:
    return RecordingExecutor()


@pytest.fixture(params=["local", pytest.param("docker", marks=pytest.mark.docker)])
def runner(request: pytest.FixtureRequest) -> str:
    """The `use_docker` choice for a seed program: the local runner and the Docker runner."""
    if request.param == "docker":
        request.getfixturevalue("docker_required")  # tests/conftest.py: skip, or fail in CI
    return str(request.param)


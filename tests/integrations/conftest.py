"""Fixtures for the framework adapters: the scripted OpenAI server, loopback only, leak checks.

The frameworks are the real packages from PyPI (the `autogen` and `ag2` extras, installed by
scripts/lib.sh's ensure_venv). Their model clients talk to the scripted server from
tests/agents on 127.0.0.1; every other connection and name lookup fails the test, so
nothing the frameworks do (telemetry, tokenizer downloads) can leave the machine.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_TESTS = Path(__file__).resolve().parents[1]
if str(_TESTS / "agents") not in sys.path:
    sys.path.append(str(_TESTS / "agents"))  # openai_server.py lives there, beside its tests

from openai_server import ScriptedOpenAIServer  # noqa: E402

_real_connect = socket.socket.connect
_real_getaddrinfo = socket.getaddrinfo


def _is_loopback(host: object) -> bool:
    if host in ("localhost", None):
        return True
    try:
        return ipaddress.ip_address(str(host)).is_loopback
    except ValueError:  # a host name: would need a DNS query
        return False


def _loopback_connect(self: socket.socket, address: Any) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
        raise OSError(f"tests/integrations may only talk to 127.0.0.1, not {address[0]}")
    _real_connect(self, address)


def _loopback_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if not _is_loopback(host):
        raise socket.gaierror(f"tests/integrations may not look up {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(socket.socket, "connect", _loopback_connect)
    monkeypatch.setattr(socket, "getaddrinfo", _loopback_getaddrinfo)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # discard port: a forgotten base_url fails fast
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def server() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer() as s:
        yield s


@pytest.fixture
def leak_check(request: pytest.FixtureRequest) -> Iterator[Callable[[Any], Any]]:
    """`track(runner)` for each sandbox executor a test makes (or an adapter's `.executor`).

    After the test they are closed (a no-op when the test closed them) and tests/conftest.py's
    leak check runs: no container of theirs on the engine, no new process under the test.
    """
    root = request.config.pluginmanager.get_plugin(str(_TESTS / "conftest.py"))
    assert root is not None, "tests/conftest.py is not loaded"
    made: list[Any] = []
    children_before = root._children()

    def track(runner: Any) -> Any:
        made.append(runner)
        return runner

    yield track
    for runner in made:
        runner.close()
    root._assert_no_leaks(made, children_before)

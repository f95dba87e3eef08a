"""The backends every executor test runs over: the names, and what each one means.

A Docker backend is `DockerExecutor(**DOCKER_BACKENDS[name])`; "local" is `LocalExecutor`.
Both conftest files read this (tests/ is on sys.path), so a new backend is one line here.
"""

from __future__ import annotations

from typing import Any

DOCKER_BACKENDS: dict[str, dict[str, Any]] = {
    "docker": {},
    "docker-session": {"session": True},
    "docker-runsc": {"runtime": "runsc"},  # gVisor
}
BACKENDS = ["local", *DOCKER_BACKENDS]

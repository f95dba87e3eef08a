"""Whether the Docker runner can be used here, and what a test does when it cannot.

As in tests/conftest.py: with SANDBOX_REQUIRE_DOCKER=1 or CI=true a missing engine or image
FAILS the test (CI must not go green by skipping); otherwise the test is skipped with the reason.
"""

from __future__ import annotations

import gc
import os
import warnings

import pytest

__all__ = ["REQUIRE_DOCKER", "docker_problem", "require_docker"]

REQUIRE_DOCKER = os.environ.get("SANDBOX_REQUIRE_DOCKER") == "1" or os.environ.get("CI") == "true"

_docker_problem: list[str] = []


def docker_problem() -> str | None:
    """Why the Docker runner cannot be used here, or None (checked once per session)."""
    if not _docker_problem:
        with warnings.catch_warnings():
            # docker-py leaves the socket of a failed connection unclosed; collect it here.
            warnings.simplefilter("ignore", ResourceWarning)
            _docker_problem.append(_probe())
            gc.collect()
    return _docker_problem[0] or None


def _probe() -> str:
    try:
        import docker

        from sandbox.executors.docker import DEFAULT_IMAGE

        client = docker.from_env(timeout=5)
    except Exception as exc:
        return f"no Docker engine answers: {exc}"
    try:
        client.ping()
        client.images.get(DEFAULT_IMAGE)
        return ""
    except Exception as exc:
        return f"engine or image {DEFAULT_IMAGE} unusable: {exc}"
    finally:
        client.close()


def require_docker() -> None:
    problem = docker_problem()
    if problem is None:
        return
    if REQUIRE_DOCKER:
        pytest.fail(f"Docker is required here (CI / SANDBOX_REQUIRE_DOCKER=1) but unusable: {problem}")
    pytest.skip(problem)

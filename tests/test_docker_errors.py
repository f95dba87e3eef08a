"""No docker-py or requests exception escapes: each is translated to a SandboxError with a fix."""

from __future__ import annotations

import inspect

import docker.errors
import pytest
import requests.exceptions

from sandbox import EngineUnavailableError, ImageNotFoundError, RuntimeUnavailableError, SandboxError
from sandbox.executors.docker_errors import translate


def _instance(cls: type[BaseException]) -> BaseException:
    if issubclass(cls, docker.errors.APIError):
        return cls("boom", explanation="boom")
    if cls is docker.errors.ContainerError:
        return cls("container", 1, "cmd", "image", b"stderr")
    if cls is docker.errors.BuildError:
        return cls("reason", [])
    try:
        return cls("boom")
    except TypeError:
        return cls()


DOCKER_ERRORS = [
    cls for _, cls in inspect.getmembers(docker.errors, inspect.isclass)
    if issubclass(cls, docker.errors.DockerException)
]


@pytest.mark.parametrize("cls", DOCKER_ERRORS, ids=lambda c: c.__name__)
def test_every_docker_exception_becomes_a_sandbox_error(cls: type[BaseException]) -> None:
    with pytest.raises(SandboxError):
        with translate(image="python:3.11-slim"):
            raise _instance(cls)


@pytest.mark.parametrize("cls", [requests.exceptions.ConnectionError, requests.exceptions.ReadTimeout])
def test_connection_failures_mean_the_engine_is_unavailable(cls: type[BaseException]) -> None:
    with pytest.raises(EngineUnavailableError, match="DOCKER_HOST"):
        with translate():
            raise cls("refused")


def test_image_not_found_names_the_offline_build() -> None:
    with pytest.raises(ImageNotFoundError, match="images/offline/build"):
        with translate(image="python:3.11-slim"):
            raise docker.errors.ImageNotFound("no such image")


def test_unknown_runtime_is_a_runtime_error() -> None:
    with pytest.raises(RuntimeUnavailableError, match="runsc"):
        with translate(runtime="runsc"):
            raise docker.errors.APIError("x", explanation="unknown or invalid runtime name: runsc")

"""Translate docker-py and requests exceptions into `SandboxError`s at the seam.

The public API raises only `sandbox.errors` types: a caller should never need to import
docker-py to handle a failure, and every message says what to do about it. `translate` is
the one place where that mapping lives (as httpx's `map_httpcore_exceptions` is for httpx);
`tests/test_docker_errors.py` checks that every docker-py exception type has a mapping.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import docker.errors
import requests.exceptions

from ..errors import EngineUnavailableError, ImageNotFoundError, RuntimeUnavailableError, SandboxError

__all__ = ["OFFLINE_IMAGE_HINT", "engine_address", "translate"]

OFFLINE_IMAGE_HINT = (
    "run scripts/setup (it pulls the image, or builds an offline stand-in from Debian's packages "
    "when no registry answers: images/offline/build), or `docker pull {image}` where a registry is reachable"
)


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def engine_unavailable(detail: object) -> EngineUnavailableError:
    return EngineUnavailableError(
        f"no Docker engine at {engine_address()} ({detail}): start it (scripts/setup starts one on Debian as root; "
        "on a laptop start Docker Desktop), set DOCKER_HOST, or use LocalExecutor"
    )


@contextlib.contextmanager
def translate(*, image: str | None = None, runtime: str | None = None) -> Iterator[None]:
    """Run a block of docker-py calls; re-raise what it throws as a `SandboxError`."""
    try:
        yield
    except SandboxError:
        raise
    except docker.errors.ImageNotFound as exc:
        raise ImageNotFoundError(
            f"image {image!r} is not available ({_explain(exc)}): " + OFFLINE_IMAGE_HINT.format(image=image)
        ) from exc
    except docker.errors.APIError as exc:
        text = _explain(exc)
        if runtime and "runtime" in text.lower():
            raise RuntimeUnavailableError(
                f"the engine has no container runtime {runtime!r} ({text}): install it and register it in "
                "/etc/docker/daemon.json (scripts/setup does this for runsc on Debian), or leave runtime=None"
            ) from exc
        if exc.status_code == 404 and image and "image" in text.lower():
            raise ImageNotFoundError(f"image {image!r} is not available ({text}): " + OFFLINE_IMAGE_HINT.format(image=image)) from exc
        raise SandboxError(f"the Docker engine refused the request: {text}") from exc
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
        raise engine_unavailable(type(exc).__name__) from exc
    except docker.errors.DockerException as exc:
        # DockerException is also what docker.from_env() raises when it cannot connect at all.
        text = str(exc)
        if "Error while fetching server API version" in text or "Connection" in text:
            raise engine_unavailable(text.split(":")[0]) from exc
        raise SandboxError(f"Docker client error: {text}") from exc
    except requests.exceptions.RequestException as exc:
        raise SandboxError(f"talking to the Docker engine failed: {exc}") from exc


def _explain(exc: docker.errors.APIError) -> str:
    explanation = exc.explanation
    if isinstance(explanation, bytes):
        explanation = explanation.decode("utf-8", "replace")
    return str(explanation or exc)

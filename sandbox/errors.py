"""Infrastructure failures: the engine could not do its job. Outcomes of the code are results.

    SandboxError                      root; catch this to catch everything the engine raises
    ├── EngineUnavailableError        no Docker engine answers (or it refused the request)
    ├── ImageNotFoundError            the image is missing and could not be pulled
    ├── ImageBuildError               a derived image (DockerExecutor(requirements=...)) failed to build
    ├── RuntimeUnavailableError       a container runtime (e.g. runsc) was asked for but is not there
    ├── ExecutorClosedError           the executor was used after close()
    └── WorkspaceError                the workspace directory is unusable

Every message names the fix. Backend exceptions (docker-py, requests) are translated at the
seam (`sandbox.executors.docker_errors`) and never escape the public API.
"""

from __future__ import annotations

__all__ = [
    "EngineUnavailableError",
    "ExecutorClosedError",
    "ImageBuildError",
    "ImageNotFoundError",
    "RuntimeUnavailableError",
    "SandboxError",
    "WorkspaceError",
]


class SandboxError(Exception):
    """Root of every exception the engine raises for its own (not the code's) failures."""


class EngineUnavailableError(SandboxError):
    """No container engine answered at the configured address."""


class ImageNotFoundError(SandboxError):
    """The sandbox image is not present and pulling it failed."""


class ImageBuildError(SandboxError):
    """Installing the requirements of a derived image failed; the message ends with pip's last lines."""


class RuntimeUnavailableError(SandboxError):
    """The requested container runtime is not registered with the engine."""


class ExecutorClosedError(SandboxError):
    """The executor was closed; create a new one."""


class WorkspaceError(SandboxError):
    """The workspace directory cannot be created, read or written."""

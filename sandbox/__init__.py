"""Run code nobody trusts: one `CodeExecutor` protocol, a local runner and a hardened Docker runner.

    >>> from sandbox import DockerExecutor, extract_code_blocks
    >>> with DockerExecutor() as ex:
    ...     result = ex.execute(extract_code_blocks(llm_reply))
    ...     print(result.outcome, result.output)

Heavy backends load lazily (as `concurrent.futures` does), so `import sandbox` does not import
docker-py until `DockerExecutor` is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    EngineUnavailableError,
    ExecutorClosedError,
    ImageBuildError,
    ImageNotFoundError,
    RuntimeUnavailableError,
    SandboxError,
    WorkspaceError,
)
from .files import FileLimitError, FileLimits
from .models import BlockResult, CodeBlock, ExecutionError, ExecutionResult, FileChange, Outcome, OutputEvent
from .limits import Limits
from .protocol import CodeExecutor

if TYPE_CHECKING:
    from .executors.docker import DockerExecutor
    from .executors.fake import FakeExecutor
    from .executors.images import Requirements
    from .executors.local import LocalExecutor
    from .executors.pool import Pool
    from .extract import extract_code_blocks
    from .inference import infer_language

__all__ = [
    "BlockResult",
    "CodeBlock",
    "CodeExecutor",
    "DockerExecutor",
    "EngineUnavailableError",
    "ExecutionError",
    "ExecutionResult",
    "ExecutorClosedError",
    "FakeExecutor",
    "FileChange",
    "FileLimitError",
    "FileLimits",
    "ImageBuildError",
    "ImageNotFoundError",
    "Limits",
    "LocalExecutor",
    "Outcome",
    "OutputEvent",
    "Pool",
    "Requirements",
    "RuntimeUnavailableError",
    "SandboxError",
    "WorkspaceError",
    "extract_code_blocks",
    "infer_language",
]

_LAZY = {
    "DockerExecutor": ".executors.docker",
    "FakeExecutor": ".executors.fake",
    "LocalExecutor": ".executors.local",
    "Pool": ".executors.pool",
    "Requirements": ".executors.images",
    "extract_code_blocks": ".extract",
    "infer_language": ".inference",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sandbox' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

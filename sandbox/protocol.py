"""The seam: what every executor offers. Policy (agents, pools, CLIs) lives above it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Protocol, runtime_checkable

from .limits import Limits
from .models import CodeBlock, ExecutionResult, OutputEvent

__all__ = ["CodeExecutor"]


@runtime_checkable
class CodeExecutor(Protocol):
    """Runs code blocks in some sandbox and reports what happened as an `ExecutionResult`.

    - `execute` never raises for what the code did (non-zero exit, timeout, OOM, unknown
      language): those are results. It raises `SandboxError` subclasses when the engine itself
      fails, and `ExecutorClosedError` after `close()`.
    - `execute` is thread-safe; `aexecute` is the same call for asyncio, off the event loop,
      and cancelling its task kills the run.
    - `cancel()` may be called from any thread; calls in flight return a cancelled result.
    - `restart()` stops whatever runs and discards all state except the workspace.
    - `close()` is idempotent; the executor is also a context manager.
    """

    work_dir: Path

    def execute(
        self,
        blocks: Sequence[CodeBlock] | CodeBlock,
        *,
        timeout: float | None = None,
        stdin: str | bytes | None = None,
        env: Mapping[str, str] | None = None,
        on_output: Callable[[OutputEvent], None] | None = None,
        output_limit: int | None = None,
        limits: Limits | None = None,
    ) -> ExecutionResult: ...

    async def aexecute(
        self,
        blocks: Sequence[CodeBlock] | CodeBlock,
        *,
        timeout: float | None = None,
        stdin: str | bytes | None = None,
        env: Mapping[str, str] | None = None,
        on_output: Callable[[OutputEvent], None] | None = None,
        output_limit: int | None = None,
        limits: Limits | None = None,
    ) -> ExecutionResult: ...

    def execute_code_blocks(self, blocks: Sequence[CodeBlock]) -> ExecutionResult: ...

    def cancel(self) -> None: ...

    def restart(self) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> CodeExecutor: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

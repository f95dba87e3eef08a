"""`RecordingExecutor`: a `sandbox.CodeExecutor` that runs nothing, for testing the loop's policy."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sandbox import CodeBlock, ExecutionResult, Outcome

__all__ = ["RecordingExecutor"]


class RecordingExecutor:
    """A `sandbox.CodeExecutor` that runs nothing: it records blocks and answers from a script.

    `results` are returned in order; when they run out, every call succeeds with `default_output`.
    """

    def __init__(self, results: Sequence[ExecutionResult] = (), default_output: str = "ok\n") -> None:
        self.work_dir = Path.cwd()
        self.calls: list[list[CodeBlock]] = []
        self.timeouts: list[float | None] = []
        self._results = list(results)
        self.default_output = default_output
        self.closed = False
        self._lock = threading.Lock()

    def execute(self, blocks: Sequence[CodeBlock] | CodeBlock, *, timeout: float | None = None, **options: Any) -> ExecutionResult:
        if isinstance(blocks, CodeBlock):
            blocks = [blocks]
        with self._lock:
            self.calls.append(list(blocks))
            self.timeouts.append(timeout)
            if self._results:
                return self._results.pop(0)
        return ExecutionResult(outcome=Outcome.SUCCESS, exit_code=0, stdout=self.default_output,
                               output=self.default_output)

    async def aexecute(self, blocks: Sequence[CodeBlock] | CodeBlock, *, timeout: float | None = None, **options: Any) -> ExecutionResult:
        return self.execute(blocks, timeout=timeout)

    def execute_code_blocks(self, blocks: Sequence[CodeBlock]) -> ExecutionResult:
        return self.execute(blocks)

    def cancel(self) -> None:
        pass

    def restart(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> RecordingExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""An executor that runs nothing: it answers with results a test (or a demo) scripted.

Like httpx's `MockTransport`, it lets code built on the protocol (the agent loop, a web app)
be tested without a process or a container. It still keeps the protocol's contract: it
records every call, honours close() and use-after-close, and returns frozen results.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ..models import CodeBlock, ExecutionResult, Outcome
from .base import BaseExecutor, BlockRun, Call, RunControl

__all__ = ["FakeExecutor"]

Handler = Callable[[list[CodeBlock]], ExecutionResult]


def _echo(blocks: list[CodeBlock]) -> ExecutionResult:
    return ExecutionResult(outcome=Outcome.SUCCESS, exit_code=0)


class FakeExecutor(BaseExecutor):
    """Returns `handler(blocks)` for each call; records the calls in `.calls`."""

    def __init__(self, handler: Handler = _echo, *, work_dir: str | os.PathLike[str] | None = None, timeout: float = 60) -> None:
        super().__init__(work_dir=work_dir, timeout=timeout)
        self.handler = handler
        self.calls: list[list[CodeBlock]] = []

    def _execute(self, blocks: list[CodeBlock], control: RunControl, started: float, call: Call) -> ExecutionResult:
        self.calls.append(list(blocks))
        return self.handler(list(blocks))

    def _run_block(self, **kwargs: object) -> BlockRun:  # pragma: no cover - _execute is overridden
        raise AssertionError("FakeExecutor runs nothing")

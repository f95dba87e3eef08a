"""AutoGen 0.4+: `SandboxCodeExecutor`, an `autogen_core` code executor on our runners.

    from sandbox.integrations.autogen import SandboxCodeExecutor

    async with SandboxCodeExecutor(work_dir="coding", timeout=60) as code_executor:  # Docker
        agent = CodeExecutorAgent("executor", code_executor=code_executor)
        ...

It takes the runner's keywords (`image`, `work_dir`, `timeout`, `session`, `memory`,
`runtime`, ...) for the `DockerExecutor` it creates, or a ready executor:
`SandboxCodeExecutor(executor=LocalExecutor())` (which stays the caller's to close).

Blocking work (creating the runner, running code, restarting, closing) happens in a worker
thread, so the event loop keeps serving other agents while code runs. The call's
`CancellationToken` is linked to the runner's `cancel()`: cancelling it kills every process
of the run (for Docker, the container) and the call returns exit code 130 with "Cancelled"
in the output; AutoGen's own executors also return a result rather than raise. Cancelling
the awaiting task instead (`asyncio.wait_for`, a team's cancellation) kills the run too,
then re-raises `CancelledError`. The runner's `cancel()` stops all of its calls in flight,
so calls sharing one executor concurrently are cancelled together.
"""

from __future__ import annotations

import asyncio
import os
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

try:
    from autogen_core import CancellationToken, Component
    from autogen_core.code_executor import CodeBlock as AutoGenCodeBlock
    from autogen_core.code_executor import CodeExecutor as AutoGenCodeExecutor
    from autogen_core.code_executor import CodeResult
except ImportError as exc:  # the optional extra is not installed
    raise ImportError(
        "sandbox.integrations.autogen needs AutoGen 0.4 or later (autogen-core): "
        "pip install 'sandbox-engine[autogen]'",
        name=exc.name,
    ) from exc

from pydantic import BaseModel, Field

from ..errors import ExecutorClosedError
from ..models import CodeBlock, ExecutionResult, Outcome
from ..protocol import CodeExecutor
from . import bridge

__all__ = ["SandboxCodeExecutor", "SandboxCodeExecutorConfig", "SandboxCodeResult"]

# How often a waiting call re-sends a cancel: a token cancelled in the instant before the
# worker thread registered its run with the runner would otherwise find nothing to stop.
_RECANCEL_S = 0.05


@dataclass
class SandboxCodeResult(CodeResult):
    """AutoGen's `CodeResult` (`exit_code`, `output`) with autogen_ext's `code_file`, plus our
    typed record of the run in `execution_result` (outcome, streams, files, timings)."""

    code_file: str | None
    execution_result: ExecutionResult = field(repr=False)


class _Call:
    """One `execute_code_blocks` in flight, and the switch its CancellationToken throws."""

    def __init__(self, runner: CodeExecutor) -> None:
        self.runner = runner
        self.cancelled = threading.Event()
        self.finished = threading.Event()

    def cancel(self) -> None:
        """Stop the run; from any thread. Tokens keep their callbacks: late calls do nothing."""
        if not self.finished.is_set():
            self.cancelled.set()
            self.runner.cancel()

    async def run(self, blocks: list[CodeBlock]) -> ExecutionResult:
        if self.cancelled.is_set():
            return ExecutionResult(
                outcome=Outcome.CANCELLED, exit_code=None,
                message="cancelled before it started: the CancellationToken was already cancelled",
            )
        task = asyncio.ensure_future(asyncio.to_thread(self.runner.execute, blocks))
        try:
            await self._settle(task)
        except asyncio.CancelledError:
            # The awaiting task was cancelled: kill the run and wait until it is gone, so that
            # no process outlives the cancellation.
            self.cancel()
            await self._settle(task)
            if not task.cancelled():
                task.exception()  # mark it retrieved: the caller hears CancelledError instead
            raise
        finally:
            self.finished.set()
        return task.result()

    async def _settle(self, task: asyncio.Future[ExecutionResult]) -> None:
        while not task.done():
            await asyncio.wait({task}, timeout=_RECANCEL_S)
            if self.cancelled.is_set() and not task.done():
                self.runner.cancel()


class SandboxCodeExecutorConfig(BaseModel):
    """The runner's keywords, for AutoGen's component configs (`dump_component`, Studio)."""

    options: dict[str, Any] = Field(default_factory=dict)


class SandboxCodeExecutor(bridge.RunnerViews, AutoGenCodeExecutor, Component[SandboxCodeExecutorConfig]):
    """Runs AutoGen's code blocks in our sandbox: a hardened `DockerExecutor` by default.

    `start()` is optional (the runner is created here); `stop()` closes a runner this object
    created, and `start()` after `stop()` creates a new one. `restart()` is the runner's: it
    stops what runs and discards all state but the workspace.
    """

    component_config_schema = SandboxCodeExecutorConfig
    component_provider_override = "sandbox.integrations.autogen.SandboxCodeExecutor"

    def __init__(self, *, executor: CodeExecutor | None = None, **options: Any) -> None:
        self._given = executor
        self._options = options
        self._runner, self._owned = bridge.build_backend(executor, options)
        self._stopped = False
        self._calls: set[_Call] = set()
        self._lock = threading.Lock()

    async def execute_code_blocks(
        self, code_blocks: list[AutoGenCodeBlock], cancellation_token: CancellationToken
    ) -> SandboxCodeResult:
        """Run the blocks in order, stopping at the first failure, within one time limit."""
        if self._stopped:
            raise ExecutorClosedError(
                "this SandboxCodeExecutor was stopped; call `await executor.start()` (or use `async with`) first"
            )
        blocks = [bridge.sandbox_block(b.code, b.language) for b in code_blocks]
        call = _Call(self._runner)
        with self._lock:
            self._calls.add(call)
        try:
            cancellation_token.add_callback(call.cancel)
            result = await call.run(blocks)
        finally:
            with self._lock:
                self._calls.discard(call)
        return SandboxCodeResult(
            exit_code=bridge.exit_code(result),
            output=bridge.output(result),
            code_file=bridge.code_file(result, self._runner.work_dir),
            execution_result=result,
        )

    async def start(self) -> None:
        """Make the executor usable again after `stop()`; a no-op otherwise."""
        if not self._stopped:
            return
        self._runner, self._owned = await asyncio.to_thread(bridge.build_backend, self._given, dict(self._options))
        self._stopped = False

    async def stop(self) -> None:
        """Kill the runs in flight and close the runner if this object created it. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        with self._lock:
            calls = list(self._calls)
        for call in calls:
            call.cancel()
        if self._owned:
            await asyncio.to_thread(self._runner.close)

    def _to_config(self) -> SandboxCodeExecutorConfig:
        if self._given is not None:
            raise NotImplementedError(
                "a SandboxCodeExecutor around a given executor cannot be saved as a config; "
                "create it from the runner's keywords instead"
            )
        options = {k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in self._options.items()}
        return SandboxCodeExecutorConfig(options=options)

    @classmethod
    def _from_config(cls, config: SandboxCodeExecutorConfig) -> Self:
        return cls(**config.options)

    # autogen-core 0.4 had no `start`/`stop` nor `async with` in the ABC; the same here for all.
    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def restart(self) -> None:
        """Stop what runs and discard the runner's state but the workspace (AutoGen: on reset)."""
        if self._stopped:
            await self.start()
            return
        await asyncio.to_thread(self._runner.restart)

"""The plumbing every executor shares; a backend implements `_run_block` and `_shutdown`.

The base owns the policy of one call: blocks in order, stop at the first failure, one
deadline for the whole call, save-only languages written not run, filenames confined to the
workspace, temporary scripts removed, output bounded, changed files listed. A backend owns
only the mechanism: start one script, stream its output into the buffer, and stop it, all of
it, when the `RunControl` says so.
"""

from __future__ import annotations

import enum
import os
import threading
import time
import uuid
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import TracebackType

from ..errors import ExecutorClosedError
from ..files import WorkspaceFiles
from ..languages import Language, prepare_source, resolve_language, supported_languages
from ..models import (
    EXIT_CANCELLED,
    EXIT_OOM,
    EXIT_TIMEOUT,
    BlockResult,
    CodeBlock,
    ExecutionResult,
    Outcome,
)
from ..output import DEFAULT_OUTPUT_LIMIT, OutputBuffer
from ..workspace import PathRejected, Workspace

__all__ = ["BaseExecutor", "BlockRun", "RunControl", "StopReason", "TEMP_PREFIX"]

TEMP_PREFIX = ".sandbox-tmp-"  # unnamed blocks are saved under this name and removed after


class StopReason(enum.Enum):
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"


class _State(enum.Enum):
    OPEN = "open"  # accepting calls
    CLOSED = "closed"  # close() ran: every call raises ExecutorClosedError


class RunControl:
    """One call in flight: its deadline and its cancel switch, shared with the backend.

    `cancel()` (any thread) and the deadline both set `stop_reason`; the backend, waiting in
    `wait()`, must then stop every process of the run and return.
    """

    def __init__(self, deadline: float, limit: float) -> None:
        self.deadline = deadline
        self.limit = limit  # the call's timeout in seconds, for messages
        self.stop_reason: StopReason | None = None
        self._lock = threading.Lock()
        self._event = threading.Event()

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def stop(self, reason: StopReason) -> None:
        with self._lock:
            if self.stop_reason is None:
                self.stop_reason = reason
            self._event.set()

    @property
    def stopped(self) -> bool:
        return self._event.is_set()

    def wait(self, done: threading.Event, poll: float = 0.02) -> StopReason | None:
        """Block until `done` is set, the deadline passes or the call is cancelled."""
        while not done.wait(min(poll, max(self.remaining(), 0.0))):
            if self.remaining() <= 0:
                self.stop(StopReason.TIMEOUT)
            if self._event.is_set():
                return self.stop_reason
        return self.stop_reason if self._event.is_set() else None


@dataclass(slots=True)
class _Call:
    """The mutable state of one `execute()` call, owned by the calling thread."""

    output: OutputBuffer
    temps: set[str] = field(default_factory=set)  # unnamed scripts to remove afterwards
    began: bool = False  # whether the backend's `_begin_call` ran (so `_end_call` must)


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockRun:
    """What a backend reports for one script: the engine's view, before outcome mapping."""

    exit_code: int | None
    oom_killed: bool = False
    stop_reason: StopReason | None = None
    message: str = ""


class BaseExecutor(WorkspaceFiles):
    """Context manager, lifecycle, and the block loop shared by every runner.

    Files in and out of the workspace (`put_files`, `read_file`, `get_files`) come from
    `sandbox.files.WorkspaceFiles`.
    """

    def __init__(
        self,
        *,
        work_dir: str | os.PathLike[str] | None = None,
        timeout: float = 60,
        output_limit: int = DEFAULT_OUTPUT_LIMIT,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if timeout is None or timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        self.timeout = float(timeout)
        self.output_limit = output_limit
        self.env = dict(env or {})
        self._workspace = Workspace(work_dir)
        self.work_dir: Path = self._workspace.path
        self._state = _State.OPEN
        self._inflight: set[RunControl] = set()
        self._lock = threading.RLock()

    # -- the public verbs ------------------------------------------------------------------

    def execute(self, blocks: Sequence[CodeBlock] | CodeBlock, *, timeout: float | None = None) -> ExecutionResult:
        if isinstance(blocks, CodeBlock):
            blocks = [blocks]
        elif isinstance(blocks, (str, bytes)) or not all(isinstance(b, CodeBlock) for b in blocks):
            raise TypeError(
                "execute() takes CodeBlock objects; for markdown text use "
                "execute(sandbox.extract_code_blocks(text))"
            )
        limit = self.timeout if timeout is None else float(timeout)
        if limit <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        started = time.monotonic()
        control = RunControl(started + limit, limit)
        with self._lock:
            self._check_open()
            self._inflight.add(control)
        try:
            return self._execute(list(blocks), control, started)
        finally:
            with self._lock:
                self._inflight.discard(control)

    def execute_code_blocks(self, blocks: Sequence[CodeBlock]) -> ExecutionResult:
        """AutoGen's name for `execute`, with the executor's default timeout."""
        return self.execute(blocks)

    def cancel(self) -> None:
        """Stop every call in flight on this executor, from any thread."""
        with self._lock:
            controls = list(self._inflight)
        for control in controls:
            control.stop(StopReason.CANCELLED)

    def restart(self) -> None:
        """Stop what runs and discard every state but the workspace."""
        self._check_open()
        self.cancel()
        self._reset()

    def close(self) -> None:
        with self._lock:
            if self._state is _State.CLOSED:
                return
            self._state = _State.CLOSED
        self.cancel()
        try:
            self._shutdown()
        finally:
            self._workspace.cleanup()

    def __enter__(self) -> BaseExecutor:
        self._check_open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_state", _State.CLOSED) is not _State.CLOSED:
            warnings.warn(f"{type(self).__name__} was never closed; use it as a context manager", ResourceWarning, stacklevel=2)
            try:
                self.close()
            except Exception:  # never raise from a finaliser
                pass

    @property
    def closed(self) -> bool:
        return self._state is _State.CLOSED

    # -- what a backend provides -------------------------------------------------------------

    def _run_block(
        self, *, index: int, language: Language, script: PurePosixPath, control: RunControl, output: OutputBuffer
    ) -> BlockRun:
        """Run the saved script `script` (workspace-relative) and stream output into `output`."""
        raise NotImplementedError

    def _begin_call(self, control: RunControl) -> None:
        """Prepare the sandbox for one call (e.g. create its container)."""

    def _end_call(self, control: RunControl) -> None:
        """Tear down what `_begin_call` made; runs even when the call failed."""

    def _reset(self) -> None:
        """Discard backend state other than the workspace (restart)."""

    def _shutdown(self) -> None:
        """Release everything (close)."""

    # -- the block loop ------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._state is _State.CLOSED:
            raise ExecutorClosedError(f"this {type(self).__name__} is closed; create a new executor")

    def _execute(self, blocks: list[CodeBlock], control: RunControl, started: float) -> ExecutionResult:
        call = _Call(OutputBuffer(self.output_limit))
        output = call.output
        before = self._workspace.snapshot()
        results: list[BlockResult] = []
        last_exit: int | None = None
        outcome = Outcome.SUCCESS
        message = ""
        try:
            for index, block in enumerate(blocks):
                result = self._one_block(index, block, control, call)
                results.append(result)
                if result.exit_code is not None:
                    last_exit = result.exit_code
                if result.outcome is not Outcome.SUCCESS:
                    outcome, message = result.outcome, result.message
                    break
        finally:
            if call.began:
                self._end_call(control)
            for rel in call.temps:
                self._workspace.remove(PurePosixPath(rel))
        files = self._workspace.changes(before, self._workspace.snapshot(), ignore=call.temps)
        return ExecutionResult(
            outcome=outcome,
            exit_code=last_exit,
            stdout=output.text(stream=1),
            stderr=output.text(stream=2),
            output=output.text(),
            message=message,
            truncated_bytes=output.dropped,
            duration_s=time.monotonic() - started,
            blocks=tuple(results),
            files=files,
        )

    def _one_block(self, index: int, block: CodeBlock, control: RunControl, call: _Call) -> BlockResult:
        language = resolve_language(block.language)
        tag = block.language or "(none)"
        output, temps = call.output, call.temps

        def rejected(msg: str, name: str | None = None) -> BlockResult:
            return BlockResult(
                index=index, language=name or tag, filename=block.filename, outcome=Outcome.REJECTED,
                exit_code=None, output="", message=msg,
            )

        if language is None:
            runnable = ", ".join(supported_languages())
            return rejected(
                f"block {index + 1}: unknown language {tag!r}; this executor runs {runnable} "
                "and saves text formats (json, yaml, html, ...) without running them"
            )
        try:
            rel = Workspace.confine(block.filename) if block.filename else None
        except PathRejected as exc:
            return rejected(f"block {index + 1}: {exc}", language.name)

        if language.runner is None:  # save-only: write it, do not run it
            if rel is None:
                rel = PurePosixPath(f"{TEMP_PREFIX}{uuid.uuid4().hex[:8]}{language.extension}")
                temps.add(str(rel))
            try:
                self._workspace.write_text(rel, block.code)
            except PathRejected as exc:
                return rejected(f"block {index + 1}: {exc}", language.name)
            saved = None if str(rel) in temps else str(rel)
            return BlockResult(
                index=index, language=language.name, filename=saved, outcome=Outcome.SUCCESS, exit_code=None,
                output="", message=f"saved to {rel} (not run: {language.name} is a save-only language)" if saved else
                f"not run: {language.name} is a save-only language and the block has no filename",
            )

        if control.remaining() <= 0:
            control.stop(StopReason.TIMEOUT)
        if control.stopped:
            stopped = control.stop_reason or StopReason.CANCELLED
            return self._stopped_result(index, language, stopped, None, control, output)

        if rel is None:
            rel = PurePosixPath(f"{TEMP_PREFIX}{uuid.uuid4().hex[:12]}{language.extension}")
            temps.add(str(rel))
        try:
            self._workspace.write_text(rel, prepare_source(block.language, block.code))
        except PathRejected as exc:
            return rejected(f"block {index + 1}: {exc}", language.name)
        if not call.began:
            call.began = True  # set first: if _begin_call fails halfway, _end_call still tidies up
            self._begin_call(control)
        run = self._run_block(index=index, language=language, script=rel, control=control, output=output)
        output.flush()  # the block's unfinished last lines belong before the next block's output
        filename = None if str(rel) in temps else str(rel)
        if run.stop_reason is not None:
            return self._stopped_result(index, language, run.stop_reason, filename, control, output)
        if run.oom_killed:
            return BlockResult(
                index=index, language=language.name, filename=filename, outcome=Outcome.OOM, exit_code=EXIT_OOM,
                output=output.text(block=index),
                message=run.message or f"block {index + 1} was killed for exceeding the memory limit",
            )
        ok = run.exit_code == 0
        return BlockResult(
            index=index, language=language.name, filename=filename,
            outcome=Outcome.SUCCESS if ok else Outcome.ERROR, exit_code=run.exit_code,
            output=output.text(block=index), message=run.message,
        )

    @staticmethod
    def _stopped_result(
        index: int, language: Language, reason: StopReason, filename: str | None, control: RunControl,
        output: OutputBuffer,
    ) -> BlockResult:
        if reason is StopReason.TIMEOUT:
            return BlockResult(
                index=index, language=language.name, filename=filename, outcome=Outcome.TIMEOUT,
                exit_code=EXIT_TIMEOUT, output=output.text(block=index),
                message=f"timed out after {control.limit:g} s; every process of the run was killed",
            )
        return BlockResult(
            index=index, language=language.name, filename=filename, outcome=Outcome.CANCELLED,
            exit_code=EXIT_CANCELLED, output=output.text(block=index),
            message="cancelled: the run was stopped by cancel() and every process of it was killed",
        )

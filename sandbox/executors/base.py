"""The plumbing every executor shares; a backend implements `_run_block` and `_shutdown`.

The base owns the policy of one call: blocks in order, stop at the first failure, one
deadline for the whole call, save-only languages written not run, filenames confined to the
workspace, temporary scripts removed, output bounded, changed files listed. A backend owns
only the mechanism: start one script, stream its output into the buffer, and stop it, all of
it, when the `RunControl` says so.
"""

from __future__ import annotations

import asyncio
import codecs
import enum
import os
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import TracebackType

from ..errors import ExecutorClosedError
from ..files import WorkspaceFiles
from ..limits import Limits
from ..languages import Language, prepare_source, resolve_language, supported_languages
from ..models import (
    EXIT_CANCELLED,
    EXIT_OOM,
    EXIT_TIMEOUT,
    BlockResult,
    CodeBlock,
    ExecutionResult,
    Outcome,
    OutputEvent,
)
from ..output import DEFAULT_OUTPUT_LIMIT, STDERR, OutputBuffer
from ..workspace import PathRejected, Workspace

__all__ = ["BaseExecutor", "BlockRun", "Call", "OutputCallback", "RunControl", "StopReason", "TEMP_PREFIX"]

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


OutputCallback = Callable[[OutputEvent], None]


class Call:
    """One `execute()` call as a backend sees it: where output goes, and the run's stdin and env.

    Backends write every chunk they read through `write`, from any thread: it lands in the
    bounded buffer and, when the caller asked for it, in `on_output` as it arrives. A callback
    that raises stops the run (nobody is watching it any more) and its exception is raised
    from `execute()` once the run is cleaned up.
    """

    def __init__(
        self, *, output: OutputBuffer, control: RunControl, started: float, stdin: bytes = b"",
        env: Mapping[str, str] | None = None, on_output: OutputCallback | None = None, limits: Limits | None = None,
    ) -> None:
        self.output = output
        self.limits = limits
        self.stdin = stdin
        self.env: dict[str, str] = dict(env or {})
        self.temps: set[str] = set()  # unnamed scripts to remove afterwards
        self.began = False  # whether the backend's `_begin_call` ran (so `_end_call` must)
        self.callback_error: BaseException | None = None
        self._control = control
        self._started = started
        self._on_output = on_output
        self._decoders: dict[tuple[int, int], codecs.IncrementalDecoder] = {}
        self._lock = threading.Lock()

    def write(self, block: int, stream: int, data: bytes) -> None:
        self.output.write(block, stream, data)
        if self._on_output is None or not data:
            return
        with self._lock:  # events in the order the readers saw them, one at a time
            if self.callback_error is not None:
                return
            decoder = self._decoders.setdefault((block, stream), codecs.getincrementaldecoder("utf-8")("replace"))
            event = OutputEvent(
                block=block, stream="stderr" if stream == STDERR else "stdout", text=decoder.decode(data),
                data=data, elapsed_s=time.monotonic() - self._started,
            )
            try:
                self._on_output(event)
            except BaseException as exc:
                self.callback_error = exc
                self._control.stop(StopReason.CANCELLED)


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
        max_concurrency: int = 8,
    ) -> None:
        if timeout is None or timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, not {max_concurrency!r}")
        self.timeout = float(timeout)
        self.output_limit = output_limit
        self.env = dict(env or {})
        self.max_concurrency = max_concurrency
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._workspace = Workspace(work_dir)
        self.work_dir: Path = self._workspace.path
        self._state = _State.OPEN
        self._inflight: set[RunControl] = set()
        self._lock = threading.RLock()

    # -- the public verbs ------------------------------------------------------------------

    def execute(
        self,
        blocks: Sequence[CodeBlock] | CodeBlock,
        *,
        timeout: float | None = None,
        stdin: str | bytes | None = None,
        env: Mapping[str, str] | None = None,
        on_output: OutputCallback | None = None,
        output_limit: int | None = None,
        limits: Limits | None = None,
    ) -> ExecutionResult:
        """Run `blocks` in order, stopping at the first that fails; never raises for what the code did.

        Per call: `timeout` (seconds, for the whole call), `stdin` (given to every block),
        `env` (added to the executor's), `on_output` (called with each `OutputEvent` as the
        code produces it, from a reader thread), `output_limit` (bytes kept), `limits`
        (`sandbox.Limits`: memory, cpus, pids for this call). Thread-safe:
        calls from several threads run in parallel, at most `max_concurrency` at once (the
        others wait; waiting does not count against their timeout).
        """
        control = self._open_call(timeout)
        return self._run_call(
            blocks, control, stdin=stdin, env=env, on_output=on_output, output_limit=output_limit, limits=limits
        )

    async def aexecute(
        self,
        blocks: Sequence[CodeBlock] | CodeBlock,
        *,
        timeout: float | None = None,
        stdin: str | bytes | None = None,
        env: Mapping[str, str] | None = None,
        on_output: OutputCallback | None = None,
        output_limit: int | None = None,
        limits: Limits | None = None,
    ) -> ExecutionResult:
        """`execute` for asyncio: the call runs in a worker thread, the event loop never blocks.

        Cancelling the awaiting task stops the run (every process of it is killed) before
        `CancelledError` propagates.
        """
        control = self._open_call(timeout)
        task = asyncio.ensure_future(asyncio.to_thread(
            self._run_call, blocks, control, stdin=stdin, env=env, on_output=on_output, output_limit=output_limit,
            limits=limits,
        ))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            control.stop(StopReason.CANCELLED)
            await asyncio.wait([task])  # the run is being killed: wait until it is cleaned up
            raise

    def _open_call(self, timeout: float | None) -> RunControl:
        limit = self.timeout if timeout is None else float(timeout)
        if limit <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        control = RunControl(time.monotonic() + limit, limit)
        with self._lock:
            self._check_open()
            self._inflight.add(control)
        return control

    def _run_call(
        self, blocks: Sequence[CodeBlock] | CodeBlock, control: RunControl, *, stdin: str | bytes | None,
        env: Mapping[str, str] | None, on_output: OutputCallback | None, output_limit: int | None,
        limits: Limits | None,
    ) -> ExecutionResult:
        """Run one call that `_open_call` registered, and unregister it however it ends."""
        try:
            return self._run_registered(
                blocks, control, stdin=stdin, env=env, on_output=on_output, output_limit=output_limit, limits=limits
            )
        finally:
            with self._lock:
                self._inflight.discard(control)

    def _run_registered(
        self, blocks: Sequence[CodeBlock] | CodeBlock, control: RunControl, *, stdin: str | bytes | None,
        env: Mapping[str, str] | None, on_output: OutputCallback | None, output_limit: int | None,
        limits: Limits | None,
    ) -> ExecutionResult:
        if isinstance(blocks, CodeBlock):
            blocks = [blocks]
        elif isinstance(blocks, (str, bytes)) or not all(isinstance(b, CodeBlock) for b in blocks):
            raise TypeError(
                "execute() takes CodeBlock objects; for markdown text use "
                "execute(sandbox.extract_code_blocks(text))"
            )
        if isinstance(stdin, str):
            stdin = stdin.encode()
        if limits is not None and not isinstance(limits, Limits):
            raise TypeError(f"limits must be a sandbox.Limits, not {type(limits).__name__}")
        self._check_limits(limits)
        limit = self.output_limit if output_limit is None else output_limit
        queued = not self._take_slot(control)
        started = time.monotonic()
        call = Call(
            output=OutputBuffer(limit), control=control, started=started, stdin=stdin or b"",
            env={**self.env, **(env or {})}, on_output=on_output, limits=limits,
        )
        if queued:  # cancelled while waiting for a slot: every block reports it, nothing runs
            return self._execute(list(blocks), control, started, call)
        try:
            control.deadline = started + control.limit  # time spent queued is not the code's
            result = self._execute(list(blocks), control, started, call)
        finally:
            self._slots.release()
        if call.callback_error is not None:
            raise call.callback_error
        return result

    def _take_slot(self, control: RunControl) -> bool:
        """Wait for one of the `max_concurrency` slots; False if the call was stopped meanwhile."""
        while not self._slots.acquire(timeout=0.05):
            if control.stopped:
                return False
        return True

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
        self, *, index: int, language: Language, script: PurePosixPath, control: RunControl, call: Call
    ) -> BlockRun:
        """Run the saved script `script` (workspace-relative), writing its output through `call.write`."""
        raise NotImplementedError

    def _check_limits(self, limits: Limits | None) -> None:
        """Refuse per-call limits this backend cannot apply (ValueError naming the fix)."""

    def _begin_call(self, control: RunControl, call: Call) -> None:
        """Prepare the sandbox for one call (e.g. take its container, apply `call.limits`)."""

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

    def _execute(self, blocks: list[CodeBlock], control: RunControl, started: float, call: Call) -> ExecutionResult:
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

    def _one_block(self, index: int, block: CodeBlock, control: RunControl, call: Call) -> BlockResult:
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
            self._begin_call(control, call)
        run = self._run_block(index=index, language=language, script=rel, control=control, call=call)
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

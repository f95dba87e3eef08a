"""The values that cross the executor seam: what goes in (`CodeBlock`) and what comes out.

Every value here is frozen and keyword-only: a result is a record of what happened, and code
that receives one can pass it around, cache it or compare it without defensive copies. Field
names follow `subprocess.CompletedProcess` (`exit_code` is its `returncode`, `stdout`,
`stderr`) so that the vocabulary is the one Python programmers already read.

Outcomes the code (or the model that wrote it) must see are data on the result, never
exceptions: a non-zero exit, an unknown language, a timeout, an OOM kill, undecodable bytes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = [
    "EXIT_CANCELLED",
    "EXIT_OOM",
    "EXIT_TIMEOUT",
    "BlockResult",
    "CodeBlock",
    "ExecutionError",
    "ExecutionResult",
    "FileChange",
    "Outcome",
    "OutputEvent",
]

# AutoGen reports a timeout as exit code 124 (the number GNU `timeout` uses); prompts written
# for AutoGen look for it, so we keep it. The other two follow the shell's 128 + signal rule.
EXIT_TIMEOUT = 124
EXIT_OOM = 137  # 128 + SIGKILL: what the kernel's OOM killer leaves behind
EXIT_CANCELLED = 130  # 128 + SIGINT: what a Ctrl-C leaves behind


@dataclass(frozen=True, slots=True)
class CodeBlock:
    """One piece of code to run (or, for save-only languages, to write to the workspace).

    `language` is the tag as the author wrote it (`py`, `c++`, `shell-session`); executors map
    it to a runnable language through `sandbox.languages`. `filename`, when given, is a path
    relative to the workspace where the code is saved before it runs, and where it stays.
    """

    code: str
    language: str | None = None
    filename: str | None = None


class Outcome(str, enum.Enum):
    """How a run ended. `str` mixin so that JSON and logs show the plain word."""

    SUCCESS = "success"  # every block ran and exited 0
    ERROR = "error"  # a block exited non-zero (the code's own failure)
    TIMEOUT = "timeout"  # the call's deadline passed; every process of the run was killed
    OOM = "oom"  # the memory limit was hit and the kernel killed the code
    CANCELLED = "cancelled"  # `cancel()` stopped the run from another thread
    REJECTED = "rejected"  # the engine refused to run a block (unknown language, bad filename)


@dataclass(frozen=True, slots=True, kw_only=True)
class FileChange:
    """A workspace file that a run created or modified, relative to the workspace.

    `mime_type` comes from the file's first bytes when they say (PNG, JPEG, PDF, ...), else
    from its name (`sandbox.mime.guess_mime_type`); `is_image` tells artifacts a model or a UI
    can show apart from data files.
    """

    path: str
    size: int
    created: bool  # False: it existed before the run and was changed
    mime_type: str = "application/octet-stream"

    @property
    def is_image(self) -> bool:
        return self.mime_type.startswith("image/")


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputEvent:
    """Output as it is produced, for `execute(on_output=...)`: one event per chunk the reader saw.

    `text` is `data` decoded as UTF-8 with bad bytes replaced; a character split across two
    chunks is decoded whole in the second. `elapsed_s` counts from the start of the call.
    """

    block: int
    stream: str  # "stdout" or "stderr"
    text: str
    data: bytes
    elapsed_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockResult:
    """What happened to one block of a call."""

    index: int
    language: str  # canonical language name ("python", "bash", ...) or the unknown tag
    filename: str | None  # workspace-relative path the code was saved to, if it was kept
    outcome: Outcome
    exit_code: int | None  # None: the block never ran (rejected, save-only, or skipped)
    output: str  # stdout and stderr interleaved in the order they were written
    message: str = ""  # why the engine did not run it, or why it was stopped


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionResult:
    """The record of one `execute()` call over one or more blocks.

    `stdout`, `stderr` and `output` hold only what the code wrote (bounded by the executor's
    output cap, head and tail kept); what the engine itself has to say, such as why a block was
    rejected or that the deadline passed, is in `message`. `exit_code` is the exit code of the
    last block that ran, `None` when no code ran at all.
    """

    outcome: Outcome
    exit_code: int | None
    stdout: str = ""
    stderr: str = ""
    output: str = ""
    message: str = ""
    truncated_bytes: int = 0  # bytes of output dropped from the middle to respect the cap
    duration_s: float = 0.0
    blocks: tuple[BlockResult, ...] = ()
    files: tuple[FileChange, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.SUCCESS

    @property
    def timed_out(self) -> bool:
        return self.outcome is Outcome.TIMEOUT

    @property
    def oom_killed(self) -> bool:
        return self.outcome is Outcome.OOM

    @property
    def cancelled(self) -> bool:
        return self.outcome is Outcome.CANCELLED

    @property
    def truncated(self) -> bool:
        return self.truncated_bytes > 0

    def check(self) -> ExecutionResult:
        """Raise `ExecutionError` unless the run succeeded; return self so calls can chain.

        The counterpart of `CompletedProcess.check_returncode()`.
        """
        if not self.ok:
            raise ExecutionError(self)
        return self

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view (enums as their values), used by the CLI's `--json`."""
        return {
            "outcome": self.outcome.value,
            "exit_code": self.exit_code,
            "ok": self.ok,
            "timed_out": self.timed_out,
            "oom_killed": self.oom_killed,
            "truncated": self.truncated,
            "truncated_bytes": self.truncated_bytes,
            "duration_s": round(self.duration_s, 4),
            "message": self.message,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "output": self.output,
            "blocks": [
                {
                    "index": b.index,
                    "language": b.language,
                    "filename": b.filename,
                    "outcome": b.outcome.value,
                    "exit_code": b.exit_code,
                    "output": b.output,
                    "message": b.message,
                }
                for b in self.blocks
            ],
            "files": [
                {"path": f.path, "size": f.size, "created": f.created, "mime_type": f.mime_type, "is_image": f.is_image}
                for f in self.files
            ],
        }


class ExecutionError(Exception):
    """Raised by `ExecutionResult.check()`: the run did not succeed. Carries the result.

    It is deliberately not a `SandboxError`: the engine worked, the code did not.
    """

    def __init__(self, result: ExecutionResult) -> None:
        self.result = result
        detail = result.message or f"exit code {result.exit_code}"
        super().__init__(f"execution {result.outcome.value}: {detail}")

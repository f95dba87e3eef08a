"""What both adapters share: the runner underneath, blocks in, results out.

The frameworks' values are thin (`CodeBlock(code, language)`, `CodeResult(exit_code, output)`)
and ours are richer, so each crossing is spelled out here once:

- In: a block's first-line `# filename: x.py` comment names its file, as in AutoGen, by the
  same rule `extract_code_blocks` applies; an empty language tag is guessed.
- Out: the exit code AutoGen would report (124 on a timeout, 1 when nothing ran) and the
  output followed by AutoGen's word for what happened ("Timeout", ...) and the engine's own
  explanation, so a model prompted for AutoGen reads what it expects. The typed
  `ExecutionResult` travels with the framework's result as `execution_result`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..extract import _comment_filename  # the one rule for `# filename:` comments
from ..inference import infer_language
from ..models import EXIT_CANCELLED, EXIT_OOM, EXIT_TIMEOUT, CodeBlock, ExecutionResult, Outcome
from ..protocol import CodeExecutor

__all__ = ["RunnerViews", "build_backend", "code_file", "exit_code", "output", "sandbox_block"]

# AutoGen's words, first on the note line (its executors append "Timeout" to the output).
_WORDS = {
    Outcome.TIMEOUT: "Timeout",
    Outcome.OOM: "Out of memory",
    Outcome.CANCELLED: "Cancelled",
    Outcome.REJECTED: "Not run",
}
_FIXED_EXIT = {Outcome.TIMEOUT: EXIT_TIMEOUT, Outcome.OOM: EXIT_OOM, Outcome.CANCELLED: EXIT_CANCELLED}
_NOTHING_RAN_EXIT = 1  # AutoGen's exit code for a block it refused (unknown language, bad filename)


class RunnerViews:
    """What both adapters show of the sandbox executor they hold as `_runner`."""

    _runner: CodeExecutor

    @property
    def executor(self) -> CodeExecutor:
        """The sandbox executor underneath (for its typed API)."""
        return self._runner

    @property
    def work_dir(self) -> Path:
        """The workspace on the host: code runs in it and named files are saved there."""
        return self._runner.work_dir

    @property
    def timeout(self) -> float | None:
        """The runner's time limit for one call, in seconds."""
        limit = getattr(self._runner, "timeout", None)
        return None if limit is None else float(limit)


def build_backend(executor: CodeExecutor | None, options: dict[str, Any]) -> tuple[CodeExecutor, bool]:
    """The runner to use and whether the adapter owns it (and so closes it).

    With no `executor`, a `DockerExecutor(**options)`; a given executor belongs to the caller.
    """
    if executor is None:
        from ..executors.docker import DockerExecutor  # lazy: docker-py only when it is used

        return DockerExecutor(**options), True
    if options:
        raise TypeError(
            f"pass either executor= or runner keywords ({', '.join(sorted(options))}), not both: "
            "the keywords configure the DockerExecutor made when no executor is given"
        )
    if not isinstance(executor, CodeExecutor):
        raise TypeError(
            f"executor= takes a sandbox executor (DockerExecutor, LocalExecutor, ...), not {type(executor).__name__}"
        )
    return executor, False


def sandbox_block(code: str, language: str | None, filename: str | None = None) -> CodeBlock:
    """Our `CodeBlock` for a framework's block; `sandbox.languages` resolves the tag later."""
    tag = (language or "").strip() or infer_language(code)
    return CodeBlock(code=code, language=tag, filename=filename or _comment_filename(code))


def exit_code(result: ExecutionResult) -> int:
    """The exit code AutoGen's executors would report for this run."""
    if result.ok:
        return 0  # also when only save-only blocks were given and nothing ran
    fixed = _FIXED_EXIT.get(result.outcome)
    if fixed is not None:
        return fixed
    # A refused block has no exit code, and an earlier block may have exited 0: not a success.
    return result.exit_code or _NOTHING_RAN_EXIT


def output(result: ExecutionResult) -> str:
    """The code's output, then one line per thing the engine has to say about the run."""
    notes: list[str] = []
    message = result.message.strip()
    word = _WORDS.get(result.outcome)
    if word is not None:
        if message.lower().startswith(word.lower() + ":"):  # "cancelled: the run was ..."
            message = message[len(word) + 1:].strip()
        notes.append(f"{word}: {message}" if message else word)
    elif message and not result.ok:
        notes.append(message)
    if result.truncated:
        notes.append(
            f"Output truncated: {result.truncated_bytes:,} bytes from the middle were dropped; "
            "the beginning and the end are shown."
        )
    text = result.output
    if not notes:
        return text
    if text and not text.endswith("\n"):
        text += "\n"
    return text + "\n".join(notes)


def code_file(result: ExecutionResult, work_dir: Path) -> str | None:
    """The host path of the first file a block was saved to, like autogen_ext's `code_file`.

    Blocks without a filename run from temporary files that are removed after the run, so
    only named files are reported.
    """
    for block in result.blocks:
        if block.filename:
            return str(work_dir / block.filename)
    return None

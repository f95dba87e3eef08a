"""AG2 (and AutoGen 0.2): `SandboxCodeExecutor`, for `autogen.coding`'s executor protocol.

    from sandbox.integrations.ag2 import SandboxCodeExecutor

    with SandboxCodeExecutor(work_dir="coding", timeout=60) as executor:  # Docker by default
        user_proxy = UserProxyAgent("user_proxy", code_execution_config={"executor": executor})
        user_proxy.initiate_chat(assistant, message="...")

It takes the runner's keywords (`image`, `work_dir`, `timeout`, `session`, `memory`,
`runtime`, ...) for the `DockerExecutor` it creates, or a ready executor:
`SandboxCodeExecutor(executor=LocalExecutor())` (which stays the caller's to close).

The protocol is AG2 Classic's, the `autogen` import name: PyPI's `autogen` (maintained) or
`ag2` before 1.0; AG2 1.0 (`import ag2`) dropped it. Code blocks are found with
`sandbox.extract_code_blocks` (CommonMark fences, `title=`/`filename=` attributes) instead
of AG2's regular expression.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

try:
    from autogen.code_utils import content_str
    from autogen.coding.base import CodeBlock as AG2CodeBlock
    from autogen.coding.base import CommandLineCodeResult
except ImportError as exc:  # the optional extra is not installed
    raise ImportError(
        "sandbox.integrations.ag2 needs AG2 Classic or AutoGen 0.2 (the `autogen` package): "
        "pip install 'sandbox-engine[ag2]'",
        name=exc.name,
    ) from exc
from pydantic import ConfigDict, Field

from ..extract import extract_code_blocks
from ..models import ExecutionResult
from ..protocol import CodeExecutor
from . import bridge

__all__ = ["SandboxCodeBlock", "SandboxCodeExecutor", "SandboxCodeExtractor", "SandboxCodeResult"]


class SandboxCodeBlock(AG2CodeBlock):
    """AG2's `CodeBlock` and the file the fence names (`title=`, `filename=`, `# filename:`)."""

    filename: str | None = Field(default=None, description="Workspace-relative path to save the code to.")


class SandboxCodeResult(CommandLineCodeResult):
    """AG2's `CommandLineCodeResult` (`exit_code`, `output`, `code_file`) plus our typed record
    of the run in `execution_result` (outcome, streams, files, timings); not serialised."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    execution_result: ExecutionResult = Field(exclude=True, repr=False)


class SandboxCodeExtractor:
    """AG2's `CodeExtractor`, backed by `sandbox.extract_code_blocks`."""

    def extract_code_blocks(self, message: str | list[Any] | None) -> list[AG2CodeBlock]:
        """The fenced blocks of a message (text or multimodal content), in order."""
        return [
            SandboxCodeBlock(code=block.code, language=block.language or "", filename=block.filename)
            for block in extract_code_blocks(content_str(message))
        ]


class SandboxCodeExecutor(bridge.RunnerViews):
    """Runs AG2's code blocks in our sandbox: a hardened `DockerExecutor` by default.

    Fits `autogen.coding.CodeExecutor` (`code_extractor`, `execute_code_blocks`, `restart`).
    `close()` (alias `stop()`, AG2's name) closes a runner this object created; it is also a
    context manager.
    """

    def __init__(self, *, executor: CodeExecutor | None = None, **options: Any) -> None:
        self._runner, self._owned = bridge.build_backend(executor, options)
        self._extractor = SandboxCodeExtractor()

    @property
    def code_extractor(self) -> SandboxCodeExtractor:
        """How the agent finds code in a message."""
        return self._extractor

    def execute_code_blocks(self, code_blocks: list[AG2CodeBlock]) -> SandboxCodeResult:
        """Run the blocks in order, stopping at the first failure, within one time limit."""
        blocks = [bridge.sandbox_block(b.code, b.language, getattr(b, "filename", None)) for b in code_blocks]
        result = self._runner.execute(blocks)
        return SandboxCodeResult(
            exit_code=bridge.exit_code(result),
            output=bridge.output(result),
            code_file=bridge.code_file(result, self._runner.work_dir),
            execution_result=result,
        )

    def restart(self) -> None:
        """Stop what runs and discard the runner's state but the workspace (AG2: on reset)."""
        self._runner.restart()

    def cancel(self) -> None:
        """Kill the runs in flight, from any thread; they return exit code 130."""
        self._runner.cancel()

    def close(self) -> None:
        """Close the runner if this object created it (a given executor is the caller's). Idempotent."""
        if self._owned:
            self._runner.close()

    stop = close

    def __enter__(self) -> SandboxCodeExecutor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

"""`sandbox.integrations.bridge`: how blocks cross in and results cross out (no framework needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox import BlockResult, CodeBlock, ExecutionResult, Outcome
from sandbox.integrations import bridge


def result(outcome: Outcome, exit_code: int | None, output: str = "", message: str = "", **kw: object) -> ExecutionResult:
    return ExecutionResult(outcome=outcome, exit_code=exit_code, output=output, message=message, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("run", "exit_code", "output"),
    [
        (result(Outcome.SUCCESS, 0, "hi\n"), 0, "hi\n"),
        (result(Outcome.SUCCESS, None), 0, ""),  # only save-only blocks: nothing ran, nothing failed
        (result(Outcome.ERROR, 2, "boom\n"), 2, "boom\n"),
        (result(Outcome.TIMEOUT, 124, "part", "timed out after 5 s; every process of the run was killed"),
         124, "part\nTimeout: timed out after 5 s; every process of the run was killed"),
        (result(Outcome.OOM, 137, "", "killed: the run exceeded its memory limit of 64 MiB"),
         137, "Out of memory: killed: the run exceeded its memory limit of 64 MiB"),
        (result(Outcome.CANCELLED, None, "", "cancelled: the run was stopped by cancel()"),
         130, "Cancelled: the run was stopped by cancel()"),
        (result(Outcome.REJECTED, 0, "first ran\n", "block 2: unknown language 'pwsh'"),
         1, "first ran\nNot run: block 2: unknown language 'pwsh'"),
        (result(Outcome.ERROR, 1, "head...tail\n", truncated_bytes=12345), 1,
         "head...tail\nOutput truncated: 12,345 bytes from the middle were dropped; the beginning and the end are shown."),
    ],
    ids=["success", "save-only", "error", "timeout", "oom", "cancelled", "rejected-after-success", "truncated"],
)
def test_results_as_autogen_reports_them(run: ExecutionResult, exit_code: int, output: str) -> None:
    assert bridge.exit_code(run) == exit_code
    assert bridge.output(run) == output


def test_code_file_is_the_first_saved_block(tmp_path: Path) -> None:
    def block(index: int, filename: str | None) -> BlockResult:
        return BlockResult(index=index, language="python", filename=filename, outcome=Outcome.SUCCESS, exit_code=0, output="")

    run = result(Outcome.SUCCESS, 0, blocks=(block(0, None), block(1, "a/b.py"), block(2, "c.py")))
    assert bridge.code_file(run, tmp_path) == str(tmp_path / "a" / "b.py")
    assert bridge.code_file(result(Outcome.SUCCESS, 0), tmp_path) is None


def test_blocks_cross_in_with_their_filename_and_a_guessed_language() -> None:
    assert bridge.sandbox_block("# filename: x.py\nprint(1)\n", "python") == CodeBlock("# filename: x.py\nprint(1)\n", "python", "x.py")
    assert bridge.sandbox_block("print(1)\n", "", "given.py") == CodeBlock("print(1)\n", "python", "given.py")
    assert bridge.sandbox_block("# compute the median\n", "sh").filename is None  # AutoGen took this for a name
    assert bridge.sandbox_block("echo hi\n", "  SHELL ").language == "SHELL"  # resolved later by sandbox.languages

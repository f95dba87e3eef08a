"""The public surface is a contract: pin it, and keep `import sandbox` free of docker-py."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

import sandbox
from sandbox import CodeBlock, ExecutionResult, FileChange, Outcome, SandboxError


def test_exported_names_are_pinned() -> None:
    assert sorted(sandbox.__all__) == sorted([
        "BlockResult", "CodeBlock", "CodeExecutor", "DockerExecutor", "EngineUnavailableError",
        "ExecutionError", "ExecutionResult", "ExecutorClosedError", "FakeExecutor", "FileChange",
        "FileLimitError", "FileLimits", "ImageBuildError", "ImageNotFoundError", "Limits", "LocalExecutor", "Outcome",
        "OutputEvent", "Pool",
        "Requirements", "RuntimeUnavailableError", "SandboxError", "WorkspaceError", "extract_code_blocks",
        "infer_language",
    ])
    for name in sandbox.__all__:
        assert getattr(sandbox, name) is not None


def test_import_does_not_load_docker() -> None:
    code = "import sys, sandbox; sandbox.CodeBlock('x'); print('docker' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_errors_share_one_root() -> None:
    for name in ("EngineUnavailableError", "ImageNotFoundError", "ImageBuildError", "RuntimeUnavailableError",
                 "ExecutorClosedError", "WorkspaceError"):
        assert issubclass(getattr(sandbox, name), SandboxError)
    # Bad input to the file API is the caller's mistake, as in the standard library: a ValueError.
    assert issubclass(sandbox.FileLimitError, ValueError) and not issubclass(sandbox.FileLimitError, SandboxError)


def test_file_changes_carry_a_mime_type_and_the_json_view_shows_it() -> None:
    png = FileChange(path="plots/figure_1.png", size=2048, created=True, mime_type="image/png")
    data = FileChange(path="out.csv", size=12, created=False, mime_type="text/csv")
    assert png.is_image and not data.is_image
    assert not FileChange(path="x", size=0, created=True).is_image  # unknown: application/octet-stream
    result = ExecutionResult(outcome=Outcome.SUCCESS, exit_code=0, files=(png, data))
    assert result.to_dict()["files"] == [
        {"path": "plots/figure_1.png", "size": 2048, "created": True, "mime_type": "image/png", "is_image": True},
        {"path": "out.csv", "size": 12, "created": False, "mime_type": "text/csv", "is_image": False},
    ]


def test_values_are_frozen() -> None:
    block = CodeBlock("print(1)", "python")
    result = ExecutionResult(outcome=Outcome.SUCCESS, exit_code=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        block.code = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.exit_code = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        ExecutionResult(Outcome.SUCCESS, 0)  # type: ignore[misc]  # keyword-only


@pytest.mark.parametrize(
    ("outcome", "flag"),
    [(Outcome.TIMEOUT, "timed_out"), (Outcome.OOM, "oom_killed"), (Outcome.CANCELLED, "cancelled")],
)
def test_outcome_flags_follow_the_outcome(outcome: Outcome, flag: str) -> None:
    result = ExecutionResult(outcome=outcome, exit_code=1)
    assert getattr(result, flag) and not result.ok
    with pytest.raises(sandbox.ExecutionError, match=outcome.value):
        result.check()


def test_fake_executor_records_calls_and_keeps_the_lifecycle() -> None:
    canned = ExecutionResult(outcome=Outcome.ERROR, exit_code=2, output="nope")
    with sandbox.FakeExecutor(lambda blocks: canned) as fake:
        assert isinstance(fake, sandbox.CodeExecutor)
        assert fake.execute([CodeBlock("x", "python")]) is canned
        assert fake.calls == [[CodeBlock("x", "python")]]
    with pytest.raises(sandbox.ExecutorClosedError):
        fake.execute([CodeBlock("x", "python")])

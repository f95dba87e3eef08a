"""`sandbox.integrations.ag2`: AG2's real executor protocol and factory, over every runner."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from frameworks import require

require("autogen.coding", "ag2")

from autogen.coding import CodeBlock as AG2Block  # noqa: E402
from autogen.coding import CodeExecutor as AG2CodeExecutor  # noqa: E402
from autogen.coding import CodeExecutorFactory  # noqa: E402

from sandbox import CodeExecutor, LocalExecutor, Outcome  # noqa: E402
from sandbox.integrations.ag2 import SandboxCodeBlock, SandboxCodeExecutor, SandboxCodeExtractor  # noqa: E402


def py(code: str) -> AG2Block:
    return AG2Block(code=textwrap.dedent(code), language="python")


# The adapter adds no mechanism of its own to a runner's results (tests/test_conformance.py
# covers each runner): these run on the local runner, the Docker runner is the default's test.
local_only = pytest.mark.parametrize("backend", ["local"], indirect=True)


def test_import_without_the_extra_names_the_pip_command() -> None:
    # A fresh interpreter where `autogen` cannot be imported, as without the extra.
    code = "import sys; sys.modules['autogen'] = None; import sandbox.integrations.ag2"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "ImportError: sandbox.integrations.ag2 needs" in proc.stderr
    assert "pip install 'sandbox-engine[ag2]'" in proc.stderr


@local_only
def test_fits_ag2s_protocol_and_factory(make_executor: Callable[..., CodeExecutor]) -> None:
    ex = SandboxCodeExecutor(executor=make_executor(timeout=20))
    assert isinstance(ex, AG2CodeExecutor)  # AG2's runtime-checkable protocol
    assert CodeExecutorFactory.create({"executor": ex}) is ex  # what UserProxyAgent does with it


def test_extractor_finds_fences_filenames_and_multimodal_text() -> None:
    extractor = SandboxCodeExtractor()
    message = 'Save it:\n\n```python title="tool.py"\nprint(1)\n```\n\n````markdown\n```sh\nnot code\n```\n````\n'
    blocks = extractor.extract_code_blocks(message)
    assert [(b.language, b.code) for b in blocks] == [("python", "print(1)\n"), ("markdown", "```sh\nnot code\n```\n")]
    assert isinstance(blocks[0], SandboxCodeBlock) and blocks[0].filename == "tool.py"
    parts = [{"type": "text", "text": "```\nprint('guessed')\n```\n"}, {"type": "image_url", "image_url": {"url": "x"}}]
    assert [(b.language, b.code) for b in extractor.extract_code_blocks(parts)] == [("python", "print('guessed')\n")]
    assert extractor.extract_code_blocks("no code here") == []


@local_only
def test_results_map_to_ag2s_exit_codes_and_output(make_executor: Callable[..., CodeExecutor]) -> None:
    ex = SandboxCodeExecutor(executor=make_executor(timeout=20))
    ok = ex.execute_code_blocks([py("print('hello')"), AG2Block(code="echo from bash", language="bash")])
    assert (ok.exit_code, ok.output, ok.code_file) == (0, "hello\nfrom bash\n", None)
    assert ok.execution_result.outcome is Outcome.SUCCESS
    assert "execution_result" not in ok.model_dump()  # AG2 may serialise results: ours stays out

    failed = ex.execute_code_blocks([py("import sys; print('oops', flush=True); sys.exit(2)")])
    assert (failed.exit_code, failed.output) == (2, "oops\n")

    refused = ex.execute_code_blocks([AG2Block(code="x", language="")])
    assert refused.exit_code == 1 and refused.output.startswith("Not run: block 1: unknown language '(none)'")


@local_only
def test_extracted_filename_is_saved_and_is_the_code_file(make_executor: Callable[..., CodeExecutor]) -> None:
    ex = SandboxCodeExecutor(executor=make_executor(timeout=20))
    blocks = ex.code_extractor.extract_code_blocks("```python filename=app/main.py\nprint('named')\n```")
    result = ex.execute_code_blocks(blocks)
    assert (result.exit_code, result.output) == (0, "named\n")
    assert result.code_file == str(ex.work_dir / "app" / "main.py") and Path(result.code_file).is_file()


@local_only
def test_timeout_is_exit_124_with_autogens_word(make_executor: Callable[..., CodeExecutor]) -> None:
    ex = SandboxCodeExecutor(executor=make_executor(timeout=1))
    result = ex.execute_code_blocks([py("print('partial', flush=True)\nimport time\ntime.sleep(60)")])
    assert result.exit_code == 124
    assert result.output == "partial\nTimeout: timed out after 1 s; every process of the run was killed"


@local_only
def test_cancel_from_another_thread(make_executor: Callable[..., CodeExecutor]) -> None:
    ex = SandboxCodeExecutor(executor=make_executor(timeout=30))
    started = ex.work_dir / "started"

    def cancel_once_started() -> None:
        deadline = time.monotonic() + 20
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        ex.cancel()

    thread = threading.Thread(target=cancel_once_started)
    thread.start()
    result = ex.execute_code_blocks([py("open('started', 'w').close()\nimport time\ntime.sleep(60)")])
    thread.join()
    assert result.exit_code == 130 and result.execution_result.cancelled


def test_a_given_executor_stays_the_callers() -> None:
    with LocalExecutor(timeout=5) as local:
        with SandboxCodeExecutor(executor=local) as ex:
            assert ex.executor is local and ex.timeout == 5 and ex.work_dir == local.work_dir
        assert not local.closed
    with pytest.raises(TypeError, match="either executor= or runner keywords"):
        SandboxCodeExecutor(executor=local, image="x")


@pytest.mark.docker
@pytest.mark.usefixtures("docker_required")
def test_defaults_to_docker_and_restart_keeps_only_the_workspace(tmp_path: Path, leak_check: Any) -> None:
    from sandbox import DockerExecutor

    with SandboxCodeExecutor(work_dir=tmp_path / "ws", timeout=20, session=True) as ex:
        runner = leak_check(ex.executor)
        assert isinstance(runner, DockerExecutor) and runner.session
        first = ex.execute_code_blocks([py("import os; print(os.getcwd(), os.getuid()); open('/tmp/state', 'w').close(); open('kept.txt', 'w').close()")])
        cwd, uid = first.output.split()
        assert cwd == "/workspace"  # only the container has its workspace there
        if os.geteuid() == 0:
            assert uid == "65532"
        probe = [AG2Block(code="ls /tmp/state kept.txt 2>&1; true", language="sh")]
        assert "No such file" not in ex.execute_code_blocks(probe).output
        ex.restart()
        after = ex.execute_code_blocks(probe).output
        assert "'/tmp/state': No such file" in after and "kept.txt" in after.splitlines()
    assert runner.closed  # the context manager closed the runner it made
    ex.stop()  # idempotent, AG2's name for close()

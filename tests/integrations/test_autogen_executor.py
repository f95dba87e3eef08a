"""`sandbox.integrations.autogen`: the real autogen-core ABC, over every runner, and its lifecycle."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from frameworks import require

require("autogen_core", "autogen")

from autogen_core import CancellationToken  # noqa: E402
from autogen_core.code_executor import CodeBlock as AGBlock  # noqa: E402
from autogen_core.code_executor import CodeExecutor as AutoGenCodeExecutor  # noqa: E402

from sandbox import CodeExecutor, ExecutorClosedError, LocalExecutor, Outcome  # noqa: E402
from sandbox.integrations.autogen import SandboxCodeExecutor, SandboxCodeResult  # noqa: E402

def py(code: str) -> AGBlock:
    return AGBlock(code=textwrap.dedent(code), language="python")


def run(executor: SandboxCodeExecutor, *blocks: AGBlock, token: CancellationToken | None = None) -> SandboxCodeResult:
    return asyncio.run(executor.execute_code_blocks(list(blocks), token or CancellationToken()))


async def _wait_for(path: Path, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared: the code did not start"
        await asyncio.sleep(0.02)


# The adapter adds no mechanism of its own to a runner's results (tests/test_conformance.py
# covers each runner): those tests run on the local runner; the ones about stopping a run
# (token, task, stop()) and the default Docker runner run on Docker as well.
local_only = pytest.mark.parametrize("backend", ["local"], indirect=True)

SLEEPER = "open('started', 'w').close()\nprint('about to sleep', flush=True)\nimport time\ntime.sleep(60)\n"


def test_import_without_the_extra_names_the_pip_command() -> None:
    # A fresh interpreter where `autogen_core` cannot be imported, as without the extra.
    code = "import sys; sys.modules['autogen_core'] = None; import sandbox.integrations.autogen"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "ImportError: sandbox.integrations.autogen needs" in proc.stderr
    assert "pip install 'sandbox-engine[autogen]'" in proc.stderr


# -- given a ready executor ------------------------------------------------------------------


@local_only
def test_results_map_to_autogen_exit_codes_and_output(make_executor: Callable[..., CodeExecutor]) -> None:
    ex = SandboxCodeExecutor(executor=make_executor(timeout=20))
    assert isinstance(ex, AutoGenCodeExecutor)
    ok = run(ex, py("print('hello')"), AGBlock(code="echo from shell", language="shell"))
    assert (ok.exit_code, ok.output) == (0, "hello\nfrom shell\n")
    assert ok.execution_result.outcome is Outcome.SUCCESS and len(ok.execution_result.blocks) == 2

    failed = run(ex, AGBlock(code="echo partial; exit 3", language="sh"), py("print('never')"))
    assert (failed.exit_code, failed.output) == (3, "partial\n")

    refused = run(ex, py("print('ran')"), AGBlock(code="Write-Output 1", language="pwsh"))
    assert refused.exit_code == 1  # AutoGen's code for a block it cannot run, even after one that exited 0
    assert refused.output.startswith("ran\nNot run: block 2: unknown language 'pwsh'")
    assert refused.execution_result.outcome is Outcome.REJECTED


@local_only
def test_filename_comment_saves_the_block_and_is_the_code_file(make_executor: Callable[..., CodeExecutor]) -> None:
    ex = SandboxCodeExecutor(executor=make_executor(timeout=20))
    result = run(ex, py("# filename: pkg/tool.py\nprint('saved')"))
    assert result.exit_code == 0 and result.output == "saved\n"
    assert result.code_file == str(ex.work_dir / "pkg" / "tool.py")
    assert Path(result.code_file).read_text().startswith("# filename: pkg/tool.py")
    assert run(ex, py("print('temp')")).code_file is None  # unnamed blocks run from removed temp files


@local_only
def test_timeout_is_exit_124_with_autogens_word_and_partial_output(make_executor: Callable[..., CodeExecutor]) -> None:
    ex = SandboxCodeExecutor(executor=make_executor(timeout=1))
    result = run(ex, py("print('partial', flush=True)\nimport time\ntime.sleep(60)"))
    assert result.exit_code == 124
    assert result.output == "partial\nTimeout: timed out after 1 s; every process of the run was killed"
    assert result.execution_result.timed_out


def test_cancelling_the_token_kills_the_run(make_executor: Callable[..., CodeExecutor]) -> None:
    ex = SandboxCodeExecutor(executor=make_executor(timeout=30))
    token = CancellationToken()

    async def scenario() -> tuple[SandboxCodeResult, float]:
        call = asyncio.ensure_future(ex.execute_code_blocks([py(SLEEPER)], token))
        await _wait_for(ex.work_dir / "started")
        cancelled_at = time.monotonic()
        token.cancel()
        result = await call
        return result, time.monotonic() - cancelled_at

    result, latency = asyncio.run(scenario())
    print(f"returned {latency:.2f} s after token.cancel()")
    assert result.exit_code == 130
    assert result.output.startswith("about to sleep\nCancelled: the run was stopped")
    assert result.execution_result.cancelled  # not a timeout: the 30 s limit was far away
    assert latency < 2.5, f"the run outlived token.cancel() by {latency:.2f} s"
    # (the fixture then checks that no container and no process of the run is left)


@local_only
def test_a_token_cancelled_before_the_call_runs_nothing(make_executor: Callable[..., CodeExecutor]) -> None:
    ex = SandboxCodeExecutor(executor=make_executor(timeout=20))
    token = CancellationToken()
    token.cancel()
    result = run(ex, py("open('ran', 'w').close()"), token=token)
    assert result.exit_code == 130 and "already cancelled" in result.output
    assert not (ex.work_dir / "ran").exists()


@local_only
def test_a_used_token_cancelled_later_does_not_touch_the_next_call(make_executor: Callable[..., CodeExecutor]) -> None:
    ex = SandboxCodeExecutor(executor=make_executor(timeout=20))
    old = CancellationToken()
    assert run(ex, py("print(1)"), token=old).exit_code == 0

    async def scenario() -> SandboxCodeResult:
        call = asyncio.ensure_future(ex.execute_code_blocks([py("import time; time.sleep(1); print('done')")], CancellationToken()))
        await asyncio.sleep(0.3)
        old.cancel()  # its callback is still registered on the token: it must find nothing to stop
        return await call

    result = asyncio.run(scenario())
    assert (result.exit_code, result.output) == (0, "done\n")


def test_cancelling_the_awaiting_task_kills_the_run_then_raises(make_executor: Callable[..., CodeExecutor]) -> None:
    ex = SandboxCodeExecutor(executor=make_executor(timeout=30))

    async def scenario() -> float:
        call = asyncio.ensure_future(ex.execute_code_blocks([py(SLEEPER)], CancellationToken()))
        await _wait_for(ex.work_dir / "started")
        started = time.monotonic()
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        return time.monotonic() - started

    latency = asyncio.run(scenario())
    assert latency < 2.5, f"the cancelled task took {latency:.2f} s to let go"
    assert run(ex, py("print('after')")).output == "after\n"  # the runner is fine afterwards


@local_only
def test_the_event_loop_keeps_running_while_code_runs(make_executor: Callable[..., CodeExecutor]) -> None:
    ex = SandboxCodeExecutor(executor=make_executor(timeout=20))

    async def scenario() -> tuple[int, SandboxCodeResult]:
        ticks = 0
        call = asyncio.ensure_future(ex.execute_code_blocks([py("import time; time.sleep(1.5); print('slept')")], CancellationToken()))
        while not call.done():
            ticks += 1
            await asyncio.sleep(0.01)
        return ticks, call.result()

    ticks, result = asyncio.run(scenario())
    print(f"{ticks} ticks of another coroutine during a 1.5 s run")
    assert result.output == "slept\n"
    assert ticks >= 20  # a blocked loop would tick once or twice, before and after the run


@local_only
def test_a_given_executor_stays_the_callers(make_executor: Callable[..., CodeExecutor]) -> None:
    runner = make_executor(timeout=20)

    async def scenario() -> None:
        async with SandboxCodeExecutor(executor=runner) as ex:
            assert ex.executor is runner and ex.work_dir == runner.work_dir and ex.timeout == 20
            await ex.execute_code_blocks([py("print(1)")], CancellationToken())

    asyncio.run(scenario())
    assert runner.execute_code_blocks([]).ok  # not closed by stop(); the fixture closes it


def test_executor_and_runner_keywords_are_exclusive(tmp_path: Path) -> None:
    with LocalExecutor() as local:
        with pytest.raises(TypeError, match="either executor= or runner keywords"):
            SandboxCodeExecutor(executor=local, timeout=5)
    with pytest.raises(TypeError, match="executor= takes a sandbox executor"):
        SandboxCodeExecutor(executor=object())  # type: ignore[arg-type]


# -- the default: a DockerExecutor made from the runner's keywords ---------------------------


@pytest.mark.docker
@pytest.mark.usefixtures("docker_required")
def test_defaults_to_docker_with_the_runners_keywords(tmp_path: Path, leak_check: Any) -> None:
    from sandbox import DockerExecutor

    ex = SandboxCodeExecutor(work_dir=tmp_path / "ws", timeout=20, memory="256m")
    runner = leak_check(ex.executor)
    assert isinstance(runner, DockerExecutor) and runner.memory == 256 * 2**20
    result = run(ex, py("import os; print(os.getcwd(), os.getuid()); open('made.txt', 'w').close()"))
    cwd, uid = result.output.split()
    assert cwd == "/workspace"  # only the container has its workspace there
    if os.geteuid() == 0:
        assert uid == "65532"
    assert (tmp_path / "ws" / "made.txt").exists()
    assert [f.path for f in result.execution_result.files] == ["made.txt"]


@pytest.mark.docker
@pytest.mark.usefixtures("docker_required")
def test_lifecycle_start_stop_restart(tmp_path: Path, leak_check: Any) -> None:
    ex = SandboxCodeExecutor(work_dir=tmp_path / "ws", timeout=20, session=True)
    first = leak_check(ex.executor)

    async def scenario() -> None:
        await ex.start()  # optional: the runner exists already
        remember = [py("open('/tmp/state', 'w').close(); open('kept.txt', 'w').close()")]
        assert (await ex.execute_code_blocks(remember, CancellationToken())).exit_code == 0
        probe = [AGBlock(code="ls /tmp/state kept.txt 2>&1; true", language="bash")]
        assert "No such file" not in (await ex.execute_code_blocks(probe, CancellationToken())).output
        await ex.restart()  # a session's state goes, the workspace stays
        after = (await ex.execute_code_blocks(probe, CancellationToken())).output
        assert "'/tmp/state': No such file" in after and "kept.txt" in after.splitlines()

        await ex.stop()
        await ex.stop()  # idempotent
        assert first.closed
        with pytest.raises(ExecutorClosedError, match=r"start\(\)"):
            await ex.execute_code_blocks([py("print(1)")], CancellationToken())
        async with ex:  # start() after stop() makes a new runner; the context manager stops it
            leak_check(ex.executor)
            assert ex.executor is not first
            assert (await ex.execute_code_blocks([py("print('again')")], CancellationToken())).output == "again\n"
        assert ex.executor.closed  # type: ignore[attr-defined]

    asyncio.run(scenario())


@pytest.mark.docker
@pytest.mark.usefixtures("docker_required")
def test_stop_kills_a_run_in_flight(tmp_path: Path, leak_check: Any) -> None:
    ex = SandboxCodeExecutor(work_dir=tmp_path / "ws", timeout=30)
    leak_check(ex.executor)

    async def scenario() -> SandboxCodeResult:
        call = asyncio.ensure_future(ex.execute_code_blocks([py(SLEEPER)], CancellationToken()))
        await _wait_for(tmp_path / "ws" / "started")
        await ex.stop()
        return await call

    result = asyncio.run(scenario())
    assert result.exit_code == 130 and result.execution_result.cancelled


@pytest.mark.docker
@pytest.mark.usefixtures("docker_required")
@pytest.mark.filterwarnings("ignore:No approval function set for CodeExecutorAgent:UserWarning")
def test_saves_and_loads_as_an_autogen_component(tmp_path: Path, leak_check: Any) -> None:
    from autogen_agentchat.agents import CodeExecutorAgent

    ex = SandboxCodeExecutor(work_dir=tmp_path / "ws", timeout=15, session=True)
    leak_check(ex.executor)
    model = CodeExecutorAgent("executor", code_executor=ex).dump_component()  # as a team or Studio saves it
    saved = model.config["code_executor"]
    assert saved["provider"] == "sandbox.integrations.autogen.SandboxCodeExecutor"
    assert saved["config"] == {"options": {"work_dir": str(tmp_path / "ws"), "timeout": 15, "session": True}}

    loaded = AutoGenCodeExecutor.load_component(saved)
    assert isinstance(loaded, SandboxCodeExecutor) and loaded is not ex
    leak_check(loaded.executor)
    assert loaded.work_dir == ex.work_dir and loaded.timeout == 15
    assert run(loaded, py("print('loaded')")).output == "loaded\n"

    with LocalExecutor() as local, pytest.raises(NotImplementedError, match="given executor"):
        SandboxCodeExecutor(executor=local).dump_component()

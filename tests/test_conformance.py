"""The contract every executor keeps, run unchanged over each backend (see conftest.BACKENDS)."""

from __future__ import annotations

import json
import os
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox import (
    CodeBlock,
    CodeExecutor,
    ExecutionError,
    ExecutorClosedError,
    Outcome,
    extract_code_blocks,
)
from sandbox.executors.base import TEMP_PREFIX

py = lambda code, filename=None: CodeBlock(code, "python", filename)  # noqa: E731
sh = lambda code, filename=None: CodeBlock(code, "bash", filename)  # noqa: E731


def test_is_a_code_executor(executor: CodeExecutor) -> None:
    assert isinstance(executor, CodeExecutor)
    assert executor.work_dir.is_dir()


def test_hello_world(executor: CodeExecutor) -> None:
    result = executor.execute([py("print('hello, world')")])
    assert result.outcome is Outcome.SUCCESS
    assert result.ok and not result.timed_out and not result.oom_killed and not result.truncated
    assert result.exit_code == 0
    assert result.stdout == "hello, world\n"
    assert result.stderr == ""
    assert result.output == "hello, world\n"
    assert len(result.blocks) == 1 and result.blocks[0].language == "python"
    assert result.blocks[0].output == "hello, world\n"
    assert result.duration_s > 0
    assert result.check() is result


def test_shell_block_and_markdown_input(executor: CodeExecutor) -> None:
    reply = "Run this:\n\n```bash\necho from-bash\n```\n\nthen\n\n```py\nprint(6 * 7)\n```\n"
    result = executor.execute(extract_code_blocks(reply))
    assert result.ok
    assert result.output == "from-bash\n42\n"
    assert [b.language for b in result.blocks] == ["bash", "python"]


def test_non_zero_exit_is_a_result(executor: CodeExecutor) -> None:
    result = executor.execute([py("import sys\nprint('about to fail')\nsys.exit(3)")])
    assert result.outcome is Outcome.ERROR
    assert result.exit_code == 3
    assert result.stdout == "about to fail\n"
    with pytest.raises(ExecutionError) as info:
        result.check()
    assert info.value.result is result


def test_traceback_goes_to_stderr(executor: CodeExecutor) -> None:
    result = executor.execute([py("raise ValueError('boom')")])
    assert result.outcome is Outcome.ERROR and result.exit_code == 1
    assert "ValueError: boom" in result.stderr
    assert result.stdout == ""


def test_stderr_apart_and_interleaved_in_order(executor: CodeExecutor) -> None:
    # Writes a few milliseconds apart: ordering across two pipes is what the reader observes,
    # so writes closer together than a scheduler tick may swap (documented in output.py).
    code = (
        "import sys, time\n"
        "for i in range(3):\n"
        "    print(f'out{i}'); time.sleep(0.03)\n"
        "    print(f'err{i}', file=sys.stderr); time.sleep(0.03)\n"
    )
    result = executor.execute([py(code)])
    assert result.stdout == "out0\nout1\nout2\n"
    assert result.stderr == "err0\nerr1\nerr2\n"
    assert result.output == "out0\nerr0\nout1\nerr1\nout2\nerr2\n"


def test_blocks_stop_at_first_failure_and_keep_earlier_output(executor: CodeExecutor) -> None:
    result = executor.execute([py("print('one')"), sh("echo two; exit 5"), py("print('three')")])
    assert result.outcome is Outcome.ERROR
    assert result.exit_code == 5
    assert len(result.blocks) == 2
    assert [b.exit_code for b in result.blocks] == [0, 5]
    assert result.blocks[0].output == "one\n" and result.blocks[1].output == "two\n"
    assert result.output == "one\ntwo\n"


@pytest.mark.parametrize("tag", ["cobol", "c++", None])
def test_unknown_language_is_a_rejected_result(executor: CodeExecutor, tag: str | None) -> None:
    result = executor.execute([py("print('ran')"), CodeBlock("IDENTIFICATION DIVISION.", tag)])
    assert result.outcome is Outcome.REJECTED
    assert result.output == "ran\n"
    assert result.blocks[-1].exit_code is None
    assert "unknown language" in result.message and "python" in result.message


def test_save_only_language_is_written_not_run(executor: CodeExecutor) -> None:
    data = '{"a": 1}'
    result = executor.execute([CodeBlock(data, "json", "conf/settings.json"), py("import json; print(json.load(open('conf/settings.json'))['a'])")])
    assert result.ok, result
    assert result.blocks[0].exit_code is None and "saved" in result.blocks[0].message
    assert result.output == "1\n"
    assert json.loads((executor.work_dir / "conf/settings.json").read_text()) == {"a": 1}


@pytest.mark.parametrize("filename", ["../escape.py", "/etc/escape.py", "a/../../escape.py", "..\\escape.py"])
def test_filename_confined_to_workspace(executor: CodeExecutor, filename: str) -> None:
    result = executor.execute([py("print('should not run')", filename)])
    assert result.outcome is Outcome.REJECTED
    assert result.exit_code is None and result.output == ""
    assert filename.replace("\\", "/").lstrip("./") in result.message or "absolute" in result.message
    assert not (executor.work_dir.parent / "escape.py").exists()


def test_filename_through_planted_symlink_is_refused(executor: CodeExecutor, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, executor.work_dir / "link")
    os.symlink(outside / "target.py", executor.work_dir / "direct.py")
    for name in ("link/x.py", "direct.py"):
        result = executor.execute([py("print('x')", name)])
        assert result.outcome is Outcome.REJECTED, name
        assert "symlink" in result.message
    assert list(outside.iterdir()) == []


def test_subdirectory_filenames_are_created_and_importable(executor: CodeExecutor) -> None:
    result = executor.execute([
        py("def answer():\n    return 42\n", "pkg/mathx.py"),
        py("from pkg.mathx import answer\nprint(answer())", "main.py"),
    ])
    assert result.ok, result
    assert result.output == "42\n"
    assert (executor.work_dir / "pkg" / "mathx.py").is_file()


def test_workspace_persists_across_calls_and_temp_scripts_are_cleaned(executor: CodeExecutor) -> None:
    first = executor.execute([py("open('data.txt', 'w').write('kept')"), py("print('named')", "named.py")])
    assert first.ok
    assert {f.path for f in first.files} == {"data.txt", "named.py"}
    assert all(f.created for f in first.files)
    second = executor.execute([sh("cat data.txt; echo more >> data.txt")])
    assert second.output == "kept"
    assert [(f.path, f.created) for f in second.files] == [("data.txt", False)]
    names = sorted(p.name for p in executor.work_dir.iterdir())
    assert names == ["data.txt", "named.py"]
    assert not any(n.startswith(TEMP_PREFIX) for n in names)


# A script that spawns a setsid'd grandchild and a double-forked orphan, both heartbeating
# into the workspace, while the parent ignores SIGTERM. Everything must die at the deadline.
HIDING_CODE = r"""
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
def beat(name):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        with open(name, "w") as fh:
            fh.write(str(time.time()))
        time.sleep(0.1)
if os.fork() == 0:
    os.setsid()
    beat("setsid.beat")
if os.fork() == 0:
    if os.fork() == 0:
        beat("orphan.beat")
    os._exit(0)
print("partial output", flush=True)
while True:
    time.sleep(1)
"""


def _assert_heartbeats_stopped(work_dir: Path) -> None:
    beats = [work_dir / "setsid.beat", work_dir / "orphan.beat"]
    assert all(b.exists() for b in beats), "the test code did not start its children"
    before = [b.stat().st_mtime_ns for b in beats]
    time.sleep(0.6)
    assert [b.stat().st_mtime_ns for b in beats] == before, "a child of the run is still alive"


def test_timeout_kills_the_whole_tree_and_keeps_partial_output(executor: CodeExecutor) -> None:
    started = time.monotonic()
    result = executor.execute([py(HIDING_CODE)], timeout=2)
    elapsed = time.monotonic() - started
    assert result.outcome is Outcome.TIMEOUT and result.timed_out
    assert result.exit_code == 124
    assert "partial output" in result.output
    assert "timed out" in result.message
    assert elapsed < 2 + 1, f"returned {elapsed:.2f} s after a 2 s deadline"
    _assert_heartbeats_stopped(executor.work_dir)
    assert executor.execute([py("print('still works')")]).output == "still works\n"


def test_timeout_spans_the_whole_call(executor: CodeExecutor) -> None:
    # Four 0.8 s blocks under one 2 s deadline: a per-block deadline would let all four pass.
    result = executor.execute([py("import time; time.sleep(0.8)")] * 4, timeout=2)
    assert result.outcome is Outcome.TIMEOUT
    assert 2 <= len(result.blocks) <= 3
    assert [b.outcome for b in result.blocks[:-1]] == [Outcome.SUCCESS] * (len(result.blocks) - 1)
    assert result.blocks[-1].outcome is Outcome.TIMEOUT and result.blocks[-1].exit_code == 124


def test_cancel_from_another_thread_stops_the_code(executor: CodeExecutor) -> None:
    printed = threading.Event()
    cancelled_at: list[float] = []

    def cancel_once_running() -> None:  # on the code's own signal, not a guess at start-up time
        if printed.wait(30):
            time.sleep(0.3)  # let its hidden children start beating
        cancelled_at.append(time.monotonic())
        executor.cancel()

    canceller = threading.Thread(target=cancel_once_running)
    canceller.start()
    result = executor.execute(
        [py(HIDING_CODE)], timeout=30, on_output=lambda e: printed.set() if "partial output" in e.text else None
    )
    returned = time.monotonic()
    canceller.join()
    assert result.outcome is Outcome.CANCELLED and result.cancelled
    assert result.exit_code == 130
    assert "partial output" in result.output
    assert returned - cancelled_at[0] < 1.5
    _assert_heartbeats_stopped(executor.work_dir)
    assert executor.execute([py("print('after cancel')")]).ok


def test_100mb_of_output_is_capped_with_head_and_tail_and_bounded_memory(
    executor: CodeExecutor, request: pytest.FixtureRequest
) -> None:
    code = (
        "import sys\n"
        "sys.stdout.write('HEAD\\n')\n"
        "chunk = 'x' * (1 << 20)\n"
        "for _ in range(100):\n"
        "    sys.stdout.write(chunk)\n"
        "    sys.stderr.write('e' * 1024)\n"
        "sys.stdout.write('\\nTAIL\\n')\n"
    )
    tracemalloc.start()
    try:
        result = executor.execute([py(code)], timeout=60)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.ok, result.message
    total = 5 + 100 * (1 << 20) + 100 * 1024 + 6
    kept = len(result.output.encode())
    assert kept == 1 << 20
    assert result.truncated and result.truncated_bytes == total - kept
    # Head and tail of each stream survive; across streams the reader may see the last writes
    # in either order (a pipe buffer of stderr can lag behind stdout), so only the window is checked.
    assert result.stdout.startswith("HEAD\n") and result.stdout.endswith("\nTAIL\n")
    assert result.output.startswith("HEAD\n") and "\nTAIL\n" in result.output[-(1 << 19):]
    assert peak < 32 * (1 << 20), f"the caller held {peak / 2**20:.1f} MiB for 100 MB of output"


def test_output_limit_is_configurable(make_executor: Callable[..., CodeExecutor]) -> None:
    ex = make_executor(output_limit=100)
    result = ex.execute([py("print('a' * 1000)")])
    assert len(result.output) == 100
    assert result.truncated_bytes == 1001 - 100


def test_invalid_utf8_is_replaced_not_raised(executor: CodeExecutor) -> None:
    result = executor.execute([py("import sys; sys.stdout.buffer.write(b'ok \\xff\\xfe \\xc3 end\\n')")])
    assert result.ok
    assert result.stdout == "ok \ufffd\ufffd \ufffd end\n"


def test_environment_is_scrubbed_unless_passed(make_executor: Callable[..., CodeExecutor], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-must-not-leak")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-must-not-leak")
    code = "import os; print(sorted(os.environ)); print(os.environ.get('GIVEN', 'absent'))"
    plain = make_executor().execute([py(code)])
    assert "OPENAI_API_KEY" not in plain.output and "AWS_SECRET" not in plain.output
    assert "must-not-leak" not in plain.output
    assert plain.stdout.splitlines()[1] == "absent"
    given = make_executor(env={"GIVEN": "explicit"}).execute([py(code)])
    assert given.stdout.splitlines()[1] == "explicit"


def test_restart_discards_state_but_keeps_the_workspace(executor: CodeExecutor) -> None:
    assert executor.execute([sh("echo state > \"$HOME/state\"; echo file > kept.txt")]).ok
    executor.restart()
    result = executor.execute([sh("test -e \"$HOME/state\" && echo leaked || echo clean; cat kept.txt")])
    assert result.output == "clean\nfile\n"


def test_close_is_idempotent_and_use_after_close_raises(make_executor: Callable[..., CodeExecutor]) -> None:
    ex = make_executor()
    with ex as entered:
        assert entered is ex
        assert ex.execute_code_blocks([py("print(1)")]).output == "1\n"
    ex.close()
    ex.close()
    with pytest.raises(ExecutorClosedError, match="closed"):
        ex.execute([py("print(1)")])
    with pytest.raises(ExecutorClosedError):
        with ex:
            pass


def test_temporary_workspace_is_removed_on_close_and_given_one_is_kept(make_executor: Callable[..., CodeExecutor], tmp_path: Path) -> None:
    temp = make_executor()
    temp_dir = temp.work_dir
    temp.close()
    assert not temp_dir.exists()
    given = make_executor(work_dir=tmp_path / "ws")
    given.execute([py("open('out.txt', 'w').write('x')")])
    given.close()
    assert (tmp_path / "ws" / "out.txt").read_text() == "x"


def test_bad_arguments_raise_clear_errors(executor: CodeExecutor) -> None:
    with pytest.raises(TypeError, match="extract_code_blocks"):
        executor.execute("print(1)")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout"):
        executor.execute([py("print(1)")], timeout=0)

"""Per-run options and concurrency, the same on every backend: stdin, env, streaming, threads, asyncio."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from sandbox import CodeBlock, CodeExecutor, Outcome
from sandbox.models import OutputEvent

py = lambda code: CodeBlock(code, "python")  # noqa: E731


def test_stdin_is_given_to_the_run(executor: CodeExecutor) -> None:
    result = executor.execute([py("import sys; data = sys.stdin.read(); print(data.upper(), len(data))")], stdin="abc\ndef")
    assert result.ok, result
    assert result.stdout == "ABC\nDEF 7\n"


def test_large_stdin_that_the_code_only_partly_reads(executor: CodeExecutor) -> None:
    # 8 MiB is far more than a pipe holds: the writer must neither block the run nor fail it.
    result = executor.execute([py("import sys; print(len(sys.stdin.buffer.read(10)))")], stdin=b"x" * (8 << 20))
    assert result.ok, result
    assert result.stdout == "10\n"


def test_no_stdin_means_eof_at_once(executor: CodeExecutor) -> None:
    result = executor.execute([py("import sys; print(repr(sys.stdin.read()))")], timeout=10)
    assert result.ok and result.stdout == "''\n", result


def test_per_run_env_adds_to_the_executors(make_executor: Callable[..., CodeExecutor]) -> None:
    ex = make_executor(env={"BASE": "1", "OVERRIDDEN": "executor"})
    code = "import os; print(os.environ.get('BASE'), os.environ.get('OVERRIDDEN'), os.environ.get('RUN_ONLY'))"
    assert ex.execute([py(code)], env={"OVERRIDDEN": "run", "RUN_ONLY": "yes"}).stdout == "1 run yes\n"
    assert ex.execute([py(code)]).stdout == "1 executor None\n"  # per run means this run only


def test_per_run_output_limit(executor: CodeExecutor) -> None:
    result = executor.execute([py("print('x' * 10000)")], output_limit=1000)
    assert result.truncated and len(result.output.encode()) <= 1000
    assert executor.execute([py("print('x' * 10000)")]).truncated is False


def test_on_output_streams_while_the_code_runs(executor: CodeExecutor) -> None:
    # The code waits until the first line was delivered before it prints the second: if
    # output came only after the run, this would deadlock until the timeout.
    flag = executor.work_dir / "seen-first"
    events: list[OutputEvent] = []

    def on_output(event: OutputEvent) -> None:
        events.append(event)
        if "first" in event.text:
            flag.write_text("yes")

    code = (
        "import os, sys, time\n"
        "print('first', flush=True)\n"
        "while not os.path.exists('seen-first'):\n"
        "    time.sleep(0.01)\n"
        "print('second', file=sys.stderr, flush=True)\n"
    )
    result = executor.execute([py(code)], timeout=20, on_output=on_output)
    assert result.ok, result
    text = "".join(e.text for e in events)
    assert "first" in text and "second" in text
    assert {e.stream for e in events} == {"stdout", "stderr"}
    assert all(e.block == 0 and e.elapsed_s >= 0 for e in events)
    assert [e.elapsed_s for e in events] == sorted(e.elapsed_s for e in events)


def test_on_output_decodes_characters_split_across_chunks(executor: CodeExecutor) -> None:
    events: list[OutputEvent] = []
    code = "import sys, time\nb = 'é'.encode()\nsys.stdout.buffer.write(b[:1]); sys.stdout.flush(); time.sleep(0.2)\nsys.stdout.buffer.write(b[1:] + b'\\n')"
    result = executor.execute([py(code)], on_output=events.append)
    assert result.ok
    assert "".join(e.text for e in events) == "é\n"
    assert b"".join(e.data for e in events) == "é\n".encode()


def test_an_on_output_callback_that_raises_stops_the_run_and_propagates(executor: CodeExecutor) -> None:
    class Boom(Exception):
        pass

    def explode(event: OutputEvent) -> None:
        raise Boom("callback bug")

    started = time.monotonic()
    with pytest.raises(Boom):
        executor.execute([py("import time\nprint('go', flush=True)\ntime.sleep(30)")], timeout=30, on_output=explode)
    assert time.monotonic() - started < 15, "the run should stop when its watcher failed"
    assert executor.execute([py("print('fine')")]).stdout == "fine\n"


def test_calls_from_several_threads_run_in_parallel(make_executor: Callable[..., CodeExecutor]) -> None:
    # Four calls each wait on a barrier file that only appears once all four are running:
    # serialised calls would time out instead.
    ex = make_executor(timeout=30)
    code = (
        "import os, time, uuid\n"
        "open(f'here-{uuid.uuid4().hex}', 'w').close()\n"
        "while len([n for n in os.listdir('.') if n.startswith('here-')]) < 4:\n"
        "    time.sleep(0.02)\n"
        "print('met')\n"
    )
    results: list[object] = [None] * 4

    def call(i: int) -> None:
        results[i] = ex.execute([py(code)], timeout=25)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(getattr(r, "stdout", None) == "met\n" for r in results), results


def test_max_concurrency_queues_the_rest(make_executor: Callable[..., CodeExecutor]) -> None:
    ex = make_executor(timeout=30, max_concurrency=1)
    code = (
        "import os, time\n"
        "fd = os.open('lock', os.O_CREAT | os.O_EXCL | os.O_WRONLY)\n"  # fails if another run holds it
        "time.sleep(0.3)\n"
        "os.close(fd); os.remove('lock')\n"
        "print('alone')\n"
    )
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(ex.execute([py(code)]))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [getattr(r, "stdout", None) for r in results] == ["alone\n"] * 3, results


def test_aexecute_does_not_block_the_event_loop(executor: CodeExecutor) -> None:
    async def main() -> tuple[object, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        result = await executor.aexecute([py("import time; time.sleep(0.5); print('done')")])
        task.cancel()
        return result, ticks

    result, ticks = asyncio.run(main())
    assert getattr(result, "stdout", None) == "done\n"
    assert ticks >= 10, f"the loop ticked only {ticks} times in 0.5 s: it was blocked"


def test_cancelling_the_awaiting_task_kills_the_run(executor: CodeExecutor) -> None:
    code = "import time\nprint('running', flush=True)\nwhile True:\n    open('beat', 'w').write(str(time.time())); time.sleep(0.05)"
    printed = threading.Event()

    async def main() -> None:
        task = asyncio.create_task(
            executor.aexecute([py(code)], timeout=60, on_output=lambda e: printed.set())
        )
        while not printed.is_set():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    beat = executor.work_dir / "beat"
    before = beat.stat().st_mtime_ns
    time.sleep(0.4)
    assert beat.stat().st_mtime_ns == before, "the code kept running after its task was cancelled"
    result = executor.execute([py("print('after')")])
    assert result.outcome is Outcome.SUCCESS and result.stdout == "after\n"


MEMORY_HOG = "x = bytearray(200 * 1024 * 1024)\nprint('allocated', len(x))"


def test_per_call_memory_limit_applies_to_that_call_only(make_executor: Callable[..., CodeExecutor], backend: str) -> None:
    from sandbox import Limits

    if backend == "docker-session":
        ex = make_executor()
        with pytest.raises(ValueError, match="session"):
            ex.execute([py("print(1)")], limits=Limits(memory="64m"))
        return
    ex = make_executor(timeout=30)
    small = ex.execute([py(MEMORY_HOG)], limits=Limits(memory="64m"))
    assert not small.ok, "a 200 MiB allocation under a 64 MiB limit must fail"
    assert small.outcome in (Outcome.OOM, Outcome.ERROR)  # Docker: the OOM killer; local: MemoryError (RLIMIT_AS)
    assert ex.execute([py(MEMORY_HOG)]).stdout == f"allocated {200 * 1024 * 1024}\n", "the next call has the executor's limit again"


def test_per_call_pids_and_cpus_on_docker(make_executor: Callable[..., CodeExecutor], backend: str) -> None:
    from sandbox import Limits

    if backend != "docker":
        pytest.skip("n/a: a fresh container's cgroup is what takes pids and cpus")
    ex = make_executor(timeout=30)
    code = "print(open('/sys/fs/cgroup/pids/pids.max').read().strip(), open('/sys/fs/cgroup/cpu/cpu.cfs_quota_us').read().strip())"
    result = ex.execute([py(code)], limits=Limits(pids=40, cpus=0.5))
    assert result.ok, result
    assert result.stdout.split() == ["40", "50000"]


def test_limits_values_are_checked() -> None:
    from sandbox import Limits

    with pytest.raises(ValueError, match="size"):
        Limits(memory="lots")
    with pytest.raises(ValueError, match="cpus"):
        Limits(cpus=0)
    with pytest.raises(ValueError, match="pids"):
        Limits(pids=0)
    assert Limits(memory="1m").memory == 1024 * 1024

"""The sandbox pool: its policy with stand-in sandboxes, then its promises on real containers."""

from __future__ import annotations

import itertools
import textwrap
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox import CodeBlock, DockerExecutor, ExecutorClosedError, Outcome, SandboxError
from sandbox.executors.pool import Pool, SandboxPool


class Recorder:
    """start/destroy callables that count, can be slowed down, and can fail on request."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.fail: BaseException | None = None
        self.ids = itertools.count(1)
        self.started: list[int] = []
        self.destroyed: list[int] = []
        self.lock = threading.Lock()

    def start(self) -> int:
        time.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        with self.lock:
            n = next(self.ids)
            self.started.append(n)
        return n

    def destroy(self, n: int) -> None:
        with self.lock:
            self.destroyed.append(n)


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


def make(rec: Recorder, **policy: Any) -> SandboxPool[int]:
    return SandboxPool(Pool(**policy), start=rec.start, destroy=rec.destroy)


def test_each_sandbox_is_handed_out_once_and_destroyed_after(rec: Recorder) -> None:
    pool = make(rec, size=2)
    try:
        got = [pool.acquire(5) for _ in range(6)]
        for n in got:
            pool.retire(n)
        assert len(set(got)) == 6, "a sandbox was handed out twice"
        assert pool.wait_idle(5)
        assert sorted(rec.destroyed) == sorted(got)
        assert pool.ready == 2
    finally:
        pool.close()
    assert sorted(rec.destroyed) == sorted(rec.started), "close() must destroy the ready ones too"


def test_refill_happens_on_retire_not_on_acquire(rec: Recorder) -> None:
    pool = make(rec, size=1)
    try:
        assert pool.wait_ready()
        n = pool.acquire(5)
        time.sleep(0.1)
        assert rec.started == [n], "a start while the run is going on slows that run down"
        pool.retire(n)
        assert pool.wait_ready()
        assert len(rec.started) == 2
    finally:
        pool.close()


def test_when_empty_wait_waits_for_the_refill_and_start_starts_one(rec: Recorder) -> None:
    rec.delay = 0.05
    waiting = make(rec, size=1, when_empty="wait")
    try:
        first = waiting.acquire(5)
        second = waiting.acquire(5)  # none ready: a waiter asks for one and gets it
        assert first != second
    finally:
        waiting.close()
    eager = make(rec, size=0, when_empty="start")
    try:
        assert eager.ready == 0
        n = eager.acquire(5)  # size 0: always started for the caller
        assert n in rec.started
    finally:
        eager.close()


def test_a_failing_start_reaches_the_caller_and_leaves_no_retry_storm(rec: Recorder) -> None:
    rec.fail = SandboxError("engine says no")
    pool = make(rec, size=2)
    try:
        with pytest.raises(SandboxError, match="engine says no"):
            pool.acquire(5)
        rec.fail = None
        assert pool.acquire(5) in rec.started  # recovers once the engine does
    finally:
        pool.close()


def test_acquire_times_out_with_a_message_naming_the_fix(rec: Recorder) -> None:
    rec.delay = 1.0
    pool = make(rec, size=1)
    try:
        with pytest.raises(SandboxError, match="Pool"):
            pool.acquire(0.05)  # the first start takes a second
    finally:
        pool.close()


def test_close_destroys_starts_in_flight_and_refuses_new_acquires(rec: Recorder) -> None:
    rec.delay = 0.2
    pool = make(rec, size=3, parallel_starts=3)
    pool.close()  # while all three are still starting
    assert sorted(rec.destroyed) == sorted(rec.started)
    with pytest.raises(ExecutorClosedError):
        pool.acquire(1)


def test_pool_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="size"):
        Pool(size=-1)
    with pytest.raises(ValueError, match="when_empty"):
        Pool(when_empty="later")  # type: ignore[arg-type]


# -- on real containers ----------------------------------------------------------------------

HOSTNAME = CodeBlock("import socket, os; print(socket.gethostname()); print(os.listdir('/tmp'))\nopen('/tmp/mark', 'w').close()", "python")


@pytest.fixture
def pooled(docker_required: None) -> Iterator[DockerExecutor]:
    with DockerExecutor(pool=Pool(size=2), timeout=30) as ex:
        yield ex


@pytest.mark.docker
def test_every_pooled_call_gets_a_container_nobody_used(pooled: DockerExecutor) -> None:
    seen = []
    for _ in range(4):
        result = pooled.execute([HOSTNAME])
        assert result.ok, result
        host, tmp = result.stdout.splitlines()
        assert tmp == "[]", "state from an earlier run leaked into /tmp"
        seen.append(host)
    assert len(set(seen)) == 4


@pytest.mark.docker
def test_pool_keeps_the_hardening(pooled: DockerExecutor) -> None:
    code = "import os; print(os.getuid()); print(open('/proc/self/status').read().split('CapEff:')[1].split()[0]); print(sorted(os.listdir('/sys/class/net')))"
    result = pooled.execute([CodeBlock(code, "python")])
    assert result.ok, result
    uid, caps, nets = result.stdout.splitlines()
    assert uid != "0" and int(caps, 16) == 0 and nets == "['lo']"


@pytest.mark.docker
def test_pool_size_zero_starts_one_per_call(docker_required: None) -> None:
    with DockerExecutor(pool=0, timeout=30) as ex:
        assert ex.pool is not None and ex.pool.ready == 0
        a, b = (ex.execute([HOSTNAME]).stdout.splitlines()[0] for _ in range(2))
        assert a != b


@pytest.mark.docker
def test_a_timed_out_session_run_is_killed_but_the_session_lives_on(docker_required: None) -> None:
    with DockerExecutor(session=True, timeout=30) as ex:
        first = ex.execute([CodeBlock("import socket; open('/tmp/state', 'w').write('kept'); print(socket.gethostname())", "python")])
        assert first.ok, first
        spin = ex.execute([CodeBlock(textwrap.dedent("""
            import os, time
            if os.fork() == 0:
                os.setsid()
                while True: time.sleep(1)
            while True: pass
            """), "python")], timeout=1)
        assert spin.outcome is Outcome.TIMEOUT
        after = ex.execute([CodeBlock(
            "import os, socket; print(socket.gethostname()); print(open('/tmp/state').read());"
            "print(sorted(p for p in os.listdir('/proc') if p.isdigit() and open(f'/proc/{p}/cmdline').read().startswith('python3\\x00/workspace')))",
            "python")])
        assert after.ok, after
        host, state, others = after.stdout.splitlines()
        assert host == first.stdout.strip() and state == "kept"
        assert len(eval(others)) == 1, f"the timed-out run's processes survive: {others}"  # only this run's python


@pytest.mark.docker
def test_reused_network_namespaces_are_never_shared_by_two_runs_at_once(docker_required: None) -> None:
    # Run A listens on a loopback port and waits until B has looked; B, running at the same
    # time, must not reach it. Then later runs reuse namespaces (same anchor hostname).
    from tests.conftest import _containers_of

    serve = CodeBlock(textwrap.dedent("""
        import os, socket, time
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(('127.0.0.1', 5555)); s.listen()
        open('listening', 'w').close()
        while not os.path.exists('looked'):
            time.sleep(0.02)
        print(socket.gethostname())
        """), "python")
    probe = CodeBlock(textwrap.dedent("""
        import os, socket, time
        while not os.path.exists('listening'):
            time.sleep(0.02)
        try:
            socket.create_connection(('127.0.0.1', 5555), timeout=2); print('reached')
        except OSError:
            print('refused')
        open('looked', 'w').close()
        print(socket.gethostname())
        """), "python")
    ex = DockerExecutor(pool=Pool(size=2, reuse_network_namespaces=True), timeout=30)
    try:
        results: dict[str, Any] = {}
        threads = [threading.Thread(target=lambda k=k, b=b: results.__setitem__(k, ex.execute([b])))
                   for k, b in (("serve", serve), ("probe", probe))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results["serve"].ok and results["probe"].ok, results
        verdict, probe_host = results["probe"].stdout.split()
        assert verdict == "refused"
        assert results["serve"].stdout.strip() != probe_host
        hosts = {ex.execute([CodeBlock("import socket; print(socket.gethostname())", "python")]).stdout for _ in range(4)}
        assert len(hosts) <= 3, "namespaces were not reused"
        with pytest.raises(ValueError, match="network"):
            DockerExecutor(pool=Pool(reuse_network_namespaces=True), network=True)
    finally:
        ex.close()
    assert _containers_of(ex.id) == [], "anchors or sandboxes left behind"

"""Processes and resources: fork bomb, memory bomb, CPU spin, daemons and orphans, zombies."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil
import pytest

from sandbox import CodeBlock, Outcome

from conftest import Target

# The engine does not notice a gVisor sandbox that died under it (docker.py waits on the exec
# stream, which the engine leaves open when the sandbox dies). Proposed fix, in docker.py: while
# a block runs, also wait on the container; when it dies, end the block at once and report
# OOM when State.OOMKilled is set, else an error that says the sandbox died.
GVISOR_FORK_BOMB = (
    "under runsc the pids limit also counts gVisor's own host threads: with pids_limit=64 the whole "
    "sandbox dies as soon as the code starts processes, so the run is reported as an error ('the "
    "sandbox died during the run'), never as a refused fork, and the next run on a sandbox with that "
    "limit dies the same way; the pids limit is not a usable fork-bomb guard under gVisor"
)


@pytest.mark.session
def test_fork_bomb_is_refused_by_the_pids_limit_and_killed_at_the_deadline(
    target: Target, request: pytest.FixtureRequest
) -> None:
    """Fork bomb: forks are refused past the process limit; the run is killed at the deadline."""
    if not target.is_docker and os.geteuid() == 0:
        target.not_applicable("the local runner's process limit is RLIMIT_NPROC, which does not bind root")
    if target.is_gvisor:
        request.applymarker(pytest.mark.xfail(strict=True, reason=GVISOR_FORK_BOMB))
    ex = target.executor(pids_limit=64)
    started = time.monotonic()
    result = target.run("""
        import os, time
        count = 0
        try:
            for _ in range(1000):  # a ceiling, so that a runner without a limit stops too
                if os.fork() == 0:
                    time.sleep(60)
                    os._exit(0)
                count += 1
        except OSError as exc:
            print('refused after', count, exc.strerror, flush=True)
        time.sleep(60)
    """, executor=ex, timeout=3)
    assert result.outcome is Outcome.TIMEOUT, result
    assert "refused after" in result.stdout, result
    assert int(result.stdout.split()[2]) < 64
    assert time.monotonic() - started < 3 + 10, "the bomb was not stopped near the deadline"


def test_classic_shell_fork_bomb_is_contained(target: Target, request: pytest.FixtureRequest) -> None:
    """Shell fork bomb `:(){ :|:& };:`: contained by the process limit, killed at the deadline."""
    if not target.is_docker:
        target.not_applicable("the local runner's process limit does not bind root, and a shell bomb would take the host")
    if target.is_gvisor:
        request.applymarker(pytest.mark.xfail(strict=True, reason=GVISOR_FORK_BOMB))
    result = target.run(":(){ :|:& };:\nsleep 60\n", "bash", executor=target.executor(pids_limit=64), timeout=3)
    assert result.outcome is Outcome.TIMEOUT, result
    assert "Resource temporarily unavailable" in result.stderr, result


@pytest.mark.session
def test_memory_bomb_is_reported_as_oom(target: Target, request: pytest.FixtureRequest) -> None:
    """Memory bomb (4 GiB against 128 MiB): reported as OOM (local: refused by RLIMIT_AS, a
    MemoryError); the host never lends more than the limit."""
    ex = target.executor(memory="128m")
    result = target.run("""
        print('allocating', flush=True)
        chunks = []
        for _ in range(64):  # 4 GiB in 64 MiB steps, touched so that the pages are real
            chunks.append(bytearray(64 << 20))
        print('survived')
    """, executor=ex, timeout=5)
    if target.is_docker:
        assert result.outcome is Outcome.OOM and result.exit_code == 137, result
        assert "memory" in result.message
    else:  # RLIMIT_AS refuses the allocation before any OOM killer: the code sees MemoryError
        assert result.outcome is Outcome.ERROR and "MemoryError" in result.stderr, result
    assert "allocating" in result.stdout and "survived" not in result.stdout


@pytest.mark.session
def test_cpu_spin_is_killed_at_the_deadline(target: Target) -> None:
    """CPU spin past the timeout: stopped at the deadline, reported as a timeout."""
    started = time.monotonic()
    result = target.run("print('spinning', flush=True)\nwhile True:\n    pass\n", timeout=2)
    elapsed = time.monotonic() - started
    assert result.outcome is Outcome.TIMEOUT and result.exit_code == 124, result
    assert result.stdout == "spinning\n"
    assert elapsed < 2 + 10, f"returned {elapsed:.1f} s after a 2 s deadline"


DAEMONS = r"""
import os, time
def daemon(name):
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)  # a well-behaved daemon: it holds none of the run's pipes
    while True:
        # The workspace copy is for the host to watch; the $TMPDIR copy for a later call of a
        # session, whose workspace files are handed back to a root caller between calls.
        for path in (name, os.path.join(os.environ["TMPDIR"], name)):
            try:
                with open(path, "w") as fh:
                    fh.write(str(time.time()))
            except OSError:
                pass
        time.sleep(0.1)
if os.fork() == 0:
    os.setsid()
    daemon("setsid.beat")
if os.fork() == 0:
    if os.fork() == 0:
        daemon("orphan.beat")
    os._exit(0)  # the middle child exits: the grandchild is an orphan
os.wait()
while not (os.path.exists("setsid.beat") and os.path.exists("orphan.beat")):
    time.sleep(0.05)
print("parent exits")
"""


SESSION_BEATS = """
import os, time
def stamps():
    out = []
    for name in ("setsid.beat", "orphan.beat"):
        try:
            out.append(os.stat(os.path.join(os.environ["TMPDIR"], name)).st_mtime_ns)
        except OSError:
            out.append(None)
    return out
before = stamps()
time.sleep(0.5)
print("beating:", None not in before and all(a != b for a, b in zip(before, stamps())))
"""


def _beating(work_dir: Path) -> bool:
    beats = [work_dir / "setsid.beat", work_dir / "orphan.beat"]
    before = [b.stat().st_mtime_ns for b in beats]
    time.sleep(0.6)
    return any(b.stat().st_mtime_ns != t for b, t in zip(beats, before))


@pytest.mark.session
def test_setsid_daemon_and_double_forked_orphan_die_when_the_run_ends(target: Target) -> None:
    """A `setsid` daemon and a double-forked orphan: killed when the run ends (session: on restart)."""
    ex = target.executor()
    result = target.run(DAEMONS, executor=ex)
    assert result.outcome is Outcome.SUCCESS and result.stdout == "parent exits\n", result
    if target.is_session:  # a session keeps background processes by design, until restart()
        alive = target.run(SESSION_BEATS, executor=ex)
        assert alive.stdout == "beating: True\n", alive
        ex.restart()
        assert target.run(SESSION_BEATS, executor=ex).stdout == "beating: False\n"
    assert not _beating(ex.work_dir), "a process of the run outlived it"


ZOMBIES = """
import os, time
children = []
for _ in range(50):
    pid = os.fork()
    if pid == 0:
        os._exit(0)  # never waited for: a zombie until someone reaps it
    children.append(pid)
time.sleep(0.3)
states = [open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[0] for pid in children]
print('zombies while the parent lives:', states.count('Z'))
"""

# Run after ZOMBIES in the same sandbox: their parent has exited, PID 1 must have reaped them.
ZOMBIES_LEFT = """
import os, time
time.sleep(0.3)
states = []
for pid in filter(str.isdigit, os.listdir('/proc')):
    try:
        states.append(open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[0])
    except OSError:
        pass
print('zombies left:', states.count('Z'))
"""


@pytest.mark.session
def test_zombies_are_reaped(target: Target) -> None:
    """Zombies: 50 children never waited for are reaped once their parent exits."""
    if not target.is_docker:
        # The local runner shares the host's /proc, where other programs' zombies are not ours:
        # count only zombies among this test process's descendants.
        result = target.run(ZOMBIES)
        assert result.outcome is Outcome.SUCCESS and "parent lives: 50" in result.stdout, result
        zombies = [p for p in psutil.Process().children(recursive=True) if p.status() == psutil.STATUS_ZOMBIE]
        assert not zombies, f"zombies left under the test process: {zombies}"
        return
    # Two blocks, one sandbox: the second looks for the zombies the first left behind.
    result = target.executor().execute([CodeBlock(ZOMBIES, "python"), CodeBlock(ZOMBIES_LEFT, "python")])
    assert result.outcome is Outcome.SUCCESS, result
    assert "zombies while the parent lives: 50" in result.stdout, result.stdout
    assert "zombies left: 0" in result.stdout, result.stdout

"""What only the Docker runner promises: isolation defaults, ownership, OOM, labels and reaping."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox import CodeBlock, DockerExecutor, EngineUnavailableError, ImageNotFoundError, Outcome, RuntimeUnavailableError
from sandbox.labels import EXECUTOR, MANAGED, OWNER_PID
from sandbox.reap import reap

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_required")]


def py(code: str) -> CodeBlock:
    return CodeBlock(textwrap.dedent(code), "python")


@pytest.fixture
def docker_ex() -> Iterator[DockerExecutor]:
    with DockerExecutor(timeout=30) as ex:
        yield ex


def test_code_runs_as_non_root_and_its_files_belong_to_the_caller(docker_ex: DockerExecutor) -> None:
    result = docker_ex.execute([py("import os; print(os.getuid(), os.getgid()); open('made.txt', 'w').write('x'); os.mkdir('sub'); open('sub/f', 'w').close()")])
    assert result.ok, result
    uid, gid = map(int, result.stdout.split())
    assert uid != 0 and gid != 0
    for path in ("made.txt", "sub", "sub/f"):
        st = os.stat(docker_ex.work_dir / path)
        assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid()), path


def test_no_network_but_loopback_and_no_route(docker_ex: DockerExecutor) -> None:
    result = docker_ex.execute([py("""
        import os
        print(sorted(os.listdir('/sys/class/net')))
        routes = open('/proc/net/route').read().splitlines()[1:]
        print(len(routes))
        print(open('/etc/resolv.conf').read().count('nameserver') if os.path.exists('/etc/resolv.conf') else 0)
    """)])
    assert result.ok, result
    interfaces, routes, _ = result.stdout.splitlines()
    assert interfaces == "['lo']"
    assert routes == "0"


def test_no_capabilities_and_no_new_privileges(docker_ex: DockerExecutor) -> None:
    result = docker_ex.execute([py("""
        fields = dict(line.split(':\\t') for line in open('/proc/self/status').read().splitlines() if ':\\t' in line)
        print(fields['CapEff'].strip(), fields['CapBnd'].strip(), fields['NoNewPrivs'].strip())
    """)])
    assert result.stdout.split() == ["0000000000000000", "0000000000000000", "1"]


def test_root_filesystem_is_read_only_and_tmp_is_a_small_tmpfs(docker_ex: DockerExecutor) -> None:
    result = docker_ex.execute([CodeBlock(
        "touch /usr/evil 2>&1 || true\n"
        "echo ok > /tmp/scratch && cat /tmp/scratch\n"
        "dd if=/dev/zero of=/tmp/big bs=1M count=100 2>&1\n",
        "bash",
    )])
    lines = result.output.splitlines()
    assert "Read-only file system" in lines[0]
    assert lines[1] == "ok"
    assert "No space left on device" in result.output


def test_memory_limit_is_reported_as_oom(make_docker: Any) -> None:
    ex = make_docker(memory="128m")
    result = ex.execute([py("print('allocating', flush=True)\nblob = bytearray(1024 * 1024 * 1024)\nprint('survived')")])
    assert result.outcome is Outcome.OOM and result.oom_killed
    assert result.exit_code == 137
    assert "allocating" in result.output and "survived" not in result.output
    assert "memory" in result.message
    assert ex.execute([py("print('next run fine')")]).ok


def test_pids_limit_stops_a_fork_bomb(make_docker: Any) -> None:
    ex = make_docker(pids_limit=32)
    result = ex.execute([py("""
        import os, time
        count = 0
        try:
            for _ in range(200):
                if os.fork() == 0:
                    time.sleep(3)
                    os._exit(0)
                count += 1
        except OSError as exc:
            print('refused after', count, exc.strerror)
    """)], timeout=20)
    assert "refused after" in result.output, result
    count = int(result.output.split()[2])
    assert count < 32


def test_zombies_are_reaped_by_the_init(docker_ex: DockerExecutor) -> None:
    result = docker_ex.execute([py("""
        import os, subprocess, time
        for _ in range(5):
            if os.fork() == 0:
                if os.fork() == 0:
                    os._exit(0)  # orphaned grandchild: re-parented to PID 1, which must reap it
                os._exit(0)
            os.wait()
        time.sleep(0.5)
        states = []
        for pid in os.listdir('/proc'):
            if pid.isdigit():
                try:
                    states.append(open(f'/proc/{pid}/stat').read().split(')')[1].split()[0])
                except OSError:
                    pass
        print('zombies', states.count('Z'))
        print('pid1', open('/proc/1/comm').read().strip())
    """)])
    assert "zombies 0" in result.output, result.output
    assert "pid1 docker-init" in result.output or "pid1 tini" in result.output


@pytest.fixture
def make_docker() -> Iterator[Any]:
    made: list[DockerExecutor] = []

    def make(**kwargs: Any) -> DockerExecutor:
        ex = DockerExecutor(**kwargs)
        made.append(ex)
        return ex

    yield make
    for ex in made:
        ex.close()


def test_session_mode_keeps_state_and_fresh_mode_does_not(make_docker: Any) -> None:
    session = make_docker(session=True)
    fresh = make_docker()
    for ex, expected in ((session, "seen"), (fresh, "fresh")):
        ex.execute([CodeBlock("echo hi > /tmp/state", "bash")])
        result = ex.execute([CodeBlock("test -e /tmp/state && echo seen || echo fresh", "bash")])
        assert result.output == f"{expected}\n"


def _our_containers(**labels: str) -> list[Any]:
    import docker

    client = docker.from_env()
    try:
        wanted = [f"{MANAGED}=true"] + [f"{k}={v}" for k, v in labels.items()]
        return list(client.containers.list(all=True, filters={"label": wanted}, ignore_removed=True))
    finally:
        client.close()


def test_containers_are_labelled_and_close_removes_them(make_docker: Any) -> None:
    ex = make_docker(session=True)
    ex.execute([py("print(1)")])
    [container] = _our_containers(**{EXECUTOR: ex.id})
    assert container.labels[OWNER_PID] == str(os.getpid())
    ex.close()
    assert _our_containers(**{EXECUTOR: ex.id}) == []


CALLER = """
import sys, time
from sandbox import CodeBlock, DockerExecutor
ex = DockerExecutor(work_dir=sys.argv[1], timeout=120)
ex.execute([CodeBlock("import time\\nopen('running', 'w').close()\\ntime.sleep(100)", "python")])
"""


def test_a_sigkilled_callers_containers_end_by_themselves(tmp_path: Path, make_docker: Any) -> None:
    # No atexit, no finaliser runs after SIGKILL: the engine closes the dead caller's attach
    # connection, the supervisor sees EOF on stdin, kills the run and exits, and auto-remove
    # deletes the container (the running one and the pooled spare alike).
    live = make_docker(session=True)
    live.execute([py("print('alive')")])

    caller = subprocess.Popen([sys.executable, "-c", CALLER, str(tmp_path)])
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "running").exists():
            assert caller.poll() is None and time.monotonic() < deadline, "the caller never started its run"
            time.sleep(0.1)
        assert _our_containers(**{OWNER_PID: str(caller.pid)}), "the caller's container should be running"
        caller.send_signal(signal.SIGKILL)
        caller.wait()
    finally:
        if caller.poll() is None:
            caller.kill()
            caller.wait()
    deadline = time.monotonic() + 15
    while (left := _our_containers(**{OWNER_PID: str(caller.pid)})) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == []
    assert len(_our_containers(**{EXECUTOR: live.id})) == 1
    assert live.execute([py("print('still alive')")]).ok


def test_reap_removes_orphans_but_spares_live_owners(make_docker: Any) -> None:
    import socket

    import docker

    from sandbox.executors.docker import DEFAULT_IMAGE
    from sandbox.labels import OWNER_HOST, OWNER_STARTED

    live = make_docker(session=True)
    live.execute([py("print('alive')")])
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid whose owner has exited: what a crashed caller leaves
    client = docker.from_env()
    try:
        orphan = client.containers.run(
            DEFAULT_IMAGE, ["sleep", "300"], detach=True, network_mode="none",
            labels={MANAGED: "true", OWNER_HOST: socket.gethostname(), OWNER_PID: str(gone.pid),
                    OWNER_STARTED: "1.00", EXECUTOR: "test-orphan"},
        )
        try:
            removed = reap()
            assert orphan.short_id in {c.id for c in removed}
            assert _our_containers(**{EXECUTOR: "test-orphan"}) == []
            assert len(_our_containers(**{EXECUTOR: live.id})) == 1
            assert live.execute([py("print('still alive')")]).ok
        finally:
            try:
                orphan.remove(force=True)
            except docker.errors.NotFound:
                pass
    finally:
        client.close()


def test_missing_image_error_says_how_to_build_it() -> None:
    # A registry on a closed loopback port: the pull fails at once and nothing leaves the machine.
    with pytest.raises(ImageNotFoundError) as info:
        DockerExecutor("127.0.0.1:9/sandbox-test/no-such-image:1")
    assert "scripts/setup" in str(info.value) and "images/offline/build" in str(info.value)
    with pytest.raises(ImageNotFoundError, match="scripts/setup"):
        DockerExecutor("sandbox-test/no-such-image:never", auto_pull=False)


def test_unreachable_engine_error_names_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    with pytest.raises(EngineUnavailableError) as info:
        DockerExecutor(work_dir=tmp_path / "ws")
    message = str(info.value)
    assert f"unix://{tmp_path}/no-engine.sock" in message
    assert "DOCKER_HOST" in message and "LocalExecutor" in message
    assert not (tmp_path / "ws").exists(), "a failed constructor must leave nothing behind"


def test_missing_runtime_fails_closed_and_leaves_nothing_behind(make_docker: Any) -> None:
    ex = make_docker(runtime="no-such-runtime")
    (ex.work_dir / "mine.txt").write_text("x")
    with pytest.raises(RuntimeUnavailableError, match="no-such-runtime"):
        ex.execute([py("print('must not run')")])
    assert os.stat(ex.work_dir / "mine.txt").st_uid == os.getuid()
    assert os.stat(ex.work_dir).st_uid == os.getuid()
    assert [p.name for p in ex.work_dir.iterdir()] == ["mine.txt"]
    assert _our_containers(**{EXECUTOR: ex.id}) == []

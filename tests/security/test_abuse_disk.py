"""Disk: filling /tmp, /dev/shm and the workspace, a million tiny files, a file over the size limit."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import CodeBlock, Outcome

from conftest import Target

FILL = """
import os
where, step = {where!r}, 1 << 20
written = 0
try:
    with open(os.path.join(where, 'fill.bin'), 'wb') as fh:
        while written < ({ceiling_mib} << 20):  # a ceiling: stop even where nothing else does
            fh.write(b'x' * step)
            fh.flush()
            written += step
finally:
    print(where, 'MiB written:', written >> 20, flush=True)
"""


@pytest.mark.session
def test_filling_tmp_and_dev_shm_stops_at_their_size(target: Target) -> None:
    """Disk fill in /tmp and /dev/shm: refused at the tmpfs size (16 MiB /tmp here, 64 MiB /dev/shm)."""
    if not target.is_docker:
        target.not_applicable("the local runner's $TMPDIR is on the host's disk; only the file size rlimit bounds it")
    ex = target.executor(tmpfs_size="16m")
    for where, size in (("/tmp", 16), ("/dev/shm", 64)):
        result = target.run(FILL.format(where=where, ceiling_mib=512), executor=ex)
        assert result.outcome is Outcome.ERROR, result
        assert "No space left on device" in result.stderr, result
        assert int(result.stdout.split()[-1]) <= size, result.stdout
        if target.is_session:  # the session keeps its full /tmp: empty it, as its user would
            assert target.run(f"import os; os.remove('{where}/fill.bin')", executor=ex).ok


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB filesystem with 2,000 inodes on the host, to fill without filling the host's disk."""
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("the workspace-filling cases mount a small tmpfs and need root in CI")
        pytest.skip("needs root, to mount a small tmpfs for the workspace")
    path = tmp_path / "small-fs"
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,nr_inodes=2000,mode=0755", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "--lazy", str(path)], check=False)


FILL_WORKSPACE = """
import os
made = 0
try:
    while made < 100_000:
        with open(f'fill-{made}.bin', 'wb') as fh:
            fh.write(b'x' * (64 << 10))
        made += 1
except OSError as exc:  # swallowed, so that the engine goes on to save the next block
    print('files written:', made, exc.strerror, flush=True)
"""


@pytest.mark.session
def test_filling_the_workspace_is_an_error_the_engine_reports(small_fs: Path, target: Target) -> None:
    """Disk fill in the workspace (on a 16 MiB filesystem): the code gets ENOSPC, the engine a
    REJECTED block it cannot save, never an exception; nothing is half-written."""
    ex = target.executor(work_dir=small_fs)
    blocks = [CodeBlock(FILL_WORKSPACE, "python"), CodeBlock("print('never runs')", "python")]
    result = ex.execute(blocks)
    assert result.outcome is Outcome.REJECTED, result
    assert result.blocks[0].outcome is Outcome.SUCCESS and "No space left on device" in result.blocks[0].output
    assert "cannot save" in result.message and "No space left on device" in result.message, result.message
    assert "never runs" not in result.output
    assert not [p for p in small_fs.iterdir() if p.name.startswith(".sandbox-tmp-")], "a half-written script was left"
    # The workspace is the caller's: emptying it is the caller's move, then the engine goes on.
    for path in small_fs.iterdir():
        path.unlink()
    # A used sandbox is retired in the background; until it has exited, gVisor's gofer may still
    # hold the deleted file open, so the space comes back a moment after the call returned.
    deadline = time.monotonic() + 10
    while shutil.disk_usage(small_fs).free < 1 << 20 and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.session
def test_a_million_tiny_files_are_cut_off_and_listed_within_bounds(target: Target) -> None:
    """A million tiny files in the workspace: stopped by the deadline, the list of changed
    files is capped (20,000), and every file is removed with the workspace."""
    result = target.run("""
        import os
        os.mkdir('many')
        made = 0
        try:
            while made < 1_000_000:
                open(f'many/{made}', 'w').close()
                made += 1
        finally:
            print('files:', made, flush=True)
    """, timeout=3)
    assert result.outcome is Outcome.TIMEOUT, result
    assert 0 < len(result.files) <= 20_000
    assert all(f.path.startswith("many/") and f.size == 0 for f in result.files)


@pytest.mark.session
def test_a_file_over_the_size_limit_is_refused(target: Target) -> None:
    """A file over the size limit (1 MiB): the write fails with EFBIG; the file stops at 1 MiB."""
    ex = target.executor(file_size_limit="1m")
    result = target.run("""
        with open('big.bin', 'wb') as fh:
            for _ in range(4):
                fh.write(b'x' * (1 << 20))
                fh.flush()
    """, executor=ex)
    assert result.outcome is Outcome.ERROR, result
    assert "File too large" in result.stderr, result
    assert (ex.work_dir / "big.bin").stat().st_size <= 1 << 20

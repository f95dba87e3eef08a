"""Workspace escapes: filenames that climb out, and symlinks the code plants for the engine.

The engine reads and writes the workspace on the host, where a symlink the code planted
resolves against the host's filesystem. Judge0 wrote a submission's next script through such
a link (CVE-2024-28185) and followed one when it collected output (CVE-2024-28189). Here no
engine step may follow one: saving a block, listing changed files, handing files back to the
caller, removing the workspace.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import CodeBlock, Outcome

from conftest import Target

PASSWD = Path("/etc/passwd")


@pytest.mark.session
def test_filenames_that_leave_the_workspace_are_rejected(target: Target) -> None:
    """`filename:` with `..` (also hidden behind a directory or a backslash) or an absolute
    path: rejected, nothing written anywhere."""
    ex = target.executor()
    absolute = target.tmp / "host" / "escape.py"
    for filename in ("../escape.py", "a/../../escape.py", "..\\escape.py", str(absolute)):
        result = target.run("print('escaped')", executor=ex, filename=filename)
        assert result.outcome is Outcome.REJECTED and result.exit_code is None, (filename, result)
        assert "escaped" not in result.output
    assert not (ex.work_dir.parent / "escape.py").exists() and not absolute.exists()
    assert list(ex.work_dir.iterdir()) == []


@pytest.fixture
def passwd_guard() -> Iterator[None]:
    """Restore the host's /etc/passwd if a regression ever wrote through a link to it."""
    before = PASSWD.read_bytes()
    yield
    if PASSWD.read_bytes() != before:
        PASSWD.write_bytes(before)
        pytest.fail("the engine wrote through a symlink to the host's /etc/passwd (restored)")


@pytest.mark.session
def test_planted_symlinks_are_never_followed_by_the_engine(target: Target, passwd_guard: None) -> None:
    """Symlinks planted to /etc/passwd, a host file and a host directory: the engine neither
    lists, changes the owner of, writes through nor removes what they point to."""
    victim = target.plant("victim.txt", b"host file\n")
    victim_dir = target.tmp / "host" / "victim-dir"
    victim_dir.mkdir()
    (victim_dir / "inside.txt").write_text("host directory\n")
    for path in (victim_dir, victim_dir / "inside.txt", PASSWD):
        target.watch(path)
    ex = target.executor()
    planted = target.run(f"""
        import os
        os.symlink('/etc/passwd', 'passwd')
        os.symlink({str(victim)!r}, 'victim')
        os.symlink({str(victim_dir)!r}, 'dir')
        os.symlink('.', 'loop')
        print(sorted(os.listdir('.')))
    """, executor=ex)
    assert planted.ok, planted
    assert planted.files == (), "the engine listed (so followed) a planted symlink"

    for filename in ("passwd", "victim", "dir/evil.py", "loop/loop/victim"):
        result = target.run("print('written through a link')", executor=ex, filename=filename)
        assert result.outcome is Outcome.REJECTED, (filename, result)
        assert "symlink" in result.message, result.message
    assert not (victim_dir / "evil.py").exists()


@pytest.mark.session
def test_a_symlink_planted_between_two_blocks_is_not_written_through(target: Target) -> None:
    """CVE-2024-28185's shape: one block plants a link where the next block will be saved."""
    victim = target.plant("next-victim.py", b"host file\n")
    ex = target.executor()
    result = ex.execute([
        CodeBlock(f"import os; os.symlink({str(victim)!r}, 'next.py')", "python"),
        CodeBlock("print('written through a link')", "python", "next.py"),
    ])
    assert result.outcome is Outcome.REJECTED, result
    assert result.blocks[0].outcome is Outcome.SUCCESS
    assert "symlink" in result.message

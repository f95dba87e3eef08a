"""Workspace paths: confinement, no-follow writes, change listing, and bad work_dir errors."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest

from sandbox import WorkspaceError
from sandbox.workspace import PathRejected, Workspace


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a.py", "a.py"), ("./src/a.py", "src/a.py"), ("src//b/c.txt", "src/b/c.txt"), ("src\\win.py", "src/win.py")],
)
def test_confine_accepts_relative_paths(name: str, expected: str) -> None:
    assert Workspace.confine(name) == PurePosixPath(expected)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("/etc/passwd", "absolute"),
        ("C:/x.py", "absolute"),
        ("../x.py", ".."),
        ("a/../../x.py", ".."),
        ("", "empty"),
        (".", "workspace itself"),
        ("a\x00b", "NUL"),
    ],
)
def test_confine_rejects_escapes_with_a_reason(name: str, why: str) -> None:
    with pytest.raises(PathRejected, match=why):
        Workspace.confine(name)


def test_write_refuses_symlinked_directories_and_files(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_text("original")
    os.symlink(outside, ws.path / "dirlink")
    os.symlink(outside / "victim", ws.path / "filelink")
    with pytest.raises(PathRejected, match="symlink"):
        ws.write_text(PurePosixPath("dirlink/new.py"), "x")
    with pytest.raises(PathRejected, match="symlink"):
        ws.write_text(PurePosixPath("filelink"), "x")
    assert (outside / "victim").read_text() == "original"
    assert sorted(p.name for p in outside.iterdir()) == ["victim"]


def test_snapshot_lists_created_and_changed_files_but_not_symlinks(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    (ws.path / "old.txt").write_text("1")
    before = ws.snapshot()
    (ws.path / "old.txt").write_text("22")
    (ws.path / "sub").mkdir()
    (ws.path / "sub" / "new.txt").write_text("x")
    os.symlink("/etc/passwd", ws.path / "link")
    changes = ws.changes(before, ws.snapshot())
    assert [(c.path, c.size, c.created) for c in changes] == [("old.txt", 2, False), ("sub/new.txt", 1, True)]


def test_temporary_workspace_is_removed_but_a_given_one_never(tmp_path: Path) -> None:
    temp = Workspace()
    assert temp.path.is_dir()
    temp.cleanup()
    assert not temp.path.exists()
    given = Workspace(tmp_path / "mine")
    given.cleanup()
    assert given.path.is_dir()


def test_a_file_as_work_dir_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(WorkspaceError, match="not a directory"):
        Workspace(tmp_path / "file")
    with pytest.raises(WorkspaceError, match="cannot create"):
        Workspace(tmp_path / "file" / "below")

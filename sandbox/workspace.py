"""The workspace: the one host directory a run may read and write, and the engine's only door to it.

The code inside the sandbox controls the workspace's contents, so the engine treats every
entry in it as hostile: it never follows a symlink when it writes a file, creates a directory
or lists what changed (Judge0's CVE-2024-28185 and CVE-2024-28189 were an engine writing
through a symlink the code had planted). Writes go through directory file descriptors opened
with O_NOFOLLOW, one path component at a time.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import WorkspaceError
from .models import FileChange

__all__ = ["PathRejected", "Snapshot", "Workspace"]

_SNAPSHOT_LIMIT = 20_000  # entries walked; a run that makes a million files is not listed in full


class PathRejected(ValueError):
    """A block the engine will not or cannot save: a `filename:` that would leave the workspace,
    a path through a symlink, or a workspace the code has filled. Becomes a rejected block, not
    an exception: the code, not the engine, caused it.
    """


@dataclass(frozen=True, slots=True)
class _Stamp:
    size: int
    mtime_ns: int
    ino: int


Snapshot = dict[str, _Stamp]


class Workspace:
    """A host directory, either the caller's (kept) or a temporary one (removed on `cleanup`)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        if path is None:
            self.path = Path(tempfile.mkdtemp(prefix="sandbox-ws-"))
            self.owned = True
            return
        self.owned = False
        p = Path(path).expanduser()
        if p.exists() and not p.is_dir():
            raise WorkspaceError(f"work_dir {p} exists and is not a directory; pass a directory path")
        try:
            p.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(
                f"cannot create the workspace {p}: {exc.strerror}; pass a writable work_dir "
                "or work_dir=None for a temporary one"
            ) from exc
        if not os.access(p, os.W_OK | os.X_OK):
            raise WorkspaceError(f"work_dir {p} is not writable by this user; fix its permissions or pass another")
        self.path = p.resolve()

    def cleanup(self) -> None:
        """Remove the workspace if the engine created it; a caller's directory is never removed."""
        if self.owned:
            shutil.rmtree(self.path, ignore_errors=True)

    # -- paths -------------------------------------------------------------------------------

    @staticmethod
    def confine(filename: str) -> PurePosixPath:
        """Check a workspace-relative filename and return it normalised, or raise PathRejected."""
        name = filename.strip().replace("\\", "/")
        if not name:
            raise PathRejected("the filename is empty")
        if "\x00" in name:
            raise PathRejected(f"filename {filename!r} contains a NUL byte")
        if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
            raise PathRejected(
                f"filename {filename!r} is absolute; use a path relative to the workspace, e.g. 'src/main.py'"
            )
        parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
        if ".." in parts:
            raise PathRejected(f"filename {filename!r} climbs out of the workspace with '..'; use a path inside it")
        if not parts:
            raise PathRejected(f"filename {filename!r} names the workspace itself, not a file")
        return PurePosixPath(*parts)

    # -- writing without following links ------------------------------------------------------

    def write_text(self, rel: PurePosixPath, text: str) -> None:
        """Write a file at `rel`, creating directories; refuse to pass through any symlink.

        A write the filesystem refuses (the code filled the disk, or its inodes) is a
        PathRejected too, and leaves no half-written file behind.
        """
        try:
            self._write(rel, text.encode("utf-8", errors="surrogateescape"))
        except OSError as exc:
            raise PathRejected(f"cannot save {rel} in the workspace: {exc.strerror or exc}") from exc

    def _write(self, rel: PurePosixPath, data: bytes) -> None:
        dir_fd = self._open_parent(rel, create=True)
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
            try:
                fd = os.open(rel.name, flags, 0o644, dir_fd=dir_fd)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.EISDIR, errno.ENXIO):
                    raise  # e.g. no space or no inode left: said as such by write_text
                raise PathRejected(f"cannot write {rel}: it is a symlink or not a regular file ({exc.strerror})") from exc
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise PathRejected(f"cannot write {rel}: it is not a regular file")
                with os.fdopen(fd, "wb", closefd=False) as fh:
                    fh.write(data)
            except OSError:
                try:
                    os.unlink(rel.name, dir_fd=dir_fd)  # the half-written file, by name, not followed
                except OSError:
                    pass
                raise
            finally:
                os.close(fd)
        finally:
            os.close(dir_fd)

    def remove(self, rel: PurePosixPath) -> None:
        """Remove a file the engine wrote (a temporary script), never through a symlink."""
        try:
            dir_fd = self._open_parent(rel, create=False)
        except (PathRejected, OSError):
            return
        try:
            os.unlink(rel.name, dir_fd=dir_fd)
        except OSError:
            pass
        finally:
            os.close(dir_fd)

    def _open_parent(self, rel: PurePosixPath, *, create: bool) -> int:
        fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for part in rel.parts[:-1]:
                if create:
                    try:
                        os.mkdir(part, 0o755, dir_fd=fd)
                    except FileExistsError:
                        pass
                try:
                    nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                except OSError as exc:
                    raise PathRejected(
                        f"cannot write {rel}: {part!r} is a symlink or not a directory ({exc.strerror})"
                    ) from exc
                os.close(fd)
                fd = nxt
        except BaseException:
            os.close(fd)
            raise
        return fd

    # -- what changed ---------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """Regular files under the workspace (symlinks are listed by no one and followed by no one)."""
        found: Snapshot = {}
        stack = [""]
        while stack and len(found) < _SNAPSHOT_LIMIT:
            rel_dir = stack.pop()
            try:
                with os.scandir(self.path / rel_dir if rel_dir else self.path) as it:
                    for entry in it:
                        rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                        try:
                            st = entry.stat(follow_symlinks=False)
                        except OSError:
                            continue
                        if stat.S_ISDIR(st.st_mode):
                            stack.append(rel)
                        elif stat.S_ISREG(st.st_mode):
                            found[rel] = _Stamp(st.st_size, st.st_mtime_ns, st.st_ino)
                            if len(found) >= _SNAPSHOT_LIMIT:
                                break
            except OSError:
                continue
        return found

    @staticmethod
    def changes(before: Snapshot, after: Snapshot, *, ignore: Collection[str] = ()) -> tuple[FileChange, ...]:
        out = []
        for rel, stamp in sorted(after.items()):
            if rel in ignore:
                continue
            old = before.get(rel)
            if old is None:
                out.append(FileChange(path=rel, size=stamp.size, created=True))
            elif old != stamp:
                out.append(FileChange(path=rel, size=stamp.size, created=False))
        return tuple(out)

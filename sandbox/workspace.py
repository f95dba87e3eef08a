"""The workspace: the one host directory a run may read and write, and the engine's only door to it.

The code inside the sandbox controls the workspace's contents, so the engine treats every
entry in it as hostile: it never follows a symlink when it writes a file, reads one back,
creates a directory or lists what changed (Judge0's CVE-2024-28185 and CVE-2024-28189 were an
engine writing through a symlink the code had planted). Reads and writes go through directory
file descriptors opened with O_NOFOLLOW, one path component at a time, and files are opened
non-blocking so that a FIFO planted in place of a file cannot hang the engine.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import WorkspaceError
from .mime import SNIFF_BYTES, guess_mime_type
from .models import FileChange

__all__ = ["FileLimitError", "PathRejected", "Snapshot", "Workspace"]

_SNAPSHOT_LIMIT = 20_000  # entries walked; a run that makes a million files is not listed in full
_COPY_CHUNK = 1 << 20
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class PathRejected(ValueError):
    """A path the engine will not or cannot use: one that would leave the workspace or pass
    through a symlink, one that is not a file, or a workspace the code has filled.

    In a block's `filename:` it becomes a rejected block (the code, not the engine, caused it);
    from the file API it is raised.
    """


class FileLimitError(ValueError):
    """A file, or a set of files, is over the size or count cap of a transfer."""


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

    def _open_parent(self, rel: PurePosixPath, *, create: bool, created: list[PurePosixPath] | None = None) -> int:
        """A descriptor of `rel`'s directory, reached without following links.

        With `create`, missing directories are made (and listed in `created`, parents first);
        without it a missing one raises FileNotFoundError.
        """
        fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for depth, part in enumerate(rel.parts[:-1]):
                if create:
                    try:
                        os.mkdir(part, 0o755, dir_fd=fd)
                        if created is not None:
                            created.append(PurePosixPath(*rel.parts[: depth + 1]))
                    except FileExistsError:
                        pass
                try:
                    nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                except OSError as exc:
                    if exc.errno == errno.ENOENT and not create:
                        raise FileNotFoundError(
                            errno.ENOENT, f"{rel} is not in the workspace (no directory {part!r})"
                        ) from None
                    verb = "write" if create else "read"
                    raise PathRejected(
                        f"cannot {verb} {rel}: {part!r} is a symlink or not a directory ({exc.strerror})"
                    ) from exc
                os.close(fd)
                fd = nxt
        except BaseException:
            os.close(fd)
            raise
        return fd

    # -- reading without following links -------------------------------------------------------

    def read_bytes(self, rel: PurePosixPath, *, max_bytes: int) -> bytes:
        """The contents of the regular file at `rel`; refuses symlinks, FIFOs and directories.

        Raises FileNotFoundError, PathRejected, or FileLimitError when the file holds more
        than `max_bytes` (checked again while reading: the code may still be writing it).
        """
        dir_fd = self._open_parent(rel, create=False)
        try:
            try:
                fd = os.open(rel.name, _READ_FLAGS, dir_fd=dir_fd)
            except FileNotFoundError:
                raise FileNotFoundError(errno.ENOENT, f"{rel} is not in the workspace") from None
            except OSError as exc:
                raise PathRejected(f"cannot read {rel}: it is a symlink ({exc.strerror}); links are never followed") from exc
        finally:
            os.close(dir_fd)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise PathRejected(f"cannot read {rel}: it is not a regular file")
            if st.st_size > max_bytes:
                raise FileLimitError(f"{rel} holds {st.st_size:,} bytes, over the cap of {max_bytes:,}")
            os.set_blocking(fd, True)
            chunks: list[bytes] = []
            total = 0
            while chunk := os.read(fd, min(_COPY_CHUNK, max_bytes + 1 - total)):
                chunks.append(chunk)
                total += len(chunk)
                if total > max_bytes:
                    raise FileLimitError(f"{rel} grew past the cap of {max_bytes:,} bytes while it was read")
            return b"".join(chunks)
        finally:
            os.close(fd)

    def head(self, rel: PurePosixPath, size: int = SNIFF_BYTES) -> bytes:
        """The first bytes of a regular file, or b"" when it cannot be read safely."""
        try:
            dir_fd = self._open_parent(rel, create=False)
        except (PathRejected, OSError):
            return b""
        try:
            fd = os.open(rel.name, _READ_FLAGS, dir_fd=dir_fd)
        except OSError:
            return b""
        finally:
            os.close(dir_fd)
        try:
            return os.read(fd, size) if stat.S_ISREG(os.fstat(fd).st_mode) else b""
        except OSError:
            return b""
        finally:
            os.close(fd)

    # -- writing all or nothing ------------------------------------------------------------------

    def write_atomic(self, files: Sequence[tuple[PurePosixPath, bytes | Path]], *, max_bytes: int) -> None:
        """Write every file (bytes, or a host file to copy), or none of them.

        Each file is written under a temporary name in its directory and renamed into place
        only when all are written, so a reader never sees half a file, and a failure (a
        symlink in the way, a full disk, a source over `max_bytes`) leaves the workspace as it
        was: temporaries removed, directories made for the write removed again when empty.
        The rename replaces a symlink at the target itself; it never writes through it.
        """
        created: list[PurePosixPath] = []
        staged: list[tuple[int, str, str]] = []  # (dir fd, temporary name, final name)
        try:
            for rel, source in files:
                dir_fd = self._open_parent(rel, create=True, created=created)
                staged.append((dir_fd, "", rel.name))
                try:
                    if stat.S_ISDIR(os.stat(rel.name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
                        raise PathRejected(f"cannot write {rel}: a directory of that name is in the way")
                except FileNotFoundError:
                    pass
                tmp = f".sandbox-put-{uuid.uuid4().hex[:12]}.tmp"
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=dir_fd)
                staged[-1] = (dir_fd, tmp, rel.name)
                try:
                    _copy_into(fd, source, rel, max_bytes)
                finally:
                    os.close(fd)
            for dir_fd, tmp, name in staged:
                os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            for dir_fd, tmp, _ in staged:
                if tmp:
                    try:
                        os.unlink(tmp, dir_fd=dir_fd)
                    except OSError:
                        pass  # already renamed into place: a whole file, not half of one
            for rel in reversed(created):
                self._remove_empty_dir(rel)
            raise
        finally:
            for dir_fd, _, _ in staged:
                os.close(dir_fd)

    def _remove_empty_dir(self, rel: PurePosixPath) -> None:
        try:
            dir_fd = self._open_parent(rel, create=False)
        except (PathRejected, OSError):
            return
        try:
            os.rmdir(rel.name, dir_fd=dir_fd)
        except OSError:
            pass  # not empty any more (the code wrote into it meanwhile): keep it
        finally:
            os.close(dir_fd)

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

    def changes(self, before: Snapshot, after: Snapshot, *, ignore: Collection[str] = ()) -> tuple[FileChange, ...]:
        """Files in `after` that are new or different since `before`, with their MIME types."""
        out = []
        for rel, stamp in sorted(after.items()):
            if rel in ignore:
                continue
            old = before.get(rel)
            if old is None or old != stamp:
                out.append(self.describe(rel, stamp.size, created=old is None))
        return tuple(out)

    def describe(self, rel: str, size: int, *, created: bool) -> FileChange:
        """A `FileChange` for a workspace file, its MIME type sniffed from its first bytes."""
        mime = guess_mime_type(rel, self.head(PurePosixPath(rel)))
        return FileChange(path=rel, size=size, created=created, mime_type=mime)


def _copy_into(fd: int, source: bytes | Path, rel: PurePosixPath, max_bytes: int) -> None:
    """Write `source` to `fd`: bytes as they are, a host file copied with the cap enforced."""
    if not isinstance(source, Path):
        view = memoryview(source)
        while view:
            view = view[os.write(fd, view):]
        return
    written = 0
    with open(source, "rb") as src:
        while chunk := src.read(_COPY_CHUNK):
            written += len(chunk)
            if written > max_bytes:
                raise FileLimitError(f"{source} grew past the cap of {max_bytes:,} bytes while it was copied to {rel}")
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view):]

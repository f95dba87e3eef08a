"""Files in and out of a run's workspace, for every executor: `put_files`, `read_file`, `get_files`.

    executor.put_files({"data/in.csv": b"a,b\\n1,2\\n", "notes.txt": "text", "model.bin": Path("model.bin")})
    result = executor.execute(blocks)
    executor.read_file("out/result.json")                  # -> bytes
    executor.get_files("plots/*.png")                      # -> {"plots/figure_1.png": b"\\x89PNG..."}
    executor.get_files(f for f in result.files if f.is_image)

Why methods on the executor and not an `execute(..., files=...)` argument: the workspace
outlives a call (files persist from one call to the next, and the caller owns it), so putting
a file is an act on the workspace, like AutoGen's `work_dir`, not a parameter of one run; and
getting files out must work after the run, from `result.files`. Every runner shares one host
directory as the workspace (a bind mount in Docker), so one implementation serves them all.

Every path is confined to the workspace (`Workspace.confine`), nothing the code planted is
followed (symlinks, FIFOs are refused), transfers are capped by `FileLimits` (set
`executor.file_limits`, or pass `limits=` per call), and a failed `put_files` writes nothing.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TypeAlias

from .models import FileChange
from .workspace import FileLimitError, PathRejected, Workspace

__all__ = ["FileLimitError", "FileLimits", "FileSource", "PathRejected", "WorkspaceFiles"]

FileSource: TypeAlias = "bytes | bytearray | memoryview | str | os.PathLike[str]"
"""What `put_files` writes: bytes as they are, `str` as UTF-8 text, a path as a host file to copy."""

_MiB = 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class FileLimits:
    """Caps on one `put_files` or `get_files` call (and `read_file`'s size).

    The defaults keep a careless `get_files("*")` from reading a run's gigabytes into memory
    while leaving room for real data sets; raise them when you mean to move more.
    """

    max_file_bytes: int = 64 * _MiB  # any single file
    max_total_bytes: int = 256 * _MiB  # all files of one call together
    max_files: int = 1000  # files in one call

    def __post_init__(self) -> None:
        for name in ("max_file_bytes", "max_total_bytes", "max_files"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"FileLimits.{name} must be a positive int, not {value!r}")


_HINT = "raise the cap with executor.file_limits = FileLimits({field}=...) or pass limits=FileLimits(...)"


class WorkspaceFiles:
    """The file verbs every executor has; mixed into `BaseExecutor`, which owns `_workspace`."""

    file_limits: FileLimits = FileLimits()
    _workspace: Workspace

    def _check_open(self) -> None:  # provided by BaseExecutor
        raise NotImplementedError

    def put_files(self, files: Mapping[str, FileSource], *, limits: FileLimits | None = None) -> tuple[FileChange, ...]:
        """Write files into the workspace before (or between) runs; all of them or none.

        Keys are workspace-relative paths (`data/in.csv`; directories are created); values
        are bytes, text (written as UTF-8) or a host path to copy. Returns what was written,
        as `FileChange`s with sizes and MIME types. Raises `PathRejected` (a `ValueError`) for
        a path outside the workspace or through a symlink, `FileLimitError` over the caps,
        `FileNotFoundError` for a missing host file, `ExecutorClosedError` after `close()`.
        """
        self._check_open()
        limits = limits or self.file_limits
        if not isinstance(files, Mapping):
            raise TypeError("put_files() takes a mapping of workspace paths to bytes, str or Path, e.g. {'in.csv': b'...'}")
        if len(files) > limits.max_files:
            raise FileLimitError(f"{len(files):,} files is over the cap of {limits.max_files:,}; " + _HINT.format(field="max_files"))
        plan: list[tuple[PurePosixPath, bytes | Path]] = []
        sizes: dict[str, int] = {}
        total = 0
        for name, value in files.items():
            if not isinstance(name, str):
                raise TypeError(f"put_files() keys are workspace paths as str, not {type(name).__name__}")
            rel = Workspace.confine(name)
            if str(rel) in sizes:
                raise ValueError(f"put_files() names {rel} twice (as {name!r} and another spelling)")
            source, size = _source(value, rel)
            if size > limits.max_file_bytes:
                raise FileLimitError(
                    f"{rel} would hold {size:,} bytes, over the cap of {limits.max_file_bytes:,}; "
                    + _HINT.format(field="max_file_bytes")
                )
            total += size
            if total > limits.max_total_bytes:
                raise FileLimitError(
                    f"the files add up to more than the cap of {limits.max_total_bytes:,} bytes; "
                    + _HINT.format(field="max_total_bytes")
                )
            sizes[str(rel)] = size
            plan.append((rel, source))
        existed = {str(rel) for rel, _ in plan if self._exists(rel)}
        self._workspace.write_atomic(plan, max_bytes=limits.max_file_bytes)
        return tuple(self._workspace.describe(str(rel), sizes[str(rel)], created=str(rel) not in existed) for rel, _ in plan)

    def read_file(self, path: str | FileChange, *, limits: FileLimits | None = None) -> bytes:
        """The bytes of one workspace file (e.g. `out/result.json`, or an entry of `result.files`).

        Raises `FileNotFoundError` when it is not there, `PathRejected` (a `ValueError`) for a
        path outside the workspace, a symlink or a non-regular file, `FileLimitError` when it
        is over `max_file_bytes`.
        """
        self._check_open()
        limits = limits or self.file_limits
        rel = Workspace.confine(path.path if isinstance(path, FileChange) else path)
        try:
            return self._workspace.read_bytes(rel, max_bytes=limits.max_file_bytes)
        except FileLimitError as exc:
            raise FileLimitError(f"{exc}; " + _HINT.format(field="max_file_bytes")) from None

    def get_files(
        self, which: str | Iterable[str | FileChange], *, limits: FileLimits | None = None
    ) -> dict[str, bytes]:
        """Several workspace files at once, as `{relative path: bytes}` in path order.

        `which` is either a glob pattern matched against whole relative paths (`*` also
        crosses `/`, so `"*.png"` finds `plots/figure_1.png`; no match gives `{}`), or an
        iterable of paths or `FileChange`s (e.g. `result.files`), each of which must exist.
        Symlinks are never matched or followed. Caps: `FileLimits`.
        """
        self._check_open()
        limits = limits or self.file_limits
        if isinstance(which, str):
            names = sorted(rel for rel in self._workspace.snapshot() if fnmatch.fnmatchcase(rel, which))
            rels = [PurePosixPath(n) for n in names]
        else:
            rels = sorted({Workspace.confine(w.path if isinstance(w, FileChange) else w) for w in which})
        if len(rels) > limits.max_files:
            raise FileLimitError(
                f"{len(rels):,} files match, over the cap of {limits.max_files:,}; narrow the pattern or "
                + _HINT.format(field="max_files")
            )
        out: dict[str, bytes] = {}
        total = 0
        for rel in rels:
            data = self.read_file(str(rel), limits=limits)
            total += len(data)
            if total > limits.max_total_bytes:
                raise FileLimitError(
                    f"the files add up to more than the cap of {limits.max_total_bytes:,} bytes; "
                    + _HINT.format(field="max_total_bytes")
                )
            out[str(rel)] = data
        return out

    def _exists(self, rel: PurePosixPath) -> bool:
        try:
            os.lstat(self._workspace.path / rel)
        except OSError:
            return False
        return True


def _source(value: object, rel: PurePosixPath) -> tuple[bytes | Path, int]:
    """The bytes (or host file) to write for `rel`, and its size, checked before anything is written."""
    if isinstance(value, str):
        data = value.encode("utf-8")
        return data, len(data)
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        return data, len(data)
    if isinstance(value, os.PathLike):
        host = Path(os.fspath(value)).expanduser()
        try:
            st = host.stat()
        except FileNotFoundError:
            raise FileNotFoundError(f"cannot put {rel}: the host file {host} does not exist") from None
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(
                f"cannot put {rel}: {host} is not a regular file; put a directory's files one by one, "
                f"e.g. {{f'{rel}/{{p.name}}': p for p in Path('{host}').iterdir()}}"
            )
        return host, st.st_size
    raise TypeError(f"cannot put {rel}: values are bytes, str or a Path, not {type(value).__name__}")

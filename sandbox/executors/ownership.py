"""Lending the workspace to the sandbox uid and taking it back, for callers that run as root.

A root caller's code must not run as root, yet the files it writes must end up owned by the
caller (AutoGen's Docker executor leaves root-owned files behind for ordinary users; the
mirror problem for root is files owned by a stray uid). Before a call, entries owned by the
caller become the sandbox uid's; after it, entries owned by the sandbox uid become the
caller's again. Entries owned by anyone else are left as they are. Nothing is followed: the
code may have planted symlinks, and `lchown` changes the link, never its target.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

__all__ = ["Loan", "hand_back", "lend"]


def _walk(root: Path) -> list[tuple[str, os.stat_result]]:
    found = []
    try:
        found.append((str(root), os.lstat(root)))
    except OSError:
        return found
    stack = [str(root)]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as it:
                for entry in it:
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    found.append((entry.path, st))
                    if stat.S_ISDIR(st.st_mode):
                        stack.append(entry.path)
        except OSError:
            continue
    return found


def _chown_matching(root: Path, from_uid: int, to_uid: int, to_gid: int) -> None:
    for path, st in _walk(root):
        if st.st_uid == from_uid:
            try:
                os.chown(path, to_uid, to_gid, follow_symlinks=False)
            except OSError:
                pass  # vanished, or a filesystem that ignores ownership


def lend(root: Path, sandbox_uid: int) -> None:
    """Give the caller's entries in the workspace to the sandbox uid for the call."""
    _chown_matching(root, os.getuid(), sandbox_uid, sandbox_uid)


def hand_back(root: Path, sandbox_uid: int, uid: int, gid: int) -> None:
    """Give everything the sandbox uid owns in the workspace back to the caller."""
    _chown_matching(root, sandbox_uid, uid, gid)


class Loan:
    """The workspace lent for as long as at least one call runs: calls may overlap.

    Handing back while another call still runs would give its directories back to root
    under its feet (its next write fails with EACCES), so the first call in lends and the last
    call out hands back.
    """

    def __init__(self, root: Path, sandbox_uid: int) -> None:
        self._root = root
        self._uid = sandbox_uid
        self._calls = 0
        self._lock = threading.Lock()

    def begin(self) -> None:
        with self._lock:
            if self._calls == 0:
                lend(self._root, self._uid)
            self._calls += 1

    def end(self) -> None:
        with self._lock:
            self._calls -= 1
            if self._calls == 0:
                hand_back(self._root, self._uid, os.getuid(), os.getgid())

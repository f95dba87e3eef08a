"""A bounded record of what a run wrote: the head and the tail are kept, the middle is counted.

Code that prints 100 MB must neither exhaust the caller's memory nor bury the line that says
what went wrong, which is usually at the end (a traceback) or at the start (a usage error).
So the buffer keeps the first half of its budget as it arrives and a rolling window of the
last half, and counts what fell in between. Chunks keep their stream (stdout or stderr) and
their block, so the interleaved `output`, each stream and each block's output are all views
of one record, in the order the reader saw the writes.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass

__all__ = ["DEFAULT_OUTPUT_LIMIT", "OutputBuffer", "STDERR", "STDOUT"]

DEFAULT_OUTPUT_LIMIT = 1024 * 1024  # bytes per call, both streams together
STDOUT = 1
STDERR = 2
_PARTIAL_LIMIT = 64 * 1024  # an unfinished line longer than this is recorded without waiting


@dataclass(slots=True)
class _Chunk:
    block: int
    stream: int
    data: bytes


class OutputBuffer:
    """Thread-safe: the stdout and stderr readers of one run may feed it at once."""

    def __init__(self, limit: int = DEFAULT_OUTPUT_LIMIT) -> None:
        if limit < 0:
            raise ValueError("output limit must be >= 0 bytes")
        self._head_budget = limit - limit // 2
        self._tail_budget = limit // 2
        self._head: list[_Chunk] = []
        self._head_size = 0
        self._tail: collections.deque[_Chunk] = collections.deque()
        self._tail_size = 0
        self._dropped = 0
        self._total = 0
        self._partial: dict[tuple[int, int], bytes] = {}
        self._lock = threading.Lock()

    def write(self, block: int, stream: int, data: bytes) -> None:
        """Record bytes; the interleaved record is line-atomic per stream.

        Unbuffered Python writes `print(x)` as two writes, x and the newline; recorded as they
        came, a traceback on stderr between the two would split the line ("3Traceback ...").
        So each stream's unfinished line waits until its newline arrives, the block ends
        (`flush`), or `_PARTIAL_LIMIT` bytes pile up without one.
        """
        if not data:
            return
        with self._lock:
            self._total += len(data)
            key = (block, stream)
            pending = self._partial.pop(key, b"") + data
            cut = pending.rfind(b"\n") + 1
            if cut == 0 and len(pending) < _PARTIAL_LIMIT:
                self._partial[key] = pending
                return
            if cut == 0:
                cut = len(pending)
            if cut < len(pending):
                self._partial[key] = pending[cut:]
            self._record(block, stream, pending[:cut])

    def flush(self) -> None:
        """Record every unfinished line (a block ended, or the run was stopped)."""
        with self._lock:
            partial, self._partial = self._partial, {}
            for (block, stream), data in partial.items():
                self._record(block, stream, data)

    def _record(self, block: int, stream: int, data: bytes) -> None:
        """Append to the head while it has room, then to the rolling tail. Lock held."""
        room = self._head_budget - self._head_size
        if room > 0:
            taken = data[:room]
            self._head.append(_Chunk(block, stream, taken))
            self._head_size += len(taken)
            data = data[room:]
            if not data:
                return
        if self._tail_budget == 0:
            self._dropped += len(data)
            return
        if len(data) >= self._tail_budget:
            # One write larger than the whole tail window replaces it.
            self._dropped += self._tail_size + len(data) - self._tail_budget
            self._tail.clear()
            self._tail.append(_Chunk(block, stream, data[-self._tail_budget :]))
            self._tail_size = self._tail_budget
            return
        self._tail.append(_Chunk(block, stream, data))
        self._tail_size += len(data)
        while self._tail_size > self._tail_budget:
            first = self._tail[0]
            excess = self._tail_size - self._tail_budget
            if len(first.data) <= excess:
                self._tail.popleft()
                self._tail_size -= len(first.data)
                self._dropped += len(first.data)
            else:
                first.data = first.data[excess:]
                self._tail_size -= excess
                self._dropped += excess

    @property
    def dropped(self) -> int:
        with self._lock:
            return self._dropped

    @property
    def total(self) -> int:
        with self._lock:
            return self._total

    def text(self, *, stream: int | None = None, block: int | None = None) -> str:
        """The kept bytes that match, decoded as UTF-8 with bad bytes replaced (never raised)."""
        self.flush()
        with self._lock:
            chunks = [*self._head, *self._tail]
        data = b"".join(
            c.data
            for c in chunks
            if (stream is None or c.stream == stream) and (block is None or c.block == block)
        )
        return data.decode("utf-8", errors="replace")

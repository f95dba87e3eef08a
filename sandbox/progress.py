"""The CLI's live view of a run: output as it comes, and a status line when a person is watching.

The code's output is copied to our stdout and stderr as the reader threads receive it. On a
terminal (stderr is a TTY), a run that lasts over `delay` seconds also gets one status line on
stderr, redrawn in place: elapsed time against the timeout, and bytes of output against the
output limit. It is erased before each piece of output and when the run ends, so it never
mixes with what the code printed; piped (CI logs, `| less`), nothing extra is written.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from .models import OutputEvent

__all__ = ["LiveOutput"]

_CLEAR = "\r\x1b[2K"


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024 or unit == "MiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


class LiveOutput:
    """`on_output` for `execute()`, plus the status line; use as a context manager around the call."""

    def __init__(
        self, *, timeout: float, output_limit: int, stdout: TextIO | None = None, stderr: TextIO | None = None,
        status: bool | None = None, delay: float = 1.0, interval: float = 0.2,
    ) -> None:
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.status = self.stderr.isatty() if status is None else status
        self.timeout = timeout
        self.output_limit = output_limit
        self.delay = delay
        self.interval = interval
        self.bytes = 0
        self._shown = False
        self._line_open = False  # the code's last output ended mid-line: the status line would erase it
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="sandbox-progress", daemon=True)

    def __enter__(self) -> LiveOutput:
        self._started = time.monotonic()
        if self.status:
            self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        if self._ticker.is_alive():
            self._ticker.join()
        with self._lock:
            self._erase()

    def __call__(self, event: OutputEvent) -> None:
        with self._lock:
            self._erase()
            self.bytes += len(event.data)
            target = self.stderr if event.stream == "stderr" else self.stdout
            target.write(event.text)
            target.flush()
            if event.text:
                self._line_open = not event.text.endswith("\n")

    def line(self) -> str:
        elapsed = time.monotonic() - self._started
        used = f"{_size(self.bytes)} of output"
        if self.bytes > self.output_limit:
            used += f" (over the {_size(self.output_limit)} kept: the middle is dropped)"
        return f"sandbox: running {elapsed:.1f} s of {self.timeout:g} s, {used}"

    def _tick(self) -> None:
        if self._done.wait(self.delay):
            return
        while not self._done.is_set():
            with self._lock:
                if not self._line_open:
                    self.stderr.write(_CLEAR + self.line())
                    self.stderr.flush()
                    self._shown = True
            self._done.wait(self.interval)

    def _erase(self) -> None:
        if self._shown:
            self.stderr.write(_CLEAR)
            self.stderr.flush()
            self._shown = False

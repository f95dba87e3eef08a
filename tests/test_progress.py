"""The CLI's live output: streamed as produced, a status line on a terminal, nothing extra when piped."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time

from sandbox.models import OutputEvent
from sandbox.progress import LiveOutput


def event(text: str, stream: str = "stdout") -> OutputEvent:
    return OutputEvent(block=0, stream=stream, text=text, data=text.encode(), elapsed_s=0.0)


def test_output_passes_through_and_the_status_line_is_erased_before_it() -> None:
    out, err = io.StringIO(), io.StringIO()
    with LiveOutput(timeout=10, output_limit=1000, stdout=out, stderr=err, status=True, delay=0, interval=0.01) as live:
        time.sleep(0.1)
        live(event("hello\n"))
        live(event("oops\n", "stderr"))
        time.sleep(0.1)
    assert out.getvalue() == "hello\n"
    shown = err.getvalue()
    assert "sandbox: running" in shown and "of 10 s" in shown
    assert "\r\x1b[2Koops\n" in shown, "the status line must be erased before the code's own output"
    assert shown.endswith("\r\x1b[2K"), "the status line must be gone when the run ends"
    assert live.bytes == len("hello\noops\n")


def test_no_status_line_over_an_unfinished_line_of_output() -> None:
    out, err = io.StringIO(), io.StringIO()
    with LiveOutput(timeout=10, output_limit=1000, stdout=out, stderr=err, status=True, delay=0, interval=0.01) as live:
        live(event("Your name: ", "stderr"))  # a prompt: drawing over it would erase it
        time.sleep(0.1)
    assert err.getvalue().endswith("\r\x1b[2KYour name: ") or err.getvalue() == "Your name: "
    assert err.getvalue().count("Your name: ") == 1


def test_the_status_line_says_when_output_is_over_the_limit() -> None:
    live = LiveOutput(timeout=5, output_limit=10, stdout=io.StringIO(), stderr=io.StringIO(), status=False)
    live(event("x" * 20 + "\n"))
    assert "over the 10 B kept" in live.line()


def _cli(*args: str, tty: bool) -> tuple[int, str, str]:
    command = [sys.executable, "-m", "sandbox", *args]
    if not tty:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        return done.returncode, done.stdout, done.stderr
    master, slave = pty.openpty()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: every writer closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert proc.stdout is not None
    out = proc.stdout.read()
    proc.stdout.close()
    return proc.wait(30), out, seen.decode(errors="replace")


def test_cli_on_a_terminal_shows_the_status_line_and_streams() -> None:
    code = "import time\nprint('first', flush=True)\ntime.sleep(2.5)\nprint('second')"
    status, out, err = _cli("exec", "--executor", "local", "--timeout", "20", "-c", code, tty=True)
    assert status == 0
    assert out == "first\nsecond\n"
    assert "sandbox: running" in err and "of 20 s" in err


def test_cli_piped_writes_nothing_extra() -> None:
    code = "import time, sys\nprint('first', flush=True)\ntime.sleep(1.5)\nprint('warn', file=sys.stderr)"
    status, out, err = _cli("exec", "--executor", "local", "-c", code, tty=False)
    assert status == 0
    assert out == "first\n" and err == "warn\n"

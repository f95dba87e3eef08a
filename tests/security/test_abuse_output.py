"""Output: floods on both streams at once, invalid UTF-8, binary dumps, a closed stdout."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from sandbox import Outcome

from conftest import Target

# Writes with os.write in a loop that finishes short writes: gVisor's pipes return them for
# large writes, and the engine is what is under test here, not Python's unbuffered stdout
# (which drops the rest of a short write: python/cpython#85393; see the conformance suite).
FLOOD = r"""
import os, threading
MIB = 1 << 20
def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
def flood(fd, byte):
    chunk = byte * MIB
    for _ in range(100):
        write_all(fd, chunk)
write_all(1, b'HEAD-OUT\n')
write_all(2, b'HEAD-ERR\n')
threads = [threading.Thread(target=flood, args=(1, b'o')), threading.Thread(target=flood, args=(2, b'e'))]
for t in threads:
    t.start()
for t in threads:
    t.join()
write_all(1, b'\nTAIL-OUT\n')
write_all(2, b'\nTAIL-ERR\n')
"""


def test_100mb_on_stdout_and_stderr_at_once_is_capped_and_counted(target: Target) -> None:
    """100 MB on stdout and 100 MB on stderr at once: 1 MiB kept (head and tail), the rest
    counted, the caller's memory bounded."""
    ex = target.executor()
    tracemalloc.start()
    try:
        result = target.run(FLOOD, executor=ex, timeout=60)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.outcome is Outcome.SUCCESS, result.message
    total = 2 * (100 << 20) + len("HEAD-OUT\n") + len("HEAD-ERR\n") + len("\nTAIL-OUT\n") + len("\nTAIL-ERR\n")
    kept = len(result.output.encode())
    assert kept == 1 << 20
    assert result.truncated_bytes == total - kept, "bytes were lost or invented on the way"
    assert result.stdout.startswith("HEAD-OUT\n") and result.stderr.startswith("HEAD-ERR\n")
    # Each stream's order is kept, but across the two the engine may relay the last megabytes
    # in either order (two pipes, no common clock): one tail is last, the other may be cut.
    assert result.output.endswith(("\nTAIL-OUT\n", "\nTAIL-ERR\n"))
    assert result.stdout.endswith("\nTAIL-OUT\n") or result.stderr.endswith("\nTAIL-ERR\n")
    assert peak < 32 << 20, f"the caller held {peak / 2**20:.1f} MiB for 200 MB of output"


def test_invalid_utf8_is_replaced_not_raised(target: Target) -> None:
    """Invalid UTF-8 on both streams: replaced with U+FFFD in the result, never an exception."""
    result = target.run(r"""
        import os
        os.write(1, b'ok \xff\xfe \xc3\x28 \xed\xa0\x80 end\n')
        os.write(2, b'err \x80\n')
    """)
    assert result.outcome is Outcome.SUCCESS, result
    assert result.stdout == "ok \ufffd\ufffd \ufffd( \ufffd\ufffd\ufffd end\n"
    assert result.stderr == "err \ufffd\n"
    json.dumps(result.to_dict())  # what the CLI's --json prints


def test_binary_dump_is_text_in_the_result(target: Target) -> None:
    """A binary dump (random bytes, NULs, terminal escapes, an ELF file): the result is text,
    JSON-serialisable and within the output cap."""
    result = target.run(r"""
        import os, sys
        def write_all(fd, data):
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        with open(sys.executable, 'rb') as fh:
            write_all(2, fh.read(16 << 10))
        write_all(1, b'\x00\x1b[2J\x1b]0;pwned\x07' + os.urandom(3 << 19))
    """)
    assert result.outcome is Outcome.SUCCESS, result
    assert isinstance(result.stdout, str) and result.stdout.startswith("\x00\x1b[2J")
    assert result.stderr.startswith("\x7fELF")
    assert result.truncated and len(result.output) <= 1 << 20  # bytes are capped; each becomes one character
    json.dumps(result.to_dict())


@pytest.mark.session
def test_code_that_closes_stdout_and_keeps_running_times_out(target: Target) -> None:
    """A process that closes stdout and stderr and keeps running: killed at the deadline, and
    what it wrote before closing them is kept."""
    result = target.run("""
        import os, time
        print('closing my streams', flush=True)
        os.close(1)
        os.close(2)
        time.sleep(60)
    """, timeout=2)
    assert result.outcome is Outcome.TIMEOUT and result.exit_code == 124, result
    assert result.stdout == "closing my streams\n"


def test_large_prints_arrive_whole_or_are_counted(target: Target, request: pytest.FixtureRequest) -> None:
    """print() of 1 MiB lines through Python's unbuffered stdout: every byte is kept or counted."""
    result = target.run("for _ in range(8):\n    print('x' * (1 << 20))\n")
    assert result.outcome is Outcome.SUCCESS, result.message
    assert len(result.stdout.encode()) + result.truncated_bytes == 8 * ((1 << 20) + 1), "bytes were lost"

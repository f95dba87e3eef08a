"""The bounded output record: head and tail kept, the middle counted, streams and blocks apart."""

from __future__ import annotations

import pytest

from sandbox.output import STDERR, STDOUT, OutputBuffer


def test_under_the_limit_everything_is_kept_in_order() -> None:
    buf = OutputBuffer(100)
    buf.write(0, STDOUT, b"a1 ")
    buf.write(0, STDERR, b"e1 ")
    buf.write(1, STDOUT, b"a2")
    assert buf.text() == "a1 e1 a2"
    assert buf.text(stream=STDOUT) == "a1 a2"
    assert buf.text(stream=STDERR) == "e1 "
    assert buf.text(block=1) == "a2"
    assert buf.dropped == 0 and buf.total == 8


def test_over_the_limit_head_and_tail_are_kept_and_the_middle_counted() -> None:
    buf = OutputBuffer(10)
    for ch in b"abcdefghijklmnopqrstuvwxyz":
        buf.write(0, STDOUT, bytes([ch]))
    assert buf.text() == "abcde" + "vwxyz"
    assert buf.dropped == 26 - 10 and buf.total == 26


def test_one_huge_write_keeps_its_own_head_and_tail() -> None:
    buf = OutputBuffer(8)
    buf.write(0, STDOUT, b"0123456789" * 10)
    assert buf.text() == "0123" + "6789"
    assert buf.dropped == 92


def test_tail_keeps_stream_tags_across_evictions() -> None:
    buf = OutputBuffer(10)  # head 5 bytes, tail 5 bytes
    buf.write(0, STDOUT, b"HHH\n")
    buf.write(0, STDOUT, b"xxxxxx\n")
    buf.write(0, STDERR, b"E\n")
    buf.write(0, STDOUT, b"OK\n")
    assert buf.text(stream=STDERR) == "E\n"
    assert buf.text() == "HHH\nx" + "E\nOK\n"
    assert buf.dropped == 6


def test_zero_limit_keeps_nothing_but_counts_everything() -> None:
    buf = OutputBuffer(0)
    buf.write(0, STDOUT, b"abc")
    assert buf.text() == "" and buf.dropped == 3


def test_invalid_utf8_is_replaced() -> None:
    buf = OutputBuffer(100)
    buf.write(0, STDOUT, b"ok \xff\xfe")
    assert buf.text() == "ok \ufffd\ufffd"


def test_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        OutputBuffer(-1)


def test_lines_from_two_streams_never_split_each_other() -> None:
    buf = OutputBuffer(1000)
    buf.write(0, STDOUT, b"3")  # print(3) unbuffered: the text, then its newline
    buf.write(0, STDERR, b"Traceback (most recent call last):\n  File")
    buf.write(0, STDOUT, b"\n")
    buf.write(0, STDERR, b' "x.py"\n')
    # Each line is placed when it is complete: no line is cut by the other stream.
    assert buf.text() == 'Traceback (most recent call last):\n3\n  File "x.py"\n'
    assert buf.text(stream=STDOUT) == "3\n"
    assert buf.text(stream=STDERR) == 'Traceback (most recent call last):\n  File "x.py"\n'


def test_an_unfinished_last_line_is_kept_and_a_huge_line_is_not_held_back() -> None:
    buf = OutputBuffer(1 << 20)
    buf.write(0, STDOUT, b"no newline at the end")
    assert buf.text() == "no newline at the end"
    buf.write(1, STDOUT, b"y" * (100 * 1024))
    buf.write(1, STDERR, b"err\n")
    assert buf.text(block=1).startswith("y" * 1024)

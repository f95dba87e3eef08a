"""MIME types of workspace files: content first, then the name, the same answer on every machine."""

from __future__ import annotations

import pytest

from sandbox.mime import guess_mime_type

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


@pytest.mark.parametrize(
    ("name", "head", "expected"),
    [
        ("plots/figure_1.png", PNG, "image/png"),
        ("chart.dat", PNG, "image/png"),  # the bytes win over the name
        ("photo.txt", b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        ("anim", b"GIF89a\x01\x00", "image/gif"),
        ("x", b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        ("x", b"BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00", "image/bmp"),
        ("report", b"%PDF-1.7\n", "application/pdf"),
        ("dist.whl", b"PK\x03\x04", "application/zip"),
        ("data.png", b"PK\x03\x04", "application/zip"),  # a zip named .png is still a zip
        ("a.gz", b"\x1f\x8b\x08", "application/gzip"),
        ("arr", b"\x93NUMPY\x01\x00", "application/x-npy"),
        ("drawing.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
        ("noext", b"<?xml version='1.0'?>\n<svg/>", "image/svg+xml"),
        ("out.csv", b"a,b\n1,2\n", "text/csv"),
        ("result.json", b'{"a": 1}', "application/json"),
        ("main.py", b"print(1)\n", "text/x-python"),
        ("notes.md", b"# Title\n", "text/markdown"),
        ("README", b"BMI is a ratio\n", "text/plain"),  # starts like a BMP, is text
        ("README", "h\u00e9llo".encode()[:2], "text/plain"),  # a UTF-8 character cut by the sniff window
        ("blob", b"\x00\x01\x02\xff", "application/octet-stream"),
        ("empty", b"", "application/octet-stream"),
    ],
)
def test_guess_mime_type(name: str, head: bytes, expected: str) -> None:
    assert guess_mime_type(name, head) == expected

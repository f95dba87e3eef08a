"""The MIME type of a workspace file: its first bytes first, its name second.

The content decides when it can: code that writes a PNG to `chart.dat`, or a PDF to
`report`, still produces an image or a PDF, and a consumer that attaches images to a model's
context must not be fooled by a name into attaching text (or the reverse). The name decides
otherwise, through the standard library's built-in table only (not `/etc/mime.types`), so the
answer is the same on every machine.
"""

from __future__ import annotations

import mimetypes

__all__ = ["SNIFF_BYTES", "OCTET_STREAM", "guess_mime_type"]

SNIFF_BYTES = 512  # how much of a file `guess_mime_type` wants to see
OCTET_STREAM = "application/octet-stream"

# (offset, signature, type): the formats code commonly writes as artifacts.
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (0, b"\x00\x00\x01\x00", "image/vnd.microsoft.icon"),
    (0, b"%PDF-", "application/pdf"),
    (0, b"%!PS", "application/postscript"),
    (0, b"\x1f\x8b", "application/gzip"),
    (0, b"\xfd7zXZ\x00", "application/x-xz"),
    (0, b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (0, b"\x7fELF", "application/x-executable"),
    (0, b"SQLite format 3\x00", "application/vnd.sqlite3"),
    (0, b"\x93NUMPY", "application/x-npy"),
    (0, b"PAR1", "application/vnd.apache.parquet"),
)
# A zip is also a wheel, a .docx, a .xlsx, an .npz: the name says which, when it can.
_ZIP = b"PK\x03\x04"
_TABLE = mimetypes.MimeTypes()  # built-in types only: deterministic across machines
_EXTRA = {".whl": "application/zip", ".npy": "application/x-npy", ".parquet": "application/vnd.apache.parquet",
          ".md": "text/markdown", ".yaml": "application/yaml", ".yml": "application/yaml",
          ".toml": "application/toml", ".ipynb": "application/x-ipynb+json", ".webp": "image/webp"}


def _by_name(name: str) -> str | None:
    dot = name.rfind(".")
    if dot > name.rfind("/"):
        extra = _EXTRA.get(name[dot:].lower())
        if extra:
            return extra
    guessed, _ = _TABLE.guess_type(name, strict=False)
    return guessed


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3  # a multi-byte character cut by the sniff window
    return True


def guess_mime_type(name: str, head: bytes) -> str:
    """The MIME type of a file called `name` whose first bytes are `head` (up to SNIFF_BYTES).

    Magic bytes win (PNG, JPEG, GIF, WebP, BMP, TIFF, PDF, SVG, archives, ...); then the name's
    extension; then `text/plain` for UTF-8 without NUL bytes; else `application/octet-stream`.
    """
    for offset, signature, mime in _MAGIC:
        if head.startswith(signature, offset):
            return mime
    # Short signatures that text could start with also need a binary field to match.
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"BM") and head[6:10] == b"\x00\x00\x00\x00":  # reserved header bytes
        return "image/bmp"
    if head.startswith(b"BZh") and head[3:4] in (b"1", b"2", b"3", b"4", b"5", b"6", b"7", b"8", b"9") and head[4:10] == b"1AY&SY":
        return "application/x-bzip2"
    if head.startswith(_ZIP):
        named = _by_name(name)
        return named if named and named.startswith("application/") else "application/zip"
    named = _by_name(name)
    if named:
        return named
    stripped = head.lstrip()
    if stripped.startswith(b"<svg") or (stripped.startswith(b"<?xml") and b"<svg" in head):
        return "image/svg+xml"
    if head and _looks_like_text(head):
        return "text/plain"
    return OCTET_STREAM

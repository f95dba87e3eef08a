"""How `sandbox run-md` reports: one line per block as it finishes, and a JUnit XML file.

The console shows every block (`PASS`, `FAIL`, `ERROR`, `SKIP`, its `file:line`, language,
time and reason), the output of a failure right under its line, and a summary; `quiet` keeps
only failures and the summary. On a terminal, a `RUN` line also shows the block that is
running now; piped (a CI log), nothing is printed that a later line overwrites.

The JUnit file follows the schema CI servers read (Jenkins, GitLab, GitHub test reporters):
one `<testsuite>` per file, one `<testcase>` per block named `file:line`, `<failure>` for the
code's failures, `<error>` for the engine's, `<skipped>` with the reason, and the block's
stdout and stderr. It is written to a temporary file beside the target and renamed over it,
so a reader never sees half a report.
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

from .extract import FencedBlock
from .markdown_runner import BlockReport, FileReport, Status

__all__ = ["ConsoleProgress", "junit_xml", "summary", "write_junit"]

_LABELS = {Status.PASSED: "PASS", Status.FAILED: "FAIL", Status.SKIPPED: "SKIP", Status.ERROR: "ERROR"}
_DETAIL_LINES = 40  # lines of a failure's output shown on the console; the report has it all
# Characters XML 1.0 cannot carry, even escaped: control codes (an ANSI colour's ESC) and lone
# surrogates (undecodable bytes). Shown as \xNN instead of making the report unreadable.
_NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class ConsoleProgress:
    """Prints each block's outcome as it finishes (`started` and `finished` are the runner's hooks)."""

    def __init__(self, out: TextIO, *, quiet: bool = False, live: bool | None = None) -> None:
        self.out = out
        self.quiet = quiet
        self.live = out.isatty() if live is None else live
        self._pending = False  # a RUN line is on screen, waiting to be overwritten

    def started(self, file: str, fence: FencedBlock) -> None:
        if self.live:
            self.out.write(f"RUN   {file}:{fence.line}  {fence.tag or '-'} ...")
            self.out.flush()
            self._pending = True

    def finished(self, report: BlockReport) -> None:
        if self._pending:
            self.out.write("\r\x1b[K")  # back to the start of the line, and clear it
            self._pending = False
        failed = report.status in (Status.FAILED, Status.ERROR)
        if self.quiet and not failed:
            return
        timing = "" if report.status is Status.SKIPPED else f"  {report.duration_s:.2f}s"
        reason = f"  {report.message}" if report.message and not failed else ""
        self.out.write(f"{_LABELS[report.status]:<5} {report.name}  {report.language}{timing}{reason}\n")
        if failed:
            self.out.write(_indent(report.message))
            self.out.write(_indent(_tail(report.details), "      | "))
        self.out.flush()


def summary(reports: Sequence[FileReport]) -> str:
    """`3 passed, 1 failed, 2 skipped in 4.20s`, preceded by one line per failed block."""
    blocks = [b for f in reports for b in f.blocks]
    lines = [f"{b.status.value.upper()} {b.name} - {b.message.splitlines()[0] if b.message else ''}"
             for b in blocks if b.status in (Status.FAILED, Status.ERROR)]
    counts = ", ".join(
        f"{sum(1 for b in blocks if b.status is s)} {'errors' if s is Status.ERROR else s.value}" for s in Status
        if s is not Status.ERROR or any(b.status is s for b in blocks)
    )
    total = sum(f.duration_s for f in reports)
    lines.append(f"{counts} in {total:.2f}s ({len(blocks)} blocks in {len(reports)} file{'s' * (len(reports) != 1)})")
    return "\n".join(lines) + "\n"


def _tail(text: str) -> str:
    lines = text.rstrip("\n").splitlines()
    if len(lines) <= _DETAIL_LINES:
        return "\n".join(lines)
    return "\n".join([f"... {len(lines) - _DETAIL_LINES} lines above (the JUnit report has them all)"] + lines[-_DETAIL_LINES:])


def _indent(text: str, prefix: str = "      ") -> str:
    return "".join(f"{prefix}{line}\n" for line in text.splitlines())


# -- JUnit XML --------------------------------------------------------------------------------


def _clean(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _counts(blocks: Sequence[BlockReport], element: ET.Element, seconds: float) -> None:
    element.set("tests", str(len(blocks)))
    for status, attribute in ((Status.FAILED, "failures"), (Status.ERROR, "errors"), (Status.SKIPPED, "skipped")):
        element.set(attribute, str(sum(1 for b in blocks if b.status is status)))
    element.set("time", f"{seconds:.3f}")


def _testcase(suite: ET.Element, block: BlockReport) -> None:
    case = ET.SubElement(suite, "testcase", name=block.name, classname=block.file, file=block.file,
                         line=str(block.line), time=f"{block.duration_s:.3f}")
    if block.status is Status.SKIPPED:
        ET.SubElement(case, "skipped", message=_clean(block.message))
    elif block.status in (Status.FAILED, Status.ERROR):
        tag = "failure" if block.status is Status.FAILED else "error"
        verdict = ET.SubElement(case, tag, message=_clean(block.message), type=block.kind)
        verdict.text = _clean(f"{block.message}\n\n{block.details}".rstrip() + "\n")
    if block.result is not None:
        ET.SubElement(case, "system-out").text = _clean(block.result.stdout)
        ET.SubElement(case, "system-err").text = _clean(block.result.stderr)


def junit_xml(reports: Sequence[FileReport]) -> bytes:
    """The JUnit XML document for a run, as UTF-8 bytes with an XML declaration."""
    root = ET.Element("testsuites", name="sandbox run-md")
    _counts([b for f in reports for b in f.blocks], root, sum(f.duration_s for f in reports))
    hostname = socket.gethostname()
    for report in reports:
        suite = ET.SubElement(root, "testsuite", name=report.file, hostname=hostname,
                              timestamp=datetime.fromtimestamp(report.started_at, timezone.utc).isoformat(timespec="seconds"))
        _counts(report.blocks, suite, report.duration_s)
        for block in report.blocks:
            _testcase(suite, block)
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def write_junit(path: str | os.PathLike[str], reports: Sequence[FileReport]) -> None:
    """Write the report atomically: a temporary file in the same directory, renamed over `path`.

    Missing parent directories are created, as pytest's `--junitxml` does.
    """
    target = Path(path)
    data = junit_xml(reports)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file 0600; a report is for everyone who can read the directory.
        os.chmod(temp, target.stat().st_mode & 0o777 if target.exists() else 0o644)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise

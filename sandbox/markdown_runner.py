"""`sandbox run-md`: run the fenced blocks of Markdown documents as tests, for CI.

Each file gets one executor, so one workspace: blocks run in document order, each as its own
`execute()` call (its own process, `--timeout` seconds), and a file one block writes is there
for the next. Variables do not carry over from block to block; files do.

Which blocks run, the annotations that skip a block or give its expected output, and how that
output is compared are in `CLI_HELP`, the text `sandbox run-md --help` prints, so that the
user's documentation and this module cannot disagree. Annotations are HTML comments or info
string words, invisible when the document is rendered; one that is misspelt or not right
before a fence is a usage error, never silently ignored.
"""

from __future__ import annotations

import difflib
import enum
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .errors import SandboxError
from .extract import FencedBlock, fenced_blocks
from .languages import resolve_language, supported_languages
from .models import ExecutionResult, Outcome
from .protocol import CodeExecutor

__all__ = [
    "CLI_HELP",
    "BlockReport",
    "FileReport",
    "MarkdownRunner",
    "MarkdownUsageError",
    "Status",
    "Step",
    "load_markdown",
    "output_matches",
    "plan",
    "run_files",
]

CLI_HELP = """\
Runs every fenced block of each file in the sandbox, in order. One workspace per file:
each block is its own process, and a file one block writes is there for the next.

What runs: fences tagged python, bash or sh (and py, shell, console, pycon, ...).
Skipped, with the reason reported: untagged fences, text formats (json, yaml,
text, ...; a named one, e.g. ```json filename=cfg.json, is saved to the workspace),
unknown languages, and blocks marked to skip:

  ```python skip                   a skip word in the info string
  <!-- sandbox: skip: reason -->   on the line(s) right before the fence

Expected output, checked against the block's stdout:

  ```output                        the fence right after a block that runs
  <!-- sandbox: expect -->         before a fence of any tag: the same

  Line endings, trailing spaces and trailing blank lines are ignored. As in
  doctest's ELLIPSIS, ... matches any text within a line, and a line holding
  only ... matches any number of lines.

Progress: one line per block (PASS, FAIL, ERROR, SKIP, file:line, language,
time), failures with their output, then a summary; -q keeps failures and the
summary. On a terminal a RUN line shows the block that is running.

Exit status:
  0    every block passed or was skipped
  1    a block failed: non-zero exit, timeout, OOM, refused, or unexpected stdout
  2    usage: a file is missing, not Markdown (.md, .markdown), not UTF-8, or has
       an unknown or misplaced <!-- sandbox: ... --> annotation (nothing ran); or
       the --junit report cannot be written
  125  the engine failed (no Docker engine, image missing): verdicts unknown
  130  interrupted
"""

MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdown", ".mkd", ".mkdn", ".mdx")
_EXPECT_TAG = "output"
_VERBS = ("skip", "expect")
_ANNOTATION = re.compile(r"<!--\s*sandbox\s*:", re.IGNORECASE)
_DIRECTIVE = re.compile(r"^\s*sandbox\s*:\s*(?P<verb>[\w-]*)(?P<rest>.*)$", re.IGNORECASE | re.DOTALL)


class MarkdownUsageError(Exception):
    """A file cannot be run as a document: missing, not Markdown, or badly annotated."""


class Status(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"  # the code failed: non-zero exit, timeout, OOM, refused, or stdout differs
    SKIPPED = "skipped"
    ERROR = "error"  # the engine failed (a SandboxError): the block's verdict is unknown


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockReport:
    """What happened to one fenced block; `name` (`file:line`) is its test name."""

    file: str
    line: int
    language: str  # the fence's tag, or "-" when untagged
    status: Status
    message: str = ""  # why it failed or was skipped, or what happened to a saved block
    details: str = ""  # for a failure: the diff against the expected output, or the output
    kind: str = ""  # the failure's kind: an `Outcome` value, "output-mismatch" or the error class
    duration_s: float = 0.0
    result: ExecutionResult | None = None

    @property
    def name(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True, kw_only=True)
class FileReport:
    """The blocks of one document, in order, and when and how long it ran."""

    file: str
    blocks: tuple[BlockReport, ...]
    started_at: float  # seconds since the epoch
    duration_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One fence to report on: run it (`skip` is None) or say why not; compare its stdout with
    `expected` (the fence holding the expected output) when there is one."""

    fence: FencedBlock
    skip: str | None
    expected: FencedBlock | None = None


def load_markdown(path: str) -> str:
    """The text of a Markdown file, or `MarkdownUsageError` with a message that names the fix."""
    file = Path(path)
    if file.is_dir():
        raise MarkdownUsageError(f"{path} is a directory; pass the Markdown files in it (e.g. {path}/*.md)")
    if file.suffix.lower() not in MARKDOWN_SUFFIXES:
        raise MarkdownUsageError(
            f"{path} is not a Markdown file (expected {', '.join(MARKDOWN_SUFFIXES[:2])}); "
            f"to run a script, use: sandbox run {path}"
        )
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MarkdownUsageError(f"{path} does not exist (relative to {Path.cwd()}); check the path") from None
    except UnicodeDecodeError as exc:
        raise MarkdownUsageError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise MarkdownUsageError(f"cannot read {path}: {exc.strerror}") from None


# -- annotations and the plan ----------------------------------------------------------------


def _directives(file: str, fence: FencedBlock) -> dict[str, str]:
    """`<!-- sandbox: verb rest -->` comments that end the prose before a fence: verb -> rest."""
    found: dict[str, str] = {}
    rest = fence.before.rstrip()
    while rest.endswith("-->") and (start := rest.rfind("<!--")) >= 0:
        m = _DIRECTIVE.match(rest[start + 4 : -3])
        if m:
            verb = m.group("verb").lower()
            if verb not in _VERBS:
                raise MarkdownUsageError(
                    f"{file}:{fence.line}: unknown annotation <!-- sandbox: {verb} -->; "
                    f"the known ones are {' and '.join(_VERBS)}"
                )
            reason = m.group("rest").strip().lstrip(":-\u2013\u2014").strip()
            if reason.startswith("(") and reason.endswith(")"):  # <!-- sandbox: skip (why) -->
                reason = reason[1:-1].strip()
            found[verb] = reason
        rest = rest[:start].rstrip()
    if len(_ANNOTATION.findall(fence.before)) > len(found):  # a typo must not pass silently
        raise MarkdownUsageError(
            f"{file}:{fence.line}: a <!-- sandbox: ... --> annotation before this block is not right "
            "before its fence, so it applies to nothing; move it to the line before the fence"
        )
    return found


def _info_words(info: str) -> list[str]:
    """The info string's words after the language; Pandoc's `{.python .skip}` unwrapped."""
    return [w.lstrip(".") for w in re.split(r"[\s{},]+", info) if w][1:]


def _skip_reason(fence: FencedBlock, directives: dict[str, str]) -> str | None:
    """Why this block is not run, or None when it runs (or, for a named text file, is saved)."""
    if "skip" in directives:
        return directives["skip"] or "marked <!-- sandbox: skip -->"
    if "skip" in _info_words(fence.info):
        return "marked skip in the info string"
    if fence.tag is None:
        return "untagged; tag the fence (```python, ```sh, ...) to run it"
    language = resolve_language(fence.tag)
    if language is None:
        return f"{fence.tag} is not a language the sandbox runs ({', '.join(supported_languages())})"
    if fence.block is None:
        return "empty block"
    if language.runner is None and fence.block.filename is None:
        return f"{language.name} is not run (a text format)"
    return None


def plan(file: str, text: str) -> list[Step]:
    """The steps of a document: one per fence, except expected outputs, which join their block.

    Raises `MarkdownUsageError` for an unknown or misplaced annotation.
    """
    steps: list[Step] = []
    previous: FencedBlock | None = None
    for fence in fenced_blocks(text):
        directives = _directives(file, fence)
        if fence.tag == _EXPECT_TAG or "expect" in directives:
            owner = steps[-1] if steps and steps[-1].fence is previous else None
            if owner is not None and owner.expected is None:
                steps[-1] = replace(owner, expected=fence)
            else:
                steps.append(Step(fence=fence, skip="expected output with no block right before it to check"))
        else:
            steps.append(Step(fence=fence, skip=_skip_reason(fence, directives)))
        previous = fence
    return steps


# -- expected output ---------------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in re.split(r"\r\n|\r|\n", text)]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def output_matches(expected: str, actual: str) -> bool:
    """Whether `actual` matches `expected`: normalised, with `...` as a wildcard (see `CLI_HELP`)."""
    parts = []
    for line in _lines(expected):
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(r"[^\n]*".join(re.escape(piece) for piece in line.split("...")) + r"\n")
    return re.fullmatch("".join(parts), "".join(line + "\n" for line in _lines(actual))) is not None


def _diff(expected: str, actual: str, where: str) -> str:
    return "\n".join(
        difflib.unified_diff(_lines(expected), _lines(actual), f"expected ({where})", "stdout", lineterm="")
    )


# -- running -------------------------------------------------------------------------------------


class MarkdownRunner:
    """Runs documents one after another; `make_executor` is called once per file that has
    something to run, and the executor is closed when the file is done.

    `on_start(file, fence)` and `on_done(report)` let a caller show progress. With
    `exitfirst`, the first failure or engine error stops the run: later blocks, in this file
    and the next ones, are reported as skipped.
    """

    def __init__(
        self,
        make_executor: Callable[[], CodeExecutor],
        *,
        exitfirst: bool = False,
        on_start: Callable[[str, FencedBlock], None] | None = None,
        on_done: Callable[[BlockReport], None] | None = None,
    ) -> None:
        self._make_executor = make_executor
        self._exitfirst = exitfirst
        self._on_start = on_start or (lambda file, fence: None)
        self._on_done = on_done or (lambda report: None)
        self._halted: str | None = None  # why the remaining blocks are not run

    def run(self, file: str, text: str) -> FileReport:
        """Run one document (already loaded; `file` is the name its reports carry)."""
        steps = plan(file, text)
        started_at, started = time.time(), time.monotonic()
        reports: list[BlockReport] = []
        engine_failed: str | None = None  # stops this file only: the next one gets a new executor
        executor: CodeExecutor | None = None
        try:
            for step in steps:
                fence = step.fence
                reason = step.skip or self._halted or engine_failed
                if reason is not None:
                    report = _report(file, fence, Status.SKIPPED, message=reason)
                else:
                    self._on_start(file, fence)
                    began = time.monotonic()
                    try:
                        if executor is None:
                            executor = self._make_executor()
                        assert fence.block is not None  # blank blocks are skipped
                        result = executor.execute([fence.block])
                    except SandboxError as exc:
                        report = _report(
                            file, fence, Status.ERROR, message=str(exc), kind=type(exc).__name__,
                            duration_s=time.monotonic() - began,
                        )
                        engine_failed = f"not run: the engine failed at {report.name}"
                    else:
                        report = _judge(file, step, result, time.monotonic() - began)
                    if report.status is not Status.PASSED and self._exitfirst:
                        self._halted = f"not run: stopped at the first failure, {report.name} (--exitfirst)"
                reports.append(report)
                self._on_done(report)
        finally:
            if executor is not None:
                executor.close()
        return FileReport(file=file, blocks=tuple(reports), started_at=started_at, duration_s=time.monotonic() - started)


def _report(file: str, fence: FencedBlock, status: Status, **details: Any) -> BlockReport:
    return BlockReport(file=file, line=fence.line, language=fence.tag or "-", status=status, **details)


def _judge(file: str, step: Step, result: ExecutionResult, duration: float) -> BlockReport:
    """Pass or fail one block from its result and its expected output."""
    fence, expected = step.fence, step.expected
    if result.outcome is not Outcome.SUCCESS:
        return _report(
            file, fence, Status.FAILED, message=result.message or f"exit code {result.exit_code}",
            details=result.output, kind=result.outcome.value, duration_s=duration, result=result,
        )
    if expected is not None and not output_matches(expected.code, result.stdout):
        where = f"{file}:{expected.line}"
        return _report(
            file, fence, Status.FAILED, message=f"stdout differs from the expected output at {where}",
            details=_diff(expected.code, result.stdout, where), kind="output-mismatch", duration_s=duration,
            result=result,
        )
    saved = result.blocks[0].message if result.blocks and result.blocks[0].exit_code is None else ""
    return _report(file, fence, Status.PASSED, message=saved, duration_s=duration, result=result)


def run_files(paths: Sequence[str], runner: MarkdownRunner) -> list[FileReport]:
    """Check every file first, so that a bad path or annotation fails before anything runs
    (one `MarkdownUsageError` naming every problem, one per line), then run them in order."""
    texts: list[tuple[str, str]] = []
    problems: list[str] = []
    for path in paths:
        try:
            text = load_markdown(path)
            plan(path, text)
            texts.append((path, text))
        except MarkdownUsageError as exc:
            problems.append(str(exc))
    if problems:
        raise MarkdownUsageError("\n".join(problems))
    return [runner.run(path, text) for path, text in texts]

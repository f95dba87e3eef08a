"""What the proxy says after running code: AutoGen's wording, plus plain words for the rest.

Prompts written for AutoGen look for `exitcode: 0 (execution succeeded)` and read what
follows `Code output:`, so both stay exactly as AutoGen writes them. What AutoGen left out is
added as short lines after the output, where a model reads it last: a timeout, a kill for
memory, a block the engine refused, output the engine cut. (AutoGen's peers said only
"Timeout", or reported a traceback under `exitcode: 0`.)

The output is cut to a budget, first and last parts kept, so one flood cannot overflow the
model's context: a 10 MB print becomes a few thousand characters and a note saying so.

Files the run wrote (a plot saved as `plots/figure_1.png`, a CSV) are named on a line of their
own with their MIME type and size, so the model knows its artifacts exist without printing
them; the files a block was saved to (`# filename: x.py`) are left out, the model named them.
"""

from __future__ import annotations

from sandbox import ExecutionResult, FileChange, Outcome

__all__ = ["DEFAULT_OUTPUT_BUDGET", "clip", "execution_reply"]

DEFAULT_OUTPUT_BUDGET = 16_000  # characters of code output per reply (about 4k tokens)
_UNKNOWN_EXIT = 1  # AutoGen's exit code for a block that never ran (unknown language)
_FILES_LISTED = 20  # files named in one reply; the rest are counted


def clip(text: str, budget: int) -> tuple[str, int]:
    """`text` cut to `budget` characters, head and tail kept; returns it and the count cut."""
    if len(text) <= budget:
        return text, 0
    marker_room = 80
    keep = max(budget - marker_room, 0)
    head, tail = keep - keep // 2, keep // 2
    cut = len(text) - head - tail
    marker = f"\n[... {cut:,} characters cut here ...]\n"
    return text[:head] + marker + (text[-tail:] if tail else ""), cut


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."


def _notes(result: ExecutionResult, cut: int, budget: int) -> list[str]:
    notes: list[str] = []
    message = result.message.strip()
    if result.outcome is Outcome.TIMEOUT:  # AutoGen's word, "Timeout", then what happened
        notes.append("Timeout: " + _sentence(message or "the run took longer than its time limit and was stopped"))
    elif result.outcome is Outcome.OOM:
        notes.append("Out of memory: " + _sentence(message or "the run exceeded its memory limit and was killed"))
    elif result.outcome is Outcome.CANCELLED:
        notes.append("Cancelled: " + _sentence(message or "the run was stopped before it finished"))
    elif result.outcome is Outcome.REJECTED:
        notes.append("Not run: " + _sentence(message or "the engine refused to run this block"))
    elif message and result.outcome is Outcome.ERROR:
        notes.append(_sentence(message))
    if result.truncated:
        notes.append(
            f"Output truncated: the run wrote {result.truncated_bytes:,} more bytes than the runner "
            "keeps; the middle was dropped and the beginning and end are shown."
        )
    if cut:
        notes.append(
            f"Output shortened: {cut:,} characters from the middle were left out to keep the "
            f"output under {budget:,} characters; print less (a summary, or the lines you need)."
        )
    return notes


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes" if n != 1 else "1 byte"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / 1024 / 1024:.1f} MiB"


def _files_line(result: ExecutionResult) -> str:
    """`Files written: plots/figure_1.png (new, image/png, 21.3 KiB), ...` or "" when none."""
    saved_code = {b.filename for b in result.blocks if b.filename}
    files: list[FileChange] = [f for f in result.files if f.path not in saved_code]
    if not files:
        return ""
    named = [f"{f.path} ({'new' if f.created else 'changed'}, {f.mime_type}, {_size(f.size)})" for f in files[:_FILES_LISTED]]
    more = len(files) - _FILES_LISTED
    return "Files written: " + ", ".join(named) + (f", and {more} more" if more > 0 else "") + "."


def execution_reply(result: ExecutionResult, *, budget: int = DEFAULT_OUTPUT_BUDGET) -> str:
    """The message the proxy sends back for one run, in AutoGen's format.

        exitcode: 1 (execution failed)
        Code output: Traceback (most recent call last): ...
    """
    exit_code = result.exit_code if result.exit_code is not None else _UNKNOWN_EXIT
    if result.outcome is not Outcome.SUCCESS and exit_code == 0:
        exit_code = _UNKNOWN_EXIT  # e.g. a second block was refused after a first one ran
    verdict = "execution succeeded" if result.ok else "execution failed"
    output, cut = clip(result.output, budget)
    reply = f"exitcode: {exit_code} ({verdict})\nCode output: {output}"
    notes = _notes(result, cut, budget)
    files = _files_line(result)
    if files:
        notes.insert(0, files)
    if notes:
        reply = reply.rstrip("\n") + "\n" + "\n".join(notes)
    return reply

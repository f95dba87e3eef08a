"""The printed transcript, in the layout the tutorials show (AutoGen 0.2's console output).

    user_proxy (to python_engineer):

    Write a Python function ...

    --------------------------------------------------------------------------------

    >>>>>>>> EXECUTING CODE BLOCK (inferred language is python)...

Lines go to `sys.stdout` as it is at print time (so redirecting or capturing it works);
a silent transcript prints nothing at all, the execution notices included (AutoGen printed
those even with `silent=True`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from sandbox import CodeBlock

__all__ = ["RULE", "Transcript", "block_language"]

RULE = "-" * 80


def block_language(block: CodeBlock) -> str:
    """The language a block is reported under: its tag, else a guess, else "unknown"."""
    if block.language:
        return block.language
    from sandbox import infer_language

    return infer_language(block.code) or "unknown"


class Transcript:
    """Prints one chat; `silent=True` makes every method a no-op."""

    def __init__(self, *, silent: bool = False, stream: TextIO | None = None) -> None:
        self.silent = silent
        self._stream = stream

    def _print(self, *parts: str) -> None:
        if self.silent:
            return
        stream = self._stream or sys.stdout
        print(*parts, file=stream, flush=True)

    def message(self, sender: str, recipient: str, content: str) -> None:
        self._print(f"{sender} (to {recipient}):\n")
        self._print(content)
        self._print(f"\n{RULE}")

    def executing(self, blocks: Sequence[CodeBlock]) -> None:
        languages = [block_language(b) for b in blocks]
        if len(blocks) == 1:
            self._print(f"\n>>>>>>>> EXECUTING CODE BLOCK (inferred language is {languages[0]})...")
            return
        for number, language in enumerate(languages, start=1):
            self._print(f"\n>>>>>>>> EXECUTING CODE BLOCK {number} (inferred language is {language})...")

    def notice(self, text: str) -> None:
        self._print(f"\n{text}")

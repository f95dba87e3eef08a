"""One table of languages: which tags mean what, which run and how, which are only saved.

Every other module asks this one; no executor keeps its own list of aliases. Runners name
their interpreter by role (`python`, `bash`, `sh`) and each executor maps that role to a
binary: the local runner uses the caller's own Python, a container uses the image's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "ALIASES",
    "Language",
    "canonical_language",
    "prepare_source",
    "resolve_language",
    "supported_languages",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Language:
    """A canonical language: `runner` is None for save-only languages (written, not run)."""

    name: str
    extension: str
    runner: str | None  # "python", "bash" or "sh": the interpreter role that runs the file


_RUNNABLE = {
    "python": Language(name="python", extension=".py", runner="python"),
    "bash": Language(name="bash", extension=".sh", runner="bash"),
    "sh": Language(name="sh", extension=".sh", runner="sh"),
}

_SAVE_ONLY = {
    name: Language(name=name, extension=ext, runner=None)
    for name, ext in {
        "text": ".txt",
        "markdown": ".md",
        "html": ".html",
        "css": ".css",
        "json": ".json",
        "yaml": ".yaml",
        "toml": ".toml",
        "xml": ".xml",
        "csv": ".csv",
        "svg": ".svg",
        "ini": ".ini",
        "diff": ".diff",
    }.items()
}

_LANGUAGES: dict[str, Language] = {**_RUNNABLE, **_SAVE_ONLY}

# Tags as people and models write them -> canonical name. Keys are lower case.
ALIASES: dict[str, str] = {
    "python": "python",
    "py": "python",
    "python3": "python",
    "py3": "python",
    "ipython": "python",
    "pycon": "python",
    "bash": "bash",
    "shell": "bash",
    "zsh": "bash",
    "console": "bash",
    "shell-session": "bash",
    "shellsession": "bash",
    "terminal": "bash",
    "sh": "sh",
    "text": "text",
    "txt": "text",
    "plaintext": "text",
    "plain": "text",
    "output": "text",
    "markdown": "markdown",
    "md": "markdown",
    "html": "html",
    "htm": "html",
    "css": "css",
    "json": "json",
    "jsonc": "json",
    "yaml": "yaml",
    "yml": "yaml",
    "toml": "toml",
    "xml": "xml",
    "csv": "csv",
    "svg": "svg",
    "ini": "ini",
    "cfg": "ini",
    "diff": "diff",
    "patch": "diff",
}

# Tags whose blocks are transcripts: prompt lines are commands, other lines are output.
_TRANSCRIPT_TAGS = frozenset({"console", "shell-session", "shellsession", "terminal"})
# `$ cmd`, `user@host:~/dir$ cmd`, `(venv) $ cmd`, `% cmd`. Not `#`: that is a comment.
_SHELL_PROMPT = re.compile(r"^\s*(?:\(\S+\)\s*)?(?:[\w.@~:/-]*\$|%)\s(.*)$")
_PY_PROMPT = re.compile(r"^(>>>|\.\.\.)(?: (.*))?$")


def canonical_language(tag: str | None) -> str | None:
    """The canonical name for a tag (`py` -> `python`), the lower-cased tag if unknown, None if empty."""
    if not tag or not tag.strip():
        return None
    key = tag.strip().lower()
    return ALIASES.get(key, key)


def resolve_language(tag: str | None) -> Language | None:
    """The `Language` for a tag, or None when the engine does not know it."""
    name = canonical_language(tag)
    return _LANGUAGES.get(name) if name else None


def supported_languages() -> list[str]:
    """Canonical names of the languages that run (not just save)."""
    return sorted(_RUNNABLE)


def prepare_source(tag: str | None, code: str) -> str:
    """The source to run for a block: transcripts lose their prompts and their output lines.

    A `console` block holding ``$ pip install x`` and then pip's output runs only
    ``pip install x``; a `pycon` block runs its ``>>>`` lines. A shell block is treated as a
    transcript only when every non-blank line carries a prompt, so ordinary scripts that
    merely mention ``$`` are left alone.
    """
    name = canonical_language(tag)
    lines = code.splitlines()
    if name == "python":
        if any(line.startswith(">>>") for line in lines):
            kept = [m.group(2) or "" for line in lines if (m := _PY_PROMPT.match(line))]
            return "\n".join(kept) + "\n"
        return code
    if name in ("bash", "sh"):
        matches = [_SHELL_PROMPT.match(line) for line in lines]
        commands = [m.group(1) for m in matches if m]
        transcript = (tag or "").strip().lower() in _TRANSCRIPT_TAGS
        every_line = all(m or not line.strip() for m, line in zip(matches, lines))
        if commands and (transcript or every_line):
            return "\n".join(commands) + "\n"
    return code

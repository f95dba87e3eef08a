"""Guess the language of an untagged code block, or admit that it is not code.

The rules run in a fixed order and the first that answers wins. Order matters more than any
single rule: `ls -la` parses as Python (`ls - la`) and `name: test` parses as a Python
annotation, so the shell and YAML shapes are judged by what they look like before Python is
allowed to claim them through `ast.parse`. Names come from `sandbox.languages`, so a guess is
always a name the executors already know (or, for a shebang such as `node`, the plain name).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable

from .languages import canonical_language

__all__ = ["infer_language"]

# Interpreters whose names differ from the canonical language they run.
_INTERPRETERS = {
    "pypy": "python",
    "dash": "sh",
    "ash": "sh",
    "node": "javascript",
    "nodejs": "javascript",
    "deno": "javascript",
    "bun": "javascript",
}

# `$ cmd` and `user@host:~/dir$ cmd`. Not `#` (a comment) and not `%` (LaTeX, Matlab comments).
_SHELL_PROMPT = re.compile(r"^\s*(?:\(\S+\)\s*)?(?:[\w.-]+@[\w.-]+:?[\w~/.-]*)?\$\s+\S")
_PY_PROMPT = re.compile(r"^>>> \S")

# Commands that start a shell line. Words that are also common Python names (`set`, `test`,
# `type`, `time`, `open`, `import`) are left out on purpose.
_COMMANDS = frozenset("""
    ls cd pwd pip pip3 pipx apt apt-get apk yum dnf brew echo printf cat head tail less mkdir
    rmdir rm cp mv ln touch make cmake git curl wget export source conda mamba uv poetry npm npx
    yarn pnpm node docker docker-compose kubectl chmod chown grep egrep rg find sed awk tar zip
    unzip gzip gunzip sudo ssh scp rsync python python3 bash sh zsh which whoami env unset alias
    kill ps top df du uname systemctl service nohup xargs sort uniq wc tee diff go cargo rustc
    gcc g++ clang java javac mvn gradle ruby gem perl php composer pytest jupyter
""".split())
# After the command word: the end of the line, or an argument that is not Python's `=`, `(`,
# an augmented assignment or an operator keyword (`cat = 1`, `echo(x)` and `ls in d` are Python).
_COMMAND_LINE = re.compile(
    r"^(?P<cmd>[\w.+-]+)(?:\s*$|\s+(?!=|\(|[-+*/%&|^@<>]=|(?:in|is|and|or|not|if|else)\b))"
)
_ENV_PREFIX = re.compile(r"^[A-Z_][A-Z0-9_]*=\S*\s+\S")  # `DEBUG=1 make test`

_HTML_START = re.compile(r"^<(?:!doctype\s+html|html)\b", re.IGNORECASE)
_CLOSING_TAG = re.compile(r"</[a-zA-Z][\w-]*\s*>|/>")

# `key: value`, `key:`, `- key: value`; a key is a plain word or quoted (`Step 1:` is prose).
_YAML_KEY = re.compile(
    r"""^(?P<indent>\s*)(?:- +)?(?:[A-Za-z_][\w.-]*|"[^"]*"|'[^']*')\s*:(?:\s+(?P<value>.*))?$"""
)
_YAML_ITEM = re.compile(r"^\s*-(?:\s+.*)?$")
_YAML_BLOCK_SCALAR = re.compile(r"^[|>][-+]?\d?\s*(?:#.*)?$")  # `run: |` starts literal text

# Lines that only Python writes, used when the code does not parse: a traceback is more
# useful to the model than a refusal to run its half-finished code.
_PYTHON_LINES = (
    re.compile(r"^\s*(?:async\s+)?def\s+\w+\s*\("),
    re.compile(r"^\s*class\s+\w+\s*[(:]"),
    re.compile(r"^\s*import\s+[\w.]+(?:\s+as\s+\w+)?(?:\s*,\s*[\w.]+(?:\s+as\s+\w+)?)*\s*$"),
    re.compile(r"^\s*from\s+[\w.]+\s+import\s+[\w*(), ]+$"),
    re.compile(r"^\s*print\("),
)

# AST nodes that prose never produces by accident. Bare annotations (`name: test`) are missing
# on purpose: they are how YAML parses as Python.
_PYTHON_NODES = (
    ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom, ast.For,
    ast.AsyncFor, ast.While, ast.If, ast.With, ast.AsyncWith, ast.Try, ast.Assign, ast.AugAssign,
    ast.NamedExpr, ast.Call, ast.Lambda, ast.Return, ast.Raise, ast.Assert, ast.Match,
    ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
)


def _code_lines(code: str) -> list[str]:
    """Non-blank lines that are not `#` comments (shell, Python and YAML share that syntax)."""
    return [ln for ln in code.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def _shebang(code: str) -> str | None:
    """`#!/usr/bin/env python3` -> python, `#!/bin/bash -e` -> bash, `#!/bin/sh` -> sh."""
    first = code.lstrip("\ufeff").split("\n", 1)[0].strip()
    if not first.startswith("#!"):
        return None
    words = first[2:].split()
    if words and words[0].rsplit("/", 1)[-1] == "env":  # the interpreter is env's argument
        words = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
    if not words:
        return None
    name = re.sub(r"[\d.]+$", "", words[0].rsplit("/", 1)[-1].lower())  # python3.11 -> python
    return canonical_language(_INTERPRETERS.get(name, name))


def _prompt(code: str) -> str | None:
    """A transcript: the first line carries a shell prompt (bash) or a `>>>` prompt (python)."""
    lines = [ln for ln in code.splitlines() if ln.strip()]
    if not lines:
        return None
    if _SHELL_PROMPT.match(lines[0]):
        return "bash"
    return "python" if _PY_PROMPT.match(lines[0]) else None


def _json(code: str) -> str | None:
    """An object or an array; a bare `42` or `"word"` is valid JSON but says nothing."""
    try:
        value = json.loads(code)
    except ValueError:
        return None
    return "json" if isinstance(value, (dict, list)) else None


def _html(code: str) -> str | None:
    """A document start, or text that begins and ends with a tag and closes at least one."""
    text = code.strip()
    if text.startswith("<?xml"):
        return "xml"
    if _HTML_START.match(text):
        return "html"
    if re.match(r"<svg\b", text):
        return "svg"
    tagged = re.match(r"<[a-zA-Z]", text) is not None and text.endswith(">")
    return "html" if tagged and _CLOSING_TAG.search(text) else None


def _shell_command(code: str) -> str | None:
    """The first line of code starts with a well-known command (`pip install x`, `cd d && make`)."""
    lines = _code_lines(code)
    if not lines:
        return None
    first = lines[0].strip()
    if first.startswith(("./", "~/")) or _ENV_PREFIX.match(first):
        return "bash"
    m = _COMMAND_LINE.match(first)
    return "bash" if m and m.group("cmd") in _COMMANDS else None


def _has_python_signal(tree: ast.AST) -> bool:
    """Walk the tree, skipping the annotation of a bare `x: y` (YAML's shape, not a signal)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.AnnAssign) and node.value is None:
            continue
        if isinstance(node, (*_PYTHON_NODES, ast.AnnAssign)):
            return True
        stack.extend(ast.iter_child_nodes(node))
    return False


def _python(code: str) -> str | None:
    """Parses, and does something prose cannot (`Hello` and `a or b` parse too)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):  # ValueError: a NUL byte in the source
        return None
    return "python" if _has_python_signal(tree) else None


def _yaml(code: str) -> str | None:
    """At least two lines, every one `key: value`, `- item` or text under a `key: |` scalar."""
    lines = _code_lines(code)
    if len(lines) < 2:  # one `Note: read this` line is prose far more often than a config
        return None
    keys = 0
    scalar_indent: int | None = None  # inside `key: |`, lines indented deeper are plain text
    for line in lines:
        indent = len(line) - len(line.lstrip())
        if scalar_indent is not None and indent > scalar_indent:
            continue
        scalar_indent = None
        if line.strip() in ("---", "..."):
            continue
        m = _YAML_KEY.match(line)
        if m:
            keys += 1
            if _YAML_BLOCK_SCALAR.match(m.group("value") or ""):
                scalar_indent = len(m.group("indent"))
        elif not _YAML_ITEM.match(line):
            return None
    return "yaml" if keys else None  # a bare `- a` list is a Markdown list as often as YAML


def _broken_python(code: str) -> str | None:
    """Code that does not parse but has a line only Python writes (`def f(:`, `import os`)."""
    lines = _code_lines(code)
    return "python" if any(p.match(ln) for ln in lines for p in _PYTHON_LINES) else None


_RULES: tuple[Callable[[str], str | None], ...] = (
    _shebang, _prompt, _json, _html, _shell_command, _python, _yaml, _broken_python,
)


def infer_language(code: str) -> str | None:
    """The canonical language of `code` (`python`, `bash`, `sh`, `json`, `yaml`, `html`, ...).

    Returns None for empty text, prose, and code no rule recognises; the caller decides what
    an unknown block means. Rules, first match wins: shebang, prompt, JSON, HTML, shell
    command, parsing Python, YAML, Python with a syntax error.
    """
    if not code.strip():
        return None
    for rule in _RULES:
        found = rule(code)
        if found:
            return found
    return None

"""Find the fenced code blocks in a model's reply.

The parser follows CommonMark's fenced code blocks (spec 0.31, section 4.5) for the document
top level, line by line, instead of the one regex AutoGen uses:

* a fence is a run of 3 or more backticks or tildes, indented by at most 3 spaces; a backtick
  fence's info string may not contain a backtick (that line is inline code, not a fence);
* the block closes at a fence of the same character, at least as long as the opener, indented
  by at most 3 spaces and followed only by spaces or tabs; so a fence of four backticks
  holds fences of three as content, and a line of tildes never closes a backtick block;
* content lines lose up to as many leading spaces as the opening fence was indented;
* an unclosed fence runs to the end of the text;
* every line ends with a newline in the content, whatever ending (CRLF, CR, LF) it had.

Not followed: containers (block quotes, list items) are not parsed, tabs are not expanded to
tab stops (a tab before a fence means 4 columns, so it is not a fence, which agrees), and the
info string's backslash escapes and entities are not decoded.

On top of CommonMark, what code runners need: the info string's first word is the language
(lower-cased, otherwise kept as written: `c++`, `shell-session`), `title=`, `filename=` or
`file=` in the info string names the file, and so does a `filename: x.py` comment on the first
line (the comment stays in the code, as in AutoGen). Untagged blocks get a guessed language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .inference import infer_language
from .models import CodeBlock

__all__ = ["FencedBlock", "extract_code_blocks", "fenced_blocks"]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_OPENER = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_CLOSER = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})[ \t]*$")

# `title="x.py"`, `filename='x.py'`, `file=x.py`; in Markdown info strings and Pandoc braces.
_ATTRIBUTE = re.compile(
    r"""(?:^|[\s{,])(?P<key>title|filename|file)\s*=\s*"""
    r"""(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\s"'{},]+))""",
    re.IGNORECASE,
)

# A first line that names the file, in the comment syntax of the common languages. The key is
# required: AutoGen makes it optional, so `# compute the median` became a file name.
_KEY = r"filename\s*:\s*"
_FILENAME_COMMENTS = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        rf"^\s*#+\s*{_KEY}(?P<name>\S+)\s*$",  # Python, shell, YAML
        rf"^\s*//+\s*{_KEY}(?P<name>\S+)\s*$",  # C, JavaScript, Go
        rf"^\s*/\*+\s*{_KEY}(?P<name>\S+?)\s*\*+/\s*$",  # C, CSS
        rf"^\s*<!--\s*{_KEY}(?P<name>\S+?)\s*-->\s*$",  # HTML, XML, Markdown
        rf"^\s*--\s*{_KEY}(?P<name>\S+)\s*$",  # SQL, Lua, Haskell
        rf"^\s*;+\s*{_KEY}(?P<name>\S+)\s*$",  # Lisp, INI, assembly
    )
)


@dataclass(frozen=True, slots=True)
class _Fence:
    """An open fence: what can close it, how much indentation to remove, and its info string."""

    char: str
    length: int
    indent: int
    info: str


def _open(line: str) -> _Fence | None:
    """The fence this line opens, or None when the line is not an opening fence."""
    m = _OPENER.match(line)
    if not m:
        return None
    fence, info = m.group("fence"), m.group("info").strip()
    if fence[0] == "`" and "`" in info:  # CommonMark: ```` ``a` ```` is inline code
        return None
    return _Fence(char=fence[0], length=len(fence), indent=len(m.group("indent")), info=info)


def _closes(line: str, fence: _Fence) -> bool:
    """Same character, at least as long as the opener, nothing but spaces after it."""
    m = _CLOSER.match(line)
    if m is None:
        return False
    run = m.group("fence")
    return run[0] == fence.char and len(run) >= fence.length


def _dedent(line: str, indent: int) -> str:
    """Remove up to `indent` leading spaces (CommonMark: the opener's own indentation)."""
    spaces = len(line) - len(line.lstrip(" "))
    return line[min(spaces, indent):]


def _language(info: str) -> str | None:
    """The info string's first word, lower-cased; Pandoc's `{.python}` and `{python}` unwrapped.

    A first word that is an attribute (`title="x.py"`) is not a language: the block is treated
    as untagged and its language is guessed.
    """
    if info.startswith("{"):
        words = info[1:].split("}", 1)[0].split()
        classes = [w[1:] for w in words if w.startswith(".") and len(w) > 1]
        plain = [w for w in words if "=" not in w and not w.startswith(("#", "."))]
        first = (classes or plain or [""])[0]
    else:
        first = info.split(maxsplit=1)[0] if info else ""
    if not first or "=" in first:
        return None
    return first.lower()


def _attribute_filename(info: str) -> str | None:
    """`filename=` or `file=`, else a `title=` that looks like a path (no spaces: a caption)."""
    found: dict[str, str] = {}
    for m in _ATTRIBUTE.finditer(info):
        value = (m.group("dq") or m.group("sq") or m.group("bare") or "").strip()
        if value:
            found.setdefault(m.group("key").lower(), value)
    title = found.get("title")
    if title and " " in title:
        title = None
    return found.get("filename") or found.get("file") or title


def _comment_filename(code: str) -> str | None:
    """The file named by a `filename: x.py` comment on the first non-blank line."""
    first = next((line for line in code.split("\n") if line.strip()), "")
    for pattern in _FILENAME_COMMENTS:
        m = pattern.match(first)
        if m:
            name = m.group("name").strip("\"'`")
            return name or None
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class FencedBlock:
    """A fenced block with its place in the document, for tools that report by line.

    `before` is the text between the previous block's closing fence (or the start of the
    document) and this block's opening fence: where a tool looks for annotations such as
    `<!-- sandbox: skip -->`. `tag` is the info string's language word, None when there is
    none (`block.language` is then a guess). `block` is None for a blank block.
    """

    line: int  # 1-based line number of the opening fence
    end_line: int  # 1-based line number of the closing fence, or of the last line when unclosed
    info: str  # the info string as written, stripped
    tag: str | None
    before: str
    code: str
    block: CodeBlock | None


def _block(fence: _Fence, code: str) -> CodeBlock | None:
    """The CodeBlock for a fence and its content, or None for a blank block."""
    if not code.strip():
        return None
    language = _language(fence.info)
    if language is None:
        language = infer_language(code)
    filename = _attribute_filename(fence.info) or _comment_filename(code)
    return CodeBlock(code=code, language=language, filename=filename)


def fenced_blocks(text: str) -> list[FencedBlock]:
    """Every fenced block of `text` in order, blank ones included, with line numbers.

    The same parse as `extract_code_blocks` (which is built on it); used by `sandbox run-md`.
    """
    lines = _LINE_BREAK.split(text)
    if lines and lines[-1] == "":  # the text ended with a line break: no line follows it
        lines.pop()
    found: list[FencedBlock] = []
    fence: _Fence | None = None
    opened = 0  # index of the opening fence's line
    prose_from = 0  # index of the first line after the previous block
    content: list[str] = []

    def close(end: int) -> None:
        assert fence is not None
        code = "".join(line + "\n" for line in content)
        found.append(FencedBlock(
            line=opened + 1, end_line=end + 1, info=fence.info, tag=_language(fence.info),
            before="\n".join(lines[prose_from:opened]), code=code, block=_block(fence, code),
        ))

    for number, line in enumerate(lines):
        if fence is None:  # outside a block: only an opening fence matters
            fence = _open(line)
            opened, content = number, []
        elif _closes(line, fence):
            close(number)
            fence, prose_from = None, number + 1
        else:  # inside a block: every other line, fences included, is content
            content.append(_dedent(line, fence.indent))
    if fence is not None:  # unclosed: CommonMark runs it to the end of the document
        close(len(lines) - 1)
    return found


def extract_code_blocks(text: str) -> list[CodeBlock]:
    """The fenced code blocks of `text`, in order, as `CodeBlock`s; `[]` when there are none.

    Follows CommonMark's fenced code blocks (see the module docstring for the details and the
    parts of CommonMark that are not followed). Each block's code ends with a newline, as
    CommonMark's content does. Blank blocks are skipped. `language` is the info string's first
    word, lower-cased, or a guess from `infer_language` (possibly None) when there is none;
    `filename` comes from an info-string attribute or a `filename:` comment on the first line.
    """
    return [f.block for f in fenced_blocks(text) if f.block is not None]

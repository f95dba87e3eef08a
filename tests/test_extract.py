"""Table tests for `sandbox.extract.extract_code_blocks` (CommonMark fenced code blocks)."""

from __future__ import annotations

import pytest

from sandbox.extract import extract_code_blocks
from sandbox.models import CodeBlock

B = CodeBlock

CASES: list[tuple[str, str, list[CodeBlock]]] = [
    # --- fences -------------------------------------------------------------------------
    ("backtick", "```python\nprint(1)\n```\n", [B("print(1)\n", "python")]),
    ("tilde", "~~~python\nprint(1)\n~~~\n", [B("print(1)\n", "python")]),
    ("four-backticks", "````python\nprint(1)\n````\n", [B("print(1)\n", "python")]),
    (
        "closing-longer-than-opening",
        "```python\nprint(1)\n`````\nafter\n",
        [B("print(1)\n", "python")],
    ),
    (
        "closing-shorter-does-not-close",
        "````python\nprint(1)\n```\nprint(2)\n````\n",
        [B("print(1)\n```\nprint(2)\n", "python")],
    ),
    (
        "tilde-does-not-close-backtick",
        "```python\nprint(1)\n~~~\nprint(2)\n```\n",
        [B("print(1)\n~~~\nprint(2)\n", "python")],
    ),
    (
        "backtick-does-not-close-tilde",
        "~~~python\nprint(1)\n```\nprint(2)\n~~~\n",
        [B("print(1)\n```\nprint(2)\n", "python")],
    ),
    (
        "closer-with-text-after-does-not-close",
        "```python\nprint(1)\n``` not a closer\nprint(2)\n```\n",
        [B("print(1)\n``` not a closer\nprint(2)\n", "python")],
    ),
    ("closer-trailing-spaces", "```python\nprint(1)\n```   \n", [B("print(1)\n", "python")]),
    ("two-backticks-not-a-fence", "``python\nprint(1)\n``\n", []),
    (
        "backtick-in-info-not-a-fence",
        "``` a`b\n```python\nprint(1)\n```\n",
        [B("print(1)\n", "python")],
    ),
    ("backtick-in-tilde-info-allowed", "~~~ a`b\nprint(1)\n~~~\n", [B("print(1)\n", "a`b")]),
    # --- indentation --------------------------------------------------------------------
    ("indent-1", " ```python\n print(1)\n  x = 2\n ```\n", [B("print(1)\n x = 2\n", "python")]),
    ("indent-2", "  ```python\n  print(1)\n   x = 2\n  ```\n", [B("print(1)\n x = 2\n", "python")]),
    (
        "indent-3-removes-at-most-3",
        "   ```python\n     print(1)\n x = 2\n   ```\n",
        [B("  print(1)\nx = 2\n", "python")],
    ),
    ("indent-4-not-a-fence", "    ```python\n    print(1)\n    ```\n", []),
    ("closer-indented-differently", "```python\nprint(1)\n   ```\n", [B("print(1)\n", "python")]),
    (
        "closer-indented-4-is-content",
        "```python\nprint(1)\n    ```\n```\n",
        [B("print(1)\n    ```\n", "python")],
    ),
    # --- line endings -------------------------------------------------------------------
    ("crlf", "```python\r\nprint(1)\r\nx = 2\r\n```\r\n", [B("print(1)\nx = 2\n", "python")]),
    ("cr", "```python\rprint(1)\rx = 2\r```\r", [B("print(1)\nx = 2\n", "python")]),
    ("no-final-newline", "```python\nprint(1)\n```", [B("print(1)\n", "python")]),
    # --- info string --------------------------------------------------------------------
    (
        "info-title-attribute",
        '```python title="x.py"\nprint(1)\n```\n',
        [B("print(1)\n", "python", "x.py")],
    ),
    (
        "info-filename-attribute",
        "```python filename='src/a.py'\nprint(1)\n```\n",
        [B("print(1)\n", "python", "src/a.py")],
    ),
    (
        "info-file-bare-attribute",
        "```python file=x.py\nprint(1)\n```\n",
        [B("print(1)\n", "python", "x.py")],
    ),
    (
        "info-title-caption-is-not-a-file",
        '```python title="An example"\nprint(1)\n```\n',
        [B("print(1)\n", "python")],
    ),
    ("info-lowercased", "```Python\nprint(1)\n```\n", [B("print(1)\n", "python")]),
    ("info-alias-kept-as-written", "```py\nprint(1)\n```\n", [B("print(1)\n", "py")]),
    ("info-c++", "```c++\nint main() {}\n```\n", [B("int main() {}\n", "c++")]),
    (
        "info-shell-session",
        "```shell-session\n$ ls\nfile\n```\n",
        [B("$ ls\nfile\n", "shell-session")],
    ),
    ("info-spaces-around", "```   python   \nprint(1)\n```\n", [B("print(1)\n", "python")]),
    ("info-pandoc-class", "```{.python}\nprint(1)\n```\n", [B("print(1)\n", "python")]),
    ("info-pandoc-plain", "```{python}\nprint(1)\n```\n", [B("print(1)\n", "python")]),
    (
        "info-pandoc-attributes",
        '``` {.python title="x.py"}\nprint(1)\n```\n',
        [B("print(1)\n", "python", "x.py")],
    ),
    (
        "info-only-attribute-infers-language",
        '```title="x.py"\nimport os\n```\n',
        [B("import os\n", "python", "x.py")],
    ),
    # --- unclosed and nested ------------------------------------------------------------
    ("unclosed-runs-to-end", "```python\nprint(1)\nx = 2\n", [B("print(1)\nx = 2\n", "python")]),
    ("unclosed-no-final-newline", "text\n```bash\nls -la", [B("ls -la\n", "bash")]),
    (
        "nested-shorter-fence-is-content",
        "`````markdown\nSee:\n````python\nprint(1)\n````\nDone.\n`````\n",
        [B("See:\n````python\nprint(1)\n````\nDone.\n", "markdown")],
    ),
    (
        "nested-three-in-four",
        "````md\n```python\nprint(1)\n```\n````\n```bash\nls\n```\n",
        [B("```python\nprint(1)\n```\n", "md"), B("ls\n", "bash")],
    ),
    # --- untagged blocks: language inferred ---------------------------------------------
    (
        "untagged-python",
        "```\nimport os\nprint(os.getcwd())\n```\n",
        [B("import os\nprint(os.getcwd())\n", "python")],
    ),
    ("untagged-shell", "```\nls -la\n```\n", [B("ls -la\n", "bash")]),
    ("untagged-json", '```\n{"a": 1}\n```\n', [B('{"a": 1}\n', "json")]),
    (
        "untagged-prose-is-none",
        "```\nJust some words here.\n```\n",
        [B("Just some words here.\n", None)],
    ),
    # --- filename comments --------------------------------------------------------------
    (
        "filename-hash",
        "```python\n# filename: x.py\nprint(1)\n```\n",
        [B("# filename: x.py\nprint(1)\n", "python", "x.py")],
    ),
    (
        "filename-hash-no-space",
        "```python\n#filename:x.py\nprint(1)\n```\n",
        [B("#filename:x.py\nprint(1)\n", "python", "x.py")],
    ),
    (
        "filename-key-case",
        "```python\n# FileName : x.py\nprint(1)\n```\n",
        [B("# FileName : x.py\nprint(1)\n", "python", "x.py")],
    ),
    (
        "filename-slashes",
        "```js\n// filename: app.js\nlet a = 1;\n```\n",
        [B("// filename: app.js\nlet a = 1;\n", "js", "app.js")],
    ),
    (
        "filename-block-comment",
        "```css\n/* filename: s.css */\np {}\n```\n",
        [B("/* filename: s.css */\np {}\n", "css", "s.css")],
    ),
    (
        "filename-html-comment",
        "```html\n<!-- filename: index.html -->\n<p>hi</p>\n```\n",
        [B("<!-- filename: index.html -->\n<p>hi</p>\n", "html", "index.html")],
    ),
    (
        "filename-double-dash",
        "```sql\n-- filename: q.sql\nSELECT 1;\n```\n",
        [B("-- filename: q.sql\nSELECT 1;\n", "sql", "q.sql")],
    ),
    (
        "filename-semicolon",
        "```ini\n; filename: a.ini\n[s]\n```\n",
        [B("; filename: a.ini\n[s]\n", "ini", "a.ini")],
    ),
    (
        "filename-untagged-block",
        "```\n# filename: run.sh\nls -la\n```\n",
        [B("# filename: run.sh\nls -la\n", "bash", "run.sh")],
    ),
    (
        "filename-attribute-wins",
        "```python file=a.py\n# filename: b.py\nx = 1\n```\n",
        [B("# filename: b.py\nx = 1\n", "python", "a.py")],
    ),
    (
        "filename-quoted",
        '```python\n# filename: "x.py"\nx = 1\n```\n',
        [B('# filename: "x.py"\nx = 1\n', "python", "x.py")],
    ),
    (
        "filename-followed-by-words-is-not-a-filename",
        "```python\n# filename: main.py - the entry point\nx = 1\n```\n",
        [B("# filename: main.py - the entry point\nx = 1\n", "python")],
    ),
    (
        "ordinary-comment-not-filename",
        "```python\n# compute the median\nx = 1\n```\n",
        [B("# compute the median\nx = 1\n", "python")],
    ),
    (
        "empty-filename-not-filename",
        "```python\n# filename: \nx = 1\n```\n",
        [B("# filename: \nx = 1\n", "python")],
    ),
    (
        "filename-on-second-line-ignored",
        "```python\nx = 1\n# filename: x.py\n```\n",
        [B("x = 1\n# filename: x.py\n", "python")],
    ),
    # --- whole replies ------------------------------------------------------------------
    (
        "several-blocks-in-order",
        "First:\n```python\nprint(1)\n```\nThen run\n~~~bash\nls\n~~~\n"
        "and finally\n```\nx = 1\n```\nDone.",
        [B("print(1)\n", "python"), B("ls\n", "bash"), B("x = 1\n", "python")],
    ),
    ("no-blocks", "Just prose, with `inline code` and no fences.", []),
    ("empty-text", "", []),
    (
        "empty-block-skipped",
        "```python\n```\n```bash\n   \n\n```\n```sh\nls\n```\n",
        [B("ls\n", "sh")],
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_extract_code_blocks(text: str, expected: list[CodeBlock]) -> None:
    assert extract_code_blocks(text) == expected


def test_fenced_blocks_gives_line_numbers_the_prose_before_and_blank_blocks() -> None:
    from sandbox.extract import fenced_blocks

    text = "Intro\r\n<!-- note -->\r\n```python skip\r\nprint(1)\r\n```\r\n\r\n```output\r\n```\r\nafter\r\n~~~\r\nx = 1\r\n"
    first, blank, unclosed = fenced_blocks(text)
    assert (first.line, first.end_line, first.info, first.tag) == (3, 5, "python skip", "python")
    assert first.before == "Intro\n<!-- note -->" and first.code == "print(1)\n"
    assert first.block == CodeBlock("print(1)\n", "python")
    assert (blank.line, blank.end_line, blank.tag, blank.before, blank.code, blank.block) == (7, 8, "output", "", "", None)
    assert (unclosed.line, unclosed.end_line, unclosed.tag, unclosed.before) == (10, 11, None, "after")
    assert unclosed.block == CodeBlock("x = 1\n", "python")  # untagged: the language is a guess

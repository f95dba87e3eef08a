"""Table tests for `sandbox.inference.infer_language`."""

from __future__ import annotations

import pytest

from sandbox.inference import infer_language

CASES: list[tuple[str, str, str | None]] = [
    # --- nothing to go on ---------------------------------------------------------------
    ("empty", "", None),
    ("whitespace", "  \n\t\n", None),
    # --- shebangs -----------------------------------------------------------------------
    ("shebang-env-python3", "#!/usr/bin/env python3\nx = 1\n", "python"),
    ("shebang-python-versioned", "#!/usr/bin/python3.11\n", "python"),
    ("shebang-bash", "#!/bin/bash\nls\n", "bash"),
    ("shebang-bash-with-flag", "#!/bin/bash -euo pipefail\necho hi\n", "bash"),
    ("shebang-env-bash", "#!/usr/bin/env bash\n", "bash"),
    ("shebang-sh", "#!/bin/sh\necho hi\n", "sh"),
    ("shebang-dash", "#!/bin/dash\n", "sh"),
    ("shebang-zsh", "#!/bin/zsh\n", "bash"),
    ("shebang-env-dash-S", "#!/usr/bin/env -S python3 -u\n", "python"),
    ("shebang-node", "#!/usr/bin/env node\nconsole.log(1)\n", "javascript"),
    ("shebang-wins-over-body", "#!/bin/sh\nimport os\n", "sh"),
    # --- prompts ------------------------------------------------------------------------
    ("prompt-dollar", "$ ls -la\ntotal 0\n", "bash"),
    ("prompt-user-host", "user@host:~/proj$ make test\nok\n", "bash"),
    ("prompt-python-repl", ">>> print(1)\n1\n", "python"),
    # --- JSON ---------------------------------------------------------------------------
    ("json-object", '{"name": "x", "n": [1, 2]}', "json"),
    ("json-array", '[1, 2, {"a": null}]', "json"),
    ("json-scalar-is-not-json", "42", None),
    ("json-string-is-not-json", '"word"', None),
    # --- HTML ---------------------------------------------------------------------------
    ("html-doctype", "<!DOCTYPE html>\n<html><body>hi</body></html>\n", "html"),
    ("html-root", "<html>\n<p>hi</p>\n</html>\n", "html"),
    ("html-fragment", '<div class="a">\n  <p>hi</p>\n</div>\n', "html"),
    ("html-single-angle-is-not-html", "<b>", None),
    ("xml-declaration", '<?xml version="1.0"?>\n<a/>\n', "xml"),
    # --- shell commands (before Python: `ls -la` parses as `ls - la`) -------------------
    ("shell-ls-la", "ls -la", "bash"),
    ("shell-ls-bare", "ls", "bash"),
    ("shell-pip-install", "pip install requests", "bash"),
    ("shell-pip3-install", "pip3 install -U numpy pandas\n", "bash"),
    ("shell-cd-and-make", "cd dir && make", "bash"),
    ("shell-python-m", "python -m venv .venv\nsource .venv/bin/activate\n", "bash"),
    ("shell-python-script", "python3 main.py --help", "bash"),
    ("shell-apt-get", "sudo apt-get update\nsudo apt-get install -y curl\n", "bash"),
    ("shell-echo-redirect", 'echo "hi" > out.txt', "bash"),
    ("shell-git", "git clone https://example.com/r.git\ncd r\n", "bash"),
    ("shell-export", "export PATH=$HOME/bin:$PATH", "bash"),
    ("shell-mkdir-p", "mkdir -p build", "bash"),
    ("shell-curl-pipe", "curl -sSL https://example.com/install.sh | sh", "bash"),
    ("shell-docker", "docker run --rm -it ubuntu bash", "bash"),
    ("shell-after-comment", "# install the deps\npip install x\n", "bash"),
    ("shell-dot-slash", "./configure --prefix=/usr", "bash"),
    ("shell-env-prefix", "DEBUG=1 make test", "bash"),
    # --- Python -------------------------------------------------------------------------
    ("python-def", "def f(x):\n    return x + 1\n", "python"),
    ("python-class", "class A:\n    pass\n", "python"),
    ("python-import", "import os\nprint(os.getcwd())\n", "python"),
    ("python-from-import", "from pathlib import Path\n", "python"),
    ("python-print", 'print("hello")', "python"),
    ("python-for", "for i in range(3):\n    pass\n", "python"),
    ("python-if", "if x:\n    y\n", "python"),
    ("python-assignment", "x = 1", "python"),
    ("python-annotated-assignment", "x: int = 1", "python"),
    ("python-call", "main()", "python"),
    ("python-decorator", "@cache\ndef f():\n    ...\n", "python"),
    ("python-command-word-assigned", "cat = 'tom'\nprint(cat)\n", "python"),
    ("python-command-word-called", "echo(1)", "python"),
    ("python-comment-first", "# compute the median\nxs = sorted(data)\n", "python"),
    ("python-list-is-json-first", "[1, 2, 3]", "json"),
    # --- Python with a syntax error but strong signals ----------------------------------
    ("broken-def", "def f(:\n    pass\n", "python"),
    ("broken-print", 'print("x"', "python"),
    ("broken-import-first", "import os\nthis is not valid\n", "python"),
    ("broken-from-import", "from os import path\nx = (\n", "python"),
    # --- prose that parses as Python is not Python --------------------------------------
    ("single-word", "Hello", None),
    ("bool-expression-prose", "a or b", None),
    ("tuple-prose", "yes, no", None),
    ("sentence", "This is just a sentence of prose.", None),
    ("paragraphs", "First do this.\n\nThen do that, and import the data.\n", None),
    ("one-colon-line-is-prose", "Note: restart the server first", None),
    # --- YAML (parses as bare Python annotations, so it must not count as Python) --------
    ("yaml-key-values", "name: test\nversion: 1", "yaml"),
    ("yaml-nested", "services:\n  web:\n    image: nginx\n    ports:\n      - \"80:80\"\n", "yaml"),
    ("yaml-list-of-maps", "steps:\n  - name: build\n    run: make\n", "yaml"),
    ("yaml-block-scalar", "job:\n  run: |\n    echo hi\n    make all\n  when: always\n", "yaml"),
    ("yaml-document-marker", "---\nkey: value\nother: 2\n", "yaml"),
    ("bare-list-is-not-yaml", "- one\n- two\n", None),
]


@pytest.mark.parametrize(("code", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_infer_language(code: str, expected: str | None) -> None:
    assert infer_language(code) == expected

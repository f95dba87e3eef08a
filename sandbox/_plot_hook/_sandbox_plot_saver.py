"""The exit handler `sitecustomize` registers once a program has imported matplotlib.pyplot.

Each open figure that has something on it is written to `$SANDBOX_PLOTS_DIR/figure_<n>.png`,
`n` being the first free number (so figures of earlier runs are never overwritten). It never
changes the program's output or exit status; a figure that cannot be saved costs one line on
stderr. Standard library only, any Python 3.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_START_DIR = os.getcwd()  # imported right after pyplot: usually still where the program started


def _reserve(directory: str) -> tuple[int, str]:
    """Create the first free figure_<n>.png exclusively (safe against parallel runs)."""
    n = 1
    while True:
        path = os.path.join(directory, "figure_%d.png" % n)
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644), path
        except FileExistsError:
            n += 1


def _has_content(figure: Any) -> bool:
    return bool(figure.axes or figure.texts or figure.images or figure.lines or figure.patches)


def save_open_figures() -> None:
    """Save each open, non-empty pyplot figure as a PNG; never raise."""
    target = os.environ.get("SANDBOX_PLOTS_DIR", "")
    pyplot = sys.modules.get("matplotlib.pyplot")
    if not target or pyplot is None:
        return
    directory = os.path.join(_START_DIR, target)  # an absolute target stays as it is
    try:
        figures = [pyplot.figure(num) for num in pyplot.get_fignums()]
    except Exception:
        return
    for figure in figures:
        path = ""
        try:
            if not _has_content(figure):
                continue
            os.makedirs(directory, exist_ok=True)
            fd, path = _reserve(directory)
            with os.fdopen(fd, "wb") as fh:
                figure.savefig(fh, format="png")
        except Exception as exc:  # the program's own outcome matters more than a lost figure
            if path:
                try:
                    os.unlink(path)
                except OSError:
                    pass
            sys.stderr.write("sandbox: could not save figure %s as PNG: %s\n" % (getattr(figure, "number", "?"), exc))

"""Saves the matplotlib figures a program leaves open as PNG files when it exits.

The sandbox runners put this file's directory first on PYTHONPATH, so Python imports it at
start-up as `sitecustomize` (see `sandbox.plots`). It costs nothing unless the program imports
`matplotlib.pyplot`: only then does it register an exit handler, which writes every open
figure that has something on it to `$SANDBOX_PLOTS_DIR/figure_<n>.png`, `n` being the first
free number, so figures of earlier runs are never overwritten. It never changes the program's
output or exit status; a figure that cannot be saved gets one line on stderr.

Why registered after pyplot's import and not at start-up: matplotlib registers its own exit
handler (`Gcf.destroy_all`) when pyplot is imported, and exit handlers run last-registered
first, so ours must come later to see the figures before they are destroyed.

This file must run on any Python 3 an image may have: standard library only, no new syntax.
"""

from __future__ import annotations

import atexit
import os
import sys
from types import ModuleType
from typing import Any

_START_DIR = os.getcwd()  # relative SANDBOX_PLOTS_DIR means relative to where the program started
_PYPLOT = "matplotlib.pyplot"


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
    pyplot = sys.modules.get(_PYPLOT)
    if not target or pyplot is None:
        return
    directory = os.path.join(_START_DIR, target)
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


class _PyplotWatcher:
    """A one-shot import hook: once matplotlib.pyplot has loaded, register the exit handler."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != _PYPLOT:
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if find is not None else None
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        load = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            load(module)
            atexit.register(save_open_figures)

        loader.exec_module = exec_module
        return spec


def _run_next_sitecustomize() -> None:
    """Run the sitecustomize this one shadows (Debian ships one), as site.py would have."""
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if p and os.path.abspath(p) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    try:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.stderr.write("Error in sitecustomize; set PYTHONVERBOSE for traceback:\n%s: %s\n" % (type(exc).__name__, exc))


if __name__ == "sitecustomize":  # imported by site.py at start-up, not as part of the sandbox package
    sys.meta_path.insert(0, _PyplotWatcher())
    _run_next_sitecustomize()

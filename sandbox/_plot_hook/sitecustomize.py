"""Saves the matplotlib figures a program leaves open as PNG files when it exits.

The sandbox runners put this file's directory first on PYTHONPATH, so Python imports it at
start-up as `sitecustomize` (see `sandbox.plots`). Every Python run pays for this import, so
it is kept small (no `typing`, nothing but `os` and `sys`): it only installs an import hook.
When the program imports `matplotlib.pyplot`, the hook registers an exit handler from
`_sandbox_plot_saver` (beside this file) that saves the open figures.

Why registered after pyplot's import and not at start-up: matplotlib registers its own exit
handler (`Gcf.destroy_all`) when pyplot is imported, and exit handlers run last-registered
first, so ours must come later to see the figures before they are destroyed.

This file must run on any Python 3 an image may have: standard library only, no new syntax.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at every start-up
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any

_PYPLOT = "matplotlib.pyplot"


class _PyplotWatcher:
    """A one-shot import hook: once matplotlib.pyplot has loaded, register the exit handler."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != _PYPLOT:
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = None
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if find is not None else None
            if spec is not None:
                break
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        load = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            load(module)
            try:
                import atexit

                from _sandbox_plot_saver import save_open_figures  # type: ignore[import-not-found]  # beside this file on PYTHONPATH

                atexit.register(save_open_figures)
            except Exception:  # never break the program's own import
                pass

        loader.exec_module = exec_module
        return spec


def _run_next_sitecustomize() -> None:
    """Run the sitecustomize this one shadows (Debian ships one), as site.py would have."""
    from importlib.machinery import PathFinder

    here = os.path.dirname(os.path.abspath(__file__))
    spec = PathFinder.find_spec("sitecustomize", [p for p in sys.path if p and os.path.abspath(p) != here])
    if spec is None or spec.loader is None:
        return
    try:
        from importlib.util import module_from_spec

        spec.loader.exec_module(module_from_spec(spec))
    except Exception as exc:
        sys.stderr.write("Error in sitecustomize; set PYTHONVERBOSE for traceback:\n%s: %s\n" % (type(exc).__name__, exc))


if __name__ == "sitecustomize":  # imported by site.py at start-up, not as part of the sandbox package
    sys.meta_path.insert(0, _PyplotWatcher())
    _run_next_sitecustomize()

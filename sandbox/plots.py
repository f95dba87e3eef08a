"""Plots as artifacts: figures the code leaves open are saved as PNGs without it calling `savefig`.

Every runner starts Python with the Agg backend (`MPLBACKEND=Agg`: files, never a window) and
with the directory `sandbox/_plot_hook/` first on PYTHONPATH, so its `sitecustomize` runs at
start-up. When the code imports `matplotlib.pyplot`, that hook registers an exit handler
(`_sandbox_plot_saver`, in the same directory) which saves each open,
non-empty figure as `plots/figure_<n>.png` in the workspace (`n`: the first free number, so
a later run adds figures instead of overwriting earlier ones). The files then appear in
`ExecutionResult.files` as `image/png`, like any file the code wrote.

A program that never imports pyplot pays one small module import at start-up and nothing
else; a figure the code closed (`plt.close()`) is not saved; a figure it saved itself and
left open is saved again under `plots/`. `env={"SANDBOX_PLOTS_DIR": ""}` turns saving off,
another value moves it (relative paths start at the directory the program started in).
The hook chains to the `sitecustomize` it shadows (Debian's python3 has one).

A runner needs two things from here: the hook's directory (mounted or copied into the
sandbox; `hook_files()` gives its files' sources, to write them into a container's /tmp) and
`plot_env`, which adds the variables to the run's environment. The start-up cost is one small
module (about 1.5 ms here without a .pyc); programs that never import pyplot pay nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

__all__ = ["HOOK_DIR", "HOOK_FILES", "PLOTS_DIR", "hook_files", "plot_env"]

HOOK_DIR = Path(__file__).resolve().parent / "_plot_hook"
# sitecustomize.py: the name Python's site module imports at start-up; the saver it loads late.
HOOK_FILES = ("sitecustomize.py", "_sandbox_plot_saver.py")
PLOTS_DIR = "plots"  # where figures go, relative to the workspace


def hook_files() -> dict[str, str]:
    """`{file name: source}` of the hook, for a runner that writes it into a directory in the sandbox."""
    return {name: (HOOK_DIR / name).read_text(encoding="utf-8") for name in HOOK_FILES}


def plot_env(env: Mapping[str, str], *, hook_dir: str, plots_dir: str) -> dict[str, str]:
    """`env` plus what the hook needs, as paths seen from inside the sandbox.

    `hook_dir` goes first on PYTHONPATH (before any PYTHONPATH the caller passed);
    `MPLBACKEND` and `SANDBOX_PLOTS_DIR` are set only where the caller did not set them.
    """
    out = dict(env)
    previous = out.get("PYTHONPATH")
    out["PYTHONPATH"] = f"{hook_dir}:{previous}" if previous else hook_dir
    out.setdefault("MPLBACKEND", "Agg")
    out.setdefault("SANDBOX_PLOTS_DIR", plots_dir)
    return out

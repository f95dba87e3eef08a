"""The environment a run sees: a few harmless variables, never the caller's.

AutoGen's local executor hands the model's code the whole parent environment, API keys and
cloud credentials included. Here the code sees only what is listed below plus what the
caller passes explicitly with `env=`.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["DEFAULT_PATH", "minimal_env"]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def minimal_env(*, home: str, tmpdir: str, path: str = DEFAULT_PATH, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        "PATH": path,
        "HOME": home,
        "TMPDIR": tmpdir,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TERM": "dumb",
        # Unbuffered so that stdout and stderr interleave in the order the code wrote them.
        "PYTHONUNBUFFERED": "1",
        "PYTHONIOENCODING": "utf-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        # Plots render to files, never try to open a window.
        "MPLBACKEND": "Agg",
    }
    if extra:
        env.update({str(k): str(v) for k, v in extra.items()})
    return env

"""The on-disk response cache: a rerun of the same request costs nothing.

AutoGen keeps responses under `.cache/<cache_seed>` in the working directory; so do we, one
JSON file per request, named by the SHA-256 of the request (model, server, messages and
parameters; never the API key). Files are written atomically (temporary file, then rename), so
two processes sharing a cache never read half a response; an unreadable file is a miss.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["ResponseCache", "request_key"]


def request_key(request: Mapping[str, Any]) -> str:
    """A stable hash of a request: same model, server, messages and parameters, same key."""
    canonical = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache:
    """Responses stored as JSON under `root/<seed>/`, keyed by `request_key`."""

    def __init__(self, seed: int | str, root: str | os.PathLike[str] = ".cache") -> None:
        self.path = Path(root) / str(seed)

    def _file(self, key: str) -> Path:
        return self.path / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self._file(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def put(self, key: str, value: Mapping[str, Any]) -> None:
        target = self._file(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(dict(value), f, ensure_ascii=False)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

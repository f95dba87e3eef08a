"""Resource limits as the user writes them ("512m", "2g", 1_000_000) and as the engine needs them."""

from __future__ import annotations

import re

__all__ = ["parse_size"]

_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_size(value: int | str | None) -> int | None:
    """Bytes from an int or a Docker-style size string; None stays None (no limit)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"size must be bytes or a string like '512m', not {value!r}")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"size must be positive, not {value}")
        return value
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"cannot read size {value!r}: write bytes or a number with k, m or g, e.g. '512m'")
    number, unit = match.groups()
    size = int(float(number) * _UNITS[unit.lower()])
    if size <= 0:
        raise ValueError(f"size must be positive, not {value!r}")
    return size

"""Resource limits as the user writes them ("512m", "2g", 1_000_000) and as the engine needs them."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Limits", "parse_size"]

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


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Resource limits for one call, over the executor's own: `execute(..., limits=Limits(memory="1g"))`.

    Docker applies them to the call's fresh container before the code starts (a pooled one is
    updated in place: it serves no other call); a session's container is shared between calls,
    so it refuses them. The local runner applies `memory` as the address-space rlimit and `pids`
    as the process-count rlimit; it has no way to cap CPU share, so `cpus` is Docker's only.
    """

    memory: int | str | None = None
    cpus: float | None = None
    pids: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "memory", parse_size(self.memory))
        if self.cpus is not None and not self.cpus > 0:
            raise ValueError(f"cpus must be a positive number, not {self.cpus!r}")
        if self.pids is not None and self.pids < 1:
            raise ValueError(f"pids must be >= 1, not {self.pids!r}")

    @property
    def memory_bytes(self) -> int | None:
        return self.memory if isinstance(self.memory, int) else None

    @staticmethod
    def effective(limits: Limits | None, *, memory: int | None, cpus: float | None, pids: int | None) -> Limits:
        """A call's limits with the executor's own filling what the call left unset."""
        if limits is None:
            return Limits(memory=memory, cpus=cpus, pids=pids)
        return Limits(
            memory=limits.memory_bytes or memory, cpus=limits.cpus or cpus, pids=limits.pids or pids,
        )

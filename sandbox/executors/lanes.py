"""Loopback-only network namespaces handed from one pooled sandbox to the next (opt-in).

Why: with `network_mode="none"` the engine still creates and destroys a network namespace
for every container, and on this kind of host that is the largest single cost of a container:
measured here, 259 ms of CPU per container with a namespace of its own against 143 ms when
joining an existing one (`network_mode="container:<id>"`). A pool that starts a container per
run is bounded by that cost, so `Pool(reuse_network_namespaces=True)` lets each new sandbox
join the namespace of a small "anchor" container instead.

What it gives up, and what it keeps: a namespace holds only `lo` and no route, and an anchor
lends it to ONE sandbox at a time; it goes back to the free list only when that sandbox is
retired, after its run ended and the supervisor killed every process of the run. So two runs
never share a namespace at once, but a run may see what an earlier run left in the kernel's
per-namespace state: sockets in TIME_WAIT on loopback ports (a `bind` without SO_REUSEADDR
may fail for a minute) and the loopback interface's counters. The sandbox also carries the
anchor's hostname. Off by default; see the README's security section.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from .container import ContainerSandbox

__all__ = ["NamespaceLanes"]


class NamespaceLanes:
    """Anchors whose network namespaces are lent to sandboxes, one sandbox per anchor at a time."""

    def __init__(self, start_anchor: Callable[[], ContainerSandbox]) -> None:
        self._start_anchor = start_anchor
        self._free: list[ContainerSandbox] = []
        self._all: list[ContainerSandbox] = []
        self._lock = threading.Lock()
        self._closed = False

    def take(self) -> ContainerSandbox:
        """A free anchor that is alive, or a new one."""
        with self._lock:
            while self._free:
                anchor = self._free.pop()
                if anchor.alive:
                    return anchor
                self._all.remove(anchor)
                anchor.retire()
        anchor = self._start_anchor()
        with self._lock:
            self._all.append(anchor)
            if self._closed:
                anchor.retire()
        return anchor

    def give_back(self, anchor: ContainerSandbox) -> None:
        with self._lock:
            if self._closed or not anchor.alive:
                anchor.retire()
                return
            self._free.append(anchor)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            anchors, self._all, self._free = self._all, [], []
        for anchor in anchors:
            anchor.retire()

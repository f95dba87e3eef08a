"""Labels on every container we start, so that leftovers can be found and safely reaped.

A container carries the identity of the process that owns it: host name, PID and that
process's start time (a PID alone can be reused by an unrelated program after a crash).
`is_orphan` says whether that owner is gone, which is what `sandbox reap` removes by default:
it never touches the sandboxes of another program that is still running.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

import psutil

__all__ = ["MANAGED", "owner_labels", "is_orphan"]

PREFIX = "io.sandbox"
MANAGED = f"{PREFIX}.managed"
OWNER_HOST = f"{PREFIX}.owner.host"
OWNER_PID = f"{PREFIX}.owner.pid"
OWNER_STARTED = f"{PREFIX}.owner.started"
EXECUTOR = f"{PREFIX}.executor"
MODE = f"{PREFIX}.mode"


def _process_started(pid: int) -> str:
    try:
        return f"{psutil.Process(pid).create_time():.2f}"
    except psutil.Error:
        return ""


def owner_labels(*, executor_id: str, mode: str) -> dict[str, str]:
    pid = os.getpid()
    return {
        MANAGED: "true",
        OWNER_HOST: socket.gethostname(),
        OWNER_PID: str(pid),
        OWNER_STARTED: _process_started(pid),
        EXECUTOR: executor_id,
        MODE: mode,
    }


def is_orphan(labels: Mapping[str, str]) -> bool:
    """True when the process that created the container no longer runs on this host.

    A container made on another host is never called an orphan: we cannot see its owner.
    """
    if labels.get(OWNER_HOST) != socket.gethostname():
        return False
    try:
        pid = int(labels.get(OWNER_PID, ""))
    except ValueError:
        return True
    started = _process_started(pid)
    return not started or started != labels.get(OWNER_STARTED)

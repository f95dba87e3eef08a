"""Find and remove containers this project started and nobody owns any more.

Cleanup at exit (atexit, `__del__`) does not run when a caller is killed with SIGKILL or the
machine loses power; the labels on each container (`sandbox.labels`) let this sweep find them
afterwards. By default it removes only orphans, whose owning process is gone, so running it
while another program uses its sandboxes is safe; `everything=True` removes all of ours.
"""

from __future__ import annotations

from dataclasses import dataclass

from .labels import MANAGED, OWNER_PID, is_orphan

__all__ = ["ReapedContainer", "reap"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReapedContainer:
    id: str
    owner_pid: str
    status: str


def reap(*, everything: bool = False, dry_run: bool = False) -> list[ReapedContainer]:
    """Remove leftover sandbox containers; return what was (or, with dry_run, would be) removed."""
    import docker.errors

    from .executors.docker import _connect
    from .executors.docker_errors import translate

    client = _connect()
    removed: list[ReapedContainer] = []
    try:
        with translate():
            containers = client.containers.list(all=True, filters={"label": f"{MANAGED}=true"}, ignore_removed=True)
        for container in containers:
            labels = container.labels or {}
            if not (everything or is_orphan(labels)):
                continue
            if not dry_run:
                try:
                    container.remove(force=True)
                except docker.errors.NotFound:
                    continue  # it removed itself (auto-remove) meanwhile
                except docker.errors.APIError as exc:
                    if exc.status_code != 409:  # 409: removal already in progress
                        raise
            removed.append(ReapedContainer(id=container.short_id, owner_pid=labels.get(OWNER_PID, "?"), status=container.status))
    finally:
        client.close()
    return removed

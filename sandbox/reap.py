"""Find and remove containers and networks this project started and nobody owns any more.

Cleanup at exit (atexit, `__del__`) does not run when a caller is killed with SIGKILL or the
machine loses power; the labels on each container and network (`sandbox.labels`) let this
sweep find them afterwards. By default it removes only orphans, whose owning process is gone,
so running it while another program uses its sandboxes is safe; `everything=True` removes all
of ours. Containers go first: a network cannot be removed while a container is attached.
"""

from __future__ import annotations

from dataclasses import dataclass

from .labels import MANAGED, OWNER_PID, is_orphan

__all__ = ["Reaped", "ReapedContainer", "reap"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Reaped:
    """One thing `reap` removed (or would remove): a container, or a network (an allow-list's)."""

    id: str
    owner_pid: str
    status: str
    kind: str = "container"


ReapedContainer = Reaped  # the name before networks were reaped too


def reap(*, everything: bool = False, dry_run: bool = False) -> list[Reaped]:
    """Remove leftover sandbox containers, then networks; return what was (or, with dry_run, would be) removed."""
    import docker.errors

    from .executors.docker import _connect
    from .executors.docker_errors import translate

    client = _connect()
    removed: list[Reaped] = []
    try:
        with translate():
            # ignore_removed: docker-py inspects each listed container, and fresh ones remove themselves
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
            removed.append(Reaped(id=container.short_id, owner_pid=labels.get(OWNER_PID, "?"), status=container.status))
        with translate():
            networks = client.networks.list(filters={"label": f"{MANAGED}=true"})
        for network in networks:
            labels = network.attrs.get("Labels") or {}
            if not (everything or is_orphan(labels)):
                continue
            if not dry_run:
                try:
                    network.remove()
                except docker.errors.NotFound:
                    continue  # its owner removed it meanwhile
                except docker.errors.APIError as exc:
                    if exc.status_code != 403:  # 403: a container still attached, e.g. one removing itself
                        raise
                    continue  # the next sweep gets it
            removed.append(Reaped(id=network.short_id, owner_pid=labels.get(OWNER_PID, "?"), status=network.name, kind="network"))
    finally:
        client.close()
    return removed

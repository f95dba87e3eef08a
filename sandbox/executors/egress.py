"""Network policy for the Docker runner: no network, or only the hosts you list.

`DockerExecutor(allow_hosts=["pypi.internal.example", "10.0.0.5:8080", "*.corp.example"])`
lets the code reach the listed destinations and nothing else. The rule is enforced outside
the sandbox, so code inside cannot widen it:

    sandbox ──(internal network: no route out, no host address)──> egress proxy ──> egress_network
                                                                   (allowed host:port only)

- An *internal* Docker network per executor (`internal=True`, and the bridge gets no IPv4
  address on the host, so the code cannot even reach the host's own services through it).
- A proxy container (`sandbox/_egress_proxy.py`, standard library, run by the sandbox image's
  own `python3`) on that network and on `egress_network` (default: the engine's `bridge`),
  hardened like the sandbox: non-root, read-only root, no effective capabilities,
  no-new-privileges, memory and pids limits. It forwards HTTP CONNECT, absolute-form HTTP, and raw TCP for each
  `name:port` entry; everything else gets a 403 with the reason, and every decision is logged
  (`EgressPolicy.events()`).
- The sandbox gets HTTP_PROXY / HTTPS_PROXY (and lower-case) pointing at the proxy, an
  /etc/hosts entry pointing each `name:port` entry at the proxy, and the proxy as its only DNS
  server, which answers NXDOMAIN to everything: no other name resolves, and no query leaves.
- One network and proxy per executor, made in its constructor (a bad registration or image
  fails there, not in the middle of a call) and removed by `close()`: an executor's own
  containers (concurrent fresh calls) share the network, other executors' never do.

What an entry means: see `sandbox.executors.allowlist`. The proxy resolves a name itself and connects to exactly the address it checked. An allowed
  name may resolve anywhere its DNS says (that is what listing a name means: trust its DNS),
  except loopback, unspecified, multicast, the internal network, and link-local addresses
  (cloud metadata) unless listed literally. A hostile DNS for a listed name can therefore
  point it at another machine on the egress network: list names whose DNS you trust.

Under gVisor: a `runsc` registered with `--network=none` (as scripts/setup does) ignores the
container's network entirely, so a networked sandbox under it uses the runtime `runsc-net`
(registered beside it by scripts/setup); when that is missing, we fail closed, never silently
use runc, and never give the plain `runsc` registration a network.
"""

from __future__ import annotations

import ipaddress
import json
import random
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker.errors
from docker.types import IPAMConfig, IPAMPool

from ..errors import RuntimeUnavailableError, SandboxError
from .allowlist import AllowedHost, parse_allow_hosts
from .docker_errors import translate

__all__ = ["EgressEvent", "EgressPolicy", "networked_runtime"]

PROXY_PORT = 3128
_PROXY_SOURCE = (Path(__file__).resolve().parent.parent / "_egress_proxy.py").read_text(encoding="utf-8")
_READY_TIMEOUT = 15.0
# RFC 2544's benchmarking range: never routed on the internet and seldom anyone's LAN.
INTERNAL_RANGE = ipaddress.ip_network("198.18.0.0/15")
MAX_PROXY_PIDS = 96  # the proxy's threads (one per connection, 64 at most) count against this


@dataclass(frozen=True, slots=True, kw_only=True)
class EgressEvent:
    """One decision of the proxy: `event` is "allowed", "denied" or "failed" (upstream unreachable)."""

    event: str
    host: str
    port: int | None
    via: str  # CONNECT, the HTTP method, or "tcp"
    reason: str


def networked_runtime(runtimes: Mapping[str, Any], runtime: str | None) -> str | None:
    """The runtime to give a sandbox that has a network, from the engine's registered `runtimes`.

    A runtime registered with `--network=none` (gVisor as scripts/setup registers it) ignores
    the container's network: use its `-net` twin, or fail closed.
    """
    if runtime is None or "--network=none" not in _runtime_args(runtimes, runtime):
        return runtime
    twin = f"{runtime}-net"
    if twin in runtimes and "--network=none" not in _runtime_args(runtimes, twin):
        return twin
    raise RuntimeUnavailableError(
        f"runtime {runtime!r} is registered with --network=none, so a sandbox under it has no network at all "
        f"and allow_hosts / network= cannot work; register {twin!r} beside it without that flag (scripts/setup "
        "does, then reload the engine: kill -HUP $(cat /var/run/docker.pid)), or drop runtime="
    )


def _runtime_args(runtimes: Mapping[str, Any], name: str) -> list[str]:
    entry = runtimes.get(name) or {}
    return list(entry.get("runtimeArgs") or entry.get("args") or []) if isinstance(entry, Mapping) else []


def _create_internal_network(client: Any, name: str, labels: Mapping[str, str]) -> Any:
    """A bridge with no route out and no address on the host, on a random /26 of INTERNAL_RANGE.

    Our own range, not the engine's default pools: those hold about 30 networks in all, and an
    executor per agent would use them up for every other Docker user on the machine. The host
    gets no route to the subnet, so it cannot clash with the host's own networks either.
    """
    slots = INTERNAL_RANGE.num_addresses // 64
    for _ in range(16):
        subnet = ipaddress.ip_network((int(INTERNAL_RANGE.network_address) + 64 * random.randrange(slots), 26))
        try:
            with translate():
                return client.networks.create(
                    name,
                    driver="bridge",
                    internal=True,  # no route out of the network
                    # No address for the bridge on the host: without this, code on an "internal"
                    # network still reaches every host service listening on 0.0.0.0 via the gateway.
                    options={"com.docker.network.bridge.inhibit_ipv4": "true"},
                    ipam=IPAMConfig(pool_configs=[IPAMPool(subnet=str(subnet))]),
                    labels=dict(labels),
                    check_duplicate=True,
                )
        except SandboxError as exc:
            if "overlaps" not in str(exc):
                raise
    raise SandboxError(f"no free /26 left in {INTERNAL_RANGE} after 16 tries: close executors you no longer use, or run `sandbox reap`")


class EgressPolicy:
    """One executor's internal network and filtering proxy; `close()` removes both.

    Pass `network` as the sandbox's `network_mode` (or merge `container_options()`), and merge
    `environment` into its environment.
    """

    def __init__(self, client: Any, rules: tuple[AllowedHost, ...], network: Any) -> None:
        self._client = client
        self.rules = rules
        self._network = network
        self._proxy: Any = None
        self.proxy_address = ""
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def open(
        cls,
        client: Any,
        *,
        allow_hosts: Iterable[str | AllowedHost],
        image: str,
        labels: Mapping[str, str],
        runtime: str | None = None,
        egress_network: str | None = None,
        name: str | None = None,
    ) -> EgressPolicy:
        """Create the internal network and start the proxy; on any failure remove both and raise."""
        rules = parse_allow_hosts(allow_hosts)
        if not rules:
            raise ValueError("allow_hosts is empty: an empty allow-list is no network, so open no policy at all")
        name = name or f"sandbox-egress-{labels.get('io.sandbox.executor', 'x')}"
        policy = cls(client, rules, _create_internal_network(client, name, labels))
        try:
            policy._start_proxy(image=image, labels=labels, runtime=runtime, egress_network=egress_network or "bridge")
        except BaseException:
            policy.close()
            raise
        return policy

    # -- what the sandbox container gets -------------------------------------------------

    @property
    def network(self) -> str:
        """The internal network's name: the sandbox container's `network_mode`."""
        return str(self._network.name)

    @property
    def environment(self) -> dict[str, str]:
        proxy = f"http://{self.proxy_address}:{PROXY_PORT}"
        no_proxy = "localhost,127.0.0.1,::1"
        return {"HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "http_proxy": proxy, "https_proxy": proxy,
                "NO_PROXY": no_proxy, "no_proxy": no_proxy}

    def container_options(self) -> dict[str, Any]:
        """docker-py `containers.run` keywords for a sandbox behind this policy."""
        return {
            "network_mode": self.network,
            # Names resolve only through /etc/hosts: Docker's resolver forwards every other name
            # to the proxy, which answers NXDOMAIN, so no query leaves through the engine's DNS.
            "dns": [self.proxy_address],
            "extra_hosts": {f["host"]: self.proxy_address for f in self._forwards()},
        }

    # -- the proxy -----------------------------------------------------------------------

    def _forwards(self) -> list[dict[str, Any]]:
        """Raw TCP forwards: one per `name:port` entry, the first entry winning a shared port."""
        taken = {PROXY_PORT}
        forwards = []
        for rule in self.rules:
            if rule.port_given and not rule.wildcard and not rule.is_ip and rule.ports[0] not in taken:
                taken.add(rule.ports[0])
                forwards.append({"host": rule.host, "port": rule.ports[0]})
        return forwards

    def _start_proxy(self, *, image: str, labels: Mapping[str, str], runtime: str | None, egress_network: str) -> None:
        self._network.reload()
        subnet = self._network.attrs["IPAM"]["Config"][0]["Subnet"]
        config = {
            "port": PROXY_PORT,
            "internal": subnet,
            "rules": [{"host": r.host, "ports": list(r.ports), "wildcard": r.wildcard} for r in self.rules],
            "forwards": self._forwards(),
            "dns_port": 53,
        }
        options: dict[str, Any] = dict(
            image=image,
            command=["python3", "-I", "-S", "-c", _PROXY_SOURCE, json.dumps(config)],
            user="65532:65532",
            read_only=True,
            cap_drop=["ALL"],
            # DNS (53) and forwards of low ports: runc lets anyone bind them in a container's network
            # namespace (Docker sets ip_unprivileged_port_start=0), gVisor wants this capability in
            # the bounding set. The proxy's uid is not root, so its effective capabilities stay empty.
            cap_add=["NET_BIND_SERVICE"],
            security_opt=["no-new-privileges"],
            mem_limit="128m",
            memswap_limit="128m",
            pids_limit=MAX_PROXY_PIDS,
            nano_cpus=int(0.5e9),
            network=self.network,
            labels=dict(labels),
            log_config={"type": "json-file", "config": {"max-size": "2m", "max-file": "1"}},
            detach=True,
        )
        if runtime:
            options["runtime"] = runtime
        with translate(image=image, runtime=runtime):
            self._proxy = self._client.containers.create(**options)
            try:
                egress = self._client.networks.get(egress_network)
            except docker.errors.NotFound:
                raise SandboxError(
                    f"egress_network {egress_network!r} does not exist: create it (docker network create "
                    f"{egress_network}) or leave egress_network unset for the engine's default bridge"
                ) from None
            egress.connect(self._proxy)
            try:
                self._proxy.start()
            except docker.errors.APIError as exc:
                if "executable file not found" not in str(exc):
                    raise
                raise SandboxError(
                    f"the egress proxy runs `python3` from the sandbox image, and {image!r} has none: "
                    "use an image with python3 (python:3.11-slim has it) or drop allow_hosts"
                ) from exc
            self._wait_ready(image)
            self._proxy.reload()
            self.proxy_address = self._proxy.attrs["NetworkSettings"]["Networks"][self.network]["IPAddress"]

    def _wait_ready(self, image: str) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline:
            logs = self._proxy.logs(stdout=True, stderr=True).decode("utf-8", "replace")
            if '"event": "ready"' in logs:
                return
            self._proxy.reload()
            if self._proxy.status not in ("created", "running"):
                raise SandboxError(
                    f"the egress proxy exited before it was ready, in image {image!r} ({logs.strip()[-400:] or self._proxy.status}); "
                    "if that image's python3 is older than 3.8, use one with a newer python3 (python:3.11-slim)"
                )
            time.sleep(0.02)
        raise SandboxError(f"the egress proxy did not start within {_READY_TIMEOUT:g} s: is the engine overloaded?")

    def events(self) -> list[EgressEvent]:
        """The proxy's decisions so far, oldest first (read from its log, kept outside the sandbox)."""
        if self._proxy is None or self._closed:
            return []
        with translate():
            try:
                text = self._proxy.logs(stdout=True, stderr=False).decode("utf-8", "replace")
            except docker.errors.NotFound:
                return []
        out = []
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("event") in ("allowed", "denied", "failed"):
                out.append(EgressEvent(event=record["event"], host=str(record.get("host", record.get("client", ""))),
                                       port=record.get("port"), via=str(record.get("via", "")), reason=str(record.get("reason", ""))))
        return out

    def denials(self) -> list[EgressEvent]:
        return [e for e in self.events() if e.event == "denied"]

    # -- teardown ------------------------------------------------------------------------

    def close(self) -> None:
        """Remove the proxy, then the network (detaching whatever is still on it). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._proxy is not None:
            try:
                self._proxy.remove(force=True)
            except Exception:  # gone already; the reaper is the backstop
                pass
        deadline = time.monotonic() + 5
        while True:
            try:
                self._network.remove()
                return
            except docker.errors.NotFound:
                return
            except docker.errors.APIError as exc:
                # 403 "has active endpoints": a sandbox container still attached (its auto-remove
                # in progress); detach it and retry. Anything else: leave it to `sandbox reap`.
                if exc.status_code != 403 or time.monotonic() > deadline:
                    return
                self._detach_all()
                time.sleep(0.05)
            except Exception:  # the engine went away; `sandbox reap` removes orphaned networks
                return

    def _detach_all(self) -> None:
        try:
            self._network.reload()
            for cid in (self._network.attrs.get("Containers") or {}):
                self._network.disconnect(cid, force=True)
        except Exception:
            pass


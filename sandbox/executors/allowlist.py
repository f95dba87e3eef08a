"""What `allow_hosts=` entries mean, checked before anything is created.

- `name` allows that exact name (case-insensitive, a trailing dot ignored) on ports 80 and
  443; `name:port` only that port. `*.example.com` allows every name under example.com, not
  example.com itself. A bare `*` is refused: that is `network=True`.
- An IP literal (`10.0.0.5`, `[fd00::5]:8080`) matches requests that name that address; a name
  that resolves to it does not match the literal's rule. Loopback literals are refused: the
  proxy's own loopback holds nothing.
- Anything else (a scheme, a path, an empty entry, a bad port) is a ValueError naming the fix.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["DEFAULT_PORTS", "AllowedHost", "check_network_options", "parse_allow_hosts"]

DEFAULT_PORTS = (80, 443)
_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")


@dataclass(frozen=True, slots=True, kw_only=True)
class AllowedHost:
    """One parsed `allow_hosts` entry: `host` lower-case (the suffix, for `*.suffix`)."""

    host: str
    ports: tuple[int, ...]
    wildcard: bool = False
    port_given: bool = False

    @property
    def is_ip(self) -> bool:
        return _ip(self.host) is not None

    def __str__(self) -> str:
        host = f"*.{self.host}" if self.wildcard else (f"[{self.host}]" if ":" in self.host else self.host)
        return f"{host}:{self.ports[0]}" if self.port_given else host


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _parse_entry(entry: object) -> AllowedHost:
    def bad(why: str, fix: str) -> ValueError:
        return ValueError(f"allow_hosts entry {entry!r} {why}: {fix}")

    if not isinstance(entry, str):
        raise bad("is not a string", "give host names such as 'pypi.internal.example' or 'host:port'")
    text = entry.strip()
    if not text:
        raise bad("is empty", "remove it, or give a host such as 'pypi.internal.example'")
    if any(c.isspace() for c in text):
        raise bad("contains whitespace", "give one host per entry, e.g. ['a.example', 'b.example:8080']")
    if "://" in text or "/" in text or "@" in text:
        raise bad("is not a bare host", "drop the scheme, user and path: write 'host' or 'host:port', e.g. 'example.com:443'")
    port_text = ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise bad("is not [IPv6]:port", "write e.g. '[fd00::5]:8080'")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        if not port_text:
            raise bad("has an empty port", "write 'host:port' with a port from 1 to 65535, or leave the port out for 80 and 443")
    else:
        host = text  # a name, an IPv4 literal, or an IPv6 literal without a port
    if port_text and not (port_text.isdigit() and 0 < int(port_text) < 65536):
        raise bad("has a bad port", "use a port from 1 to 65535, or leave it out for 80 and 443")
    ports = (int(port_text),) if port_text else DEFAULT_PORTS
    host = host.lower().rstrip(".")
    ip = _ip(host)
    if ip is not None:
        if ip.is_loopback or ip.is_unspecified or ip.is_multicast:
            raise bad(
                "is loopback, unspecified or multicast",
                "the proxy's own loopback holds nothing; to reach a service on this host, bind it to the "
                "egress network's gateway address (e.g. 172.17.0.1 on the default bridge) and list that",
            )
        return AllowedHost(host=ip.compressed, ports=ports, port_given=bool(port_text))
    wildcard = host.startswith("*.")
    name = host[2:] if wildcard else host
    if host == "*" or "*" in name:
        raise bad("is a wildcard we do not support", "list names, or '*.suffix' for every name under suffix; for any host use network=True")
    labels = name.split(".")
    if not name or not all(_LABEL.match(label) for label in labels) or len(name) > 253:
        raise bad("is not a valid host name", "use letters, digits, '-', '_' and dots (non-ASCII names in their xn-- form)")
    if labels[-1].isdigit():
        raise bad("looks like a partial IP address", "write IPv4 addresses in full dotted form, e.g. '10.0.0.5'")
    return AllowedHost(host=name, ports=ports, wildcard=wildcard, port_given=bool(port_text))


def parse_allow_hosts(entries: Iterable[str | AllowedHost]) -> tuple[AllowedHost, ...]:
    """Validate `allow_hosts`; a bad entry is a ValueError that says how to write it."""
    if isinstance(entries, str):
        raise ValueError(f"allow_hosts must be a list of hosts, not the string {entries!r}: write allow_hosts=[{entries!r}]")
    return tuple(entry if isinstance(entry, AllowedHost) else _parse_entry(entry) for entry in entries)


def check_network_options(
    *, network: bool | str, allow_hosts: Sequence[str] | None, egress_network: str | None
) -> tuple[AllowedHost, ...]:
    """The parsed allow-list (empty: no allow-list); ValueError for contradicting options."""
    rules = parse_allow_hosts(allow_hosts or ())
    if rules and network:
        raise ValueError(
            f"allow_hosts and network={network!r} contradict each other: network= gives the code the whole "
            "network, allow_hosts only the listed hosts. Drop network= (to choose the network the filtering "
            "proxy reaches out through, pass egress_network=)"
        )
    if egress_network is not None and not rules:
        raise ValueError(
            "egress_network= only chooses where the allow_hosts proxy reaches out: give allow_hosts=[...] too, "
            f"or use network={egress_network!r} for an unfiltered network (dangerous)"
        )
    return rules

"""The egress proxy: the only way out of a sandbox that has an allow-list (`allow_hosts=`).

It runs in a container of its own, attached to the executor's internal network (no route out)
and to one network with egress, as `python3 -I -S -c <this source> <config JSON>`: standard
library only, because the sandbox image is the only image we can count on. Nothing inside the
sandbox can reconfigure it: its rules arrive once, on its command line, and it has no control
port. Its own code is ours; what it parses (request heads) is the untrusted code's.

What it forwards, and only for a peer on the internal network:
- `CONNECT host:port` (HTTPS, or any TCP through a proxy-aware client), and
- absolute-form HTTP requests (`GET http://host:port/path`), sent upstream with
  `Connection: close` so a kept-alive client cannot reuse the upstream socket for another host;
- raw TCP on the port of each `name:port` entry (the sandbox's /etc/hosts maps the name to us),
  for clients that ignore HTTP_PROXY.
It also answers the sandbox's DNS (Docker's resolver forwards to us): NXDOMAIN for every name.
A destination must match a rule (exact name, `*.suffix`, or IP literal, and a listed port).
The proxy then resolves the name itself and connects to exactly the address it checked (no
second lookup a rebinding DNS server could answer differently), and never to loopback,
unspecified, multicast or the internal network itself, nor to link-local addresses unless
that literal address is listed. Every decision is one JSON line on stdout (`docker logs`).
"""

from __future__ import annotations

import ipaddress
import json
import select
import socket
import socketserver
import sys
import threading
from typing import Any, Union

HEAD_LIMIT = 64 * 1024  # a request head larger than this is refused (431)
HEAD_TIMEOUT = 30  # seconds a client may take to send its request head
CONNECT_TIMEOUT = 10
IDLE_TIMEOUT = 300  # a relay with no traffic either way for this long is closed
MAX_CONNECTIONS = 64  # each costs a thread, and threads count against the container's pids limit

_log_lock = threading.Lock()


def log(event: str, **fields: object) -> None:
    with _log_lock:
        sys.stdout.write(json.dumps({"event": event, **fields}, sort_keys=True) + "\n")
        sys.stdout.flush()


IP = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]  # not X | Y: the image's python3 may predate 3.10


def _ip(text: str) -> IP | None:
    try:
        ip = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1 is 127.0.0.1
    return mapped if isinstance(mapped, ipaddress.IPv4Address) else ip


class Policy:
    """The rules: [{"host": "a.example", "ports": [80, 443], "wildcard": false}, ...]."""

    def __init__(self, rules: list[dict[str, Any]], internal: str) -> None:
        self.rules = [(str(r["host"]), {int(p) for p in r["ports"]}, bool(r["wildcard"])) for r in rules]
        self.internal = ipaddress.ip_network(internal)
        self.literals = {ip for ip in (_ip(host) for host, _, _ in self.rules) if ip is not None}

    def on_internal_network(self, ip: IP) -> bool:
        return ip.version == self.internal.version and ip in self.internal

    def allows(self, host: str, port: int) -> str:
        """'' when host:port matches a rule, else the reason it does not."""
        name = host.lower().rstrip(".")
        literal = _ip(name)
        for wanted, ports, wildcard in self.rules:
            if port not in ports:
                continue
            if literal is not None:
                if _ip(wanted) == literal:
                    return ""
            elif (wildcard and name.endswith("." + wanted)) or (not wildcard and name == wanted):
                return ""
        return f"{host}:{port} is not in the sandbox's allow_hosts"

    def refuses_address(self, address: str) -> str:
        """'' when the proxy may connect to this resolved address, else why not."""
        ip = _ip(address)
        if ip is None:
            return f"{address} is not an IP address"
        if ip.is_loopback or ip.is_unspecified or ip.is_multicast:
            return f"{ip} is loopback, unspecified or multicast"
        if self.on_internal_network(ip):
            return f"{ip} is on the sandbox's own internal network"
        if ip.is_link_local and ip not in self.literals:
            return f"{ip} is link-local (cloud metadata lives there); list it literally to allow it"
        return ""

    def connect(self, host: str, port: int) -> socket.socket:
        """A socket to the first acceptable address of host; PermissionError(reason) if none."""
        try:
            infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise ConnectionError(f"cannot resolve {host}: {exc.strerror}") from None
        refused, failed = [], []
        for family, kind, proto, _, sockaddr in infos:
            reason = self.refuses_address(str(sockaddr[0]))
            if reason:
                refused.append(reason)
                continue
            sock = socket.socket(family, kind, proto)
            sock.settimeout(CONNECT_TIMEOUT)
            try:
                sock.connect(sockaddr)  # exactly the address we checked
            except OSError as exc:
                sock.close()
                failed.append(f"{sockaddr[0]}: {exc.strerror or exc}")
                continue
            sock.settimeout(IDLE_TIMEOUT)
            return sock
        if refused and not failed:
            raise PermissionError(f"{host} resolves to an address the proxy never forwards to: {'; '.join(refused)}")
        raise ConnectionError(f"cannot connect to {host}:{port}: {'; '.join(failed + refused) or 'no address'}")


def split_host_port(text: str, default: int) -> tuple[str, int]:
    if text.startswith("["):  # [v6]:port
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, ""
    if not host or (port and not port.isdigit()) or not 0 < int(port or default) < 65536:
        raise ValueError(f"bad host:port {text!r}")
    return host, int(port or default)


def relay(a: socket.socket, b: socket.socket) -> None:
    peer = {a: b, b: a}
    live = [a, b]
    while live:
        readable, _, _ = select.select(live, [], [], IDLE_TIMEOUT)
        if not readable:
            return
        for s in readable:
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                live.remove(s)
                try:
                    peer[s].shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                continue
            peer[s].sendall(data)


def reply(sock: socket.socket, status: str, reason: str) -> None:
    body = f"sandbox egress proxy: {reason}\n".encode()
    head = f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
    sock.sendall(head.encode() + "X-Sandbox-Egress: denied\r\nConnection: close\r\n\r\n".encode() + body)


_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "upgrade"}


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, port: int, policy: Policy, forward: tuple[str, int] | None) -> None:
        self.policy = policy
        self.forward = forward  # None: the HTTP proxy; (host, port): a raw TCP forward
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(("0.0.0.0", port), Handler)

    def verify_request(self, request: object, client_address: object) -> bool:
        """Serve peers on the internal network only; a slot taken here is given back in `Handler.finish`."""
        client = str(client_address[0]) if isinstance(client_address, tuple) else "?"
        peer = _ip(client)
        if peer is None or not self.policy.on_internal_network(peer):
            log("denied", client=client, reason="peer is not on the internal network")
            return False
        if not self.slots.acquire(blocking=False):
            log("denied", client=client, reason=f"more than {MAX_CONNECTIONS} connections at once")
            return False
        return True


class Handler(socketserver.BaseRequestHandler):
    server: Server

    def finish(self) -> None:
        self.server.slots.release()

    def handle(self) -> None:
        client: socket.socket = self.request
        policy = self.server.policy
        if self.server.forward is not None:
            host, port = self.server.forward
            self.tunnel(client, host, port, via="tcp", greeting=b"", rest=b"")
            return
        client.settimeout(HEAD_TIMEOUT)
        head, rest = b"", b""
        try:
            while b"\r\n\r\n" not in head:
                chunk = client.recv(65536)
                if not chunk:
                    return
                head += chunk
                if len(head) > HEAD_LIMIT and b"\r\n\r\n" not in head[:HEAD_LIMIT]:
                    reply(client, "431 Request Header Fields Too Large", "request head over 64 KiB")
                    return
        except OSError:
            return
        head, _, rest = head.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ")
            if method == "CONNECT":
                host, port = split_host_port(target, 443)
                path = ""
            else:
                if not target.lower().startswith("http://"):
                    raise ValueError("only absolute http:// URLs and CONNECT are proxied")
                rest_of_url = target[len("http://"):]
                cut = min((i for i in (rest_of_url.find(c) for c in "/?#") if i >= 0), default=len(rest_of_url))
                host, port = split_host_port(rest_of_url[:cut].rpartition("@")[2], 80)
                path = rest_of_url[cut:]
        except ValueError as exc:
            reply(client, "400 Bad Request", str(exc) if "proxied" in str(exc) else f"cannot parse {lines[0][:200]!r}")
            return
        reason = policy.allows(host, port)
        if reason:
            log("denied", host=host, port=port, via=method, reason=reason)
            reply(client, "403 Forbidden", reason)
            return
        if method == "CONNECT":
            self.tunnel(client, host, port, via=method, greeting=b"HTTP/1.1 200 Connection established\r\n\r\n", rest=rest)
            return
        # Host is always the URL's: a server that routes by Host (a CDN, a reverse proxy) must not be
        # asked, through an allowed name, for a site behind it that is not on the list.
        headers = [h for h in lines[1:] if h.split(":", 1)[0].strip().lower() not in _HOP_BY_HOP | {"host"}]
        authority = f"[{host}]" if ":" in host else host
        headers.insert(0, f"Host: {authority}" + (f":{port}" if port != 80 else ""))
        upstream_head = "\r\n".join([f"{method} {path if path.startswith('/') else '/' + path} {version}", *headers, "Connection: close", "", ""])
        self.tunnel(client, host, port, via=method, greeting=b"", rest=upstream_head.encode("latin-1") + rest)

    def tunnel(self, client: socket.socket, host: str, port: int, *, via: str, greeting: bytes, rest: bytes) -> None:
        try:
            upstream = self.server.policy.connect(host, port)
        except PermissionError as exc:
            log("denied", host=host, port=port, via=via, reason=str(exc))
            if via != "tcp":
                reply(client, "403 Forbidden", str(exc))
            return
        except ConnectionError as exc:
            log("failed", host=host, port=port, via=via, reason=str(exc))
            if via != "tcp":
                reply(client, "502 Bad Gateway", str(exc))
            return
        log("allowed", host=host, port=port, via=via)
        with upstream:
            try:
                client.settimeout(IDLE_TIMEOUT)
                client.sendall(greeting)
                upstream.sendall(rest)
                relay(client, upstream)
            except OSError:
                pass  # either side went away


def dns_refusal(query: bytes) -> tuple[bytes, str] | None:
    """An NXDOMAIN answer to a DNS query, and the name asked for; None for what is not a query.

    The sandbox's resolver asks Docker's, which forwards names it does not know to us: every
    answer is "no such name", at once (a silent drop would make each lookup hang ~10 s).
    """
    if len(query) < 12 or query[2] & 0x80 or int.from_bytes(query[4:6], "big") != 1:
        return None
    labels, at = [], 12
    while at < len(query) and query[at] != 0:
        size = query[at]
        if size > 63 or at + 1 + size > len(query):
            return None
        labels.append(query[at + 1:at + 1 + size].decode("ascii", "replace"))
        at += 1 + size
    end = at + 5  # the root label, QTYPE and QCLASS
    if end > len(query):
        return None
    flags = 0x8000 | (query[2] & 0x79) << 8 | 0x0080 | 3  # QR, the query's opcode and RD, RA, NXDOMAIN
    header = query[:2] + flags.to_bytes(2, "big") + b"\x00\x01" + b"\x00\x00" * 3
    return header + query[12:end], ".".join(labels)


def serve_dns(port: int, policy: Policy) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", port))
    while True:
        query, peer = sock.recvfrom(4096)
        answer = dns_refusal(query)
        if answer is None:
            continue
        # Docker's resolver forwards from inside the sandbox's network namespace, so its queries
        # come from the sandbox's address; the policy's peer check applies to them as to TCP.
        address = _ip(str(peer[0]))
        if address is not None and policy.on_internal_network(address):
            log("denied", host=answer[1], via="dns", reason="the sandbox resolves no names; its proxy does")
            sock.sendto(answer[0], peer)


def main(argv: list[str]) -> int:
    config = json.loads(argv[1])
    policy = Policy(config["rules"], config["internal"])
    servers = [Server(int(config["port"]), policy, None)]
    for fwd in config.get("forwards", []):
        servers.append(Server(int(fwd["port"]), policy, (str(fwd["host"]), int(fwd["port"]))))
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    if config.get("dns_port"):
        threading.Thread(target=serve_dns, args=(int(config["dns_port"]), policy), daemon=True).start()
    log("ready", port=config["port"], forwards=[f["port"] for f in config.get("forwards", [])])
    servers[0].serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

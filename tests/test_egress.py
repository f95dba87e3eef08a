"""The allow-list on a real engine: only listed hosts are reachable, from nothing but servers these tests start.

Every server here is a container on a network this module creates (or, for the CLI, a server
on this host's default-bridge gateway address); no test sends a packet off this machine.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox import CodeBlock, DockerExecutor, SandboxError
from sandbox.executors import egress
from sandbox.labels import EXECUTOR, MANAGED, OWNER_PID
from sandbox.reap import reap

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_required")]

SERVER = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (self.headers["Host"] if self.path == "/host" else f"{sys.argv[1]} {self.path}").encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
http.server.ThreadingHTTPServer(("0.0.0.0", 8000), H).serve_forever()
"""
TEST_LABEL = {"io.sandbox.test": "egress"}  # not io.sandbox.managed: reap must leave these alone


def client() -> Any:
    from sandbox.executors.docker import _connect

    return _connect()


@pytest.fixture(scope="module")
def lan() -> Iterator[dict[str, str]]:
    """A network of our own with two HTTP servers: mirror.internal.test (allowed) and secret.test (not)."""
    from tests.conftest import require_docker

    require_docker()  # module fixtures run before the function-scoped docker_required: skip (or, in CI, fail) here
    api = client()
    net = api.networks.create(f"sandbox-test-lan-{os.getpid()}", driver="bridge", labels=TEST_LABEL)
    servers = []
    try:
        for alias in ("mirror.internal.test", "secret.test"):
            servers.append(api.containers.run(
                "python:3.11-slim", ["python3", "-c", SERVER, alias], user="65532", labels=TEST_LABEL, detach=True,
                network=net.name, networking_config={net.name: api.api.create_endpoint_config(aliases=[alias])},
                cap_drop=["ALL"], read_only=True,
            ))
        for server in servers:
            server.reload()
        yield {"network": net.name, "secret_ip": servers[1].attrs["NetworkSettings"]["Networks"][net.name]["IPAddress"],
               "gateway": net.attrs["IPAM"]["Config"][0]["Gateway"] if net.attrs["IPAM"]["Config"] else ""}
    finally:
        for server in servers:
            server.remove(force=True)
        net.remove()
        api.close()


def ours(kind: str, **labels: str) -> list[Any]:
    api = client()
    try:
        filters = {"label": [f"{MANAGED}=true", *(f"{k}={v}" for k, v in labels.items())]}
        found = api.containers.list(all=True, filters=filters) if kind == "container" else api.networks.list(filters=filters)
        return list(found)
    finally:
        api.close()


@pytest.fixture(scope="module")
def allowed(lan: dict[str, str]) -> Iterator[DockerExecutor]:
    """One executor for the read-only checks: mirror.internal.test:8000 and a name that resolves to loopback."""
    with DockerExecutor(timeout=60, allow_hosts=["mirror.internal.test:8000", "localhost:8000"], egress_network=lan["network"]) as ex:
        yield ex


def run(ex: DockerExecutor, code: str, env: dict[str, str] | None = None) -> str:
    result = ex.execute([CodeBlock(textwrap.dedent(code), "python")])
    assert result.ok, result.output
    return result.stdout


FETCH = """
import json, urllib.request, urllib.error
out = {}
for url in URLS:
    try:
        out[url] = [200, urllib.request.urlopen(url, timeout=10).read().decode()]
    except urllib.error.HTTPError as exc:
        out[url] = [exc.code, exc.read().decode()]
print(json.dumps(out))
"""


def fetch(ex: DockerExecutor, *urls: str) -> dict[str, list[Any]]:
    return json.loads(run(ex, f"URLS = {list(urls)!r}\n" + FETCH))  # type: ignore[no-any-return]


def test_an_allowed_host_is_reachable_and_every_other_gets_a_403_with_the_reason(allowed: DockerExecutor) -> None:
    got = fetch(allowed, "http://mirror.internal.test:8000/simple/", "http://secret.test:8000/", "http://mirror.internal.test:8001/")
    assert got["http://mirror.internal.test:8000/simple/"] == [200, "mirror.internal.test /simple/"]
    assert got["http://secret.test:8000/"][0] == 403
    assert "secret.test:8000 is not in the sandbox's allow_hosts" in got["http://secret.test:8000/"][1]
    assert got["http://mirror.internal.test:8001/"][0] == 403  # a listed name, an unlisted port
    assert allowed.egress is not None
    denied = {(e.host, e.port) for e in allowed.egress.denials()}
    assert {("secret.test", 8000), ("mirror.internal.test", 8001)} <= denied
    assert any(e.event == "allowed" and e.host == "mirror.internal.test" for e in allowed.egress.events())


def test_the_host_header_is_the_urls_so_an_allowed_server_cannot_be_asked_for_another_site(allowed: DockerExecutor) -> None:
    out = run(allowed, """
        import urllib.request
        request = urllib.request.Request("http://mirror.internal.test:8000/host", headers={"Host": "secret.test"})
        print(urllib.request.urlopen(request, timeout=10).read().decode())
    """)
    assert out == "mirror.internal.test:8000\n"


def test_connect_tunnels_to_allowed_hosts_only(allowed: DockerExecutor) -> None:
    out = run(allowed, """
        import os, socket
        proxy = os.environ["HTTPS_PROXY"].removeprefix("http://").split(":")
        def connect(target):
            s = socket.create_connection((proxy[0], int(proxy[1])), timeout=10)
            s.sendall(f"CONNECT {target} HTTP/1.1\\r\\nHost: {target}\\r\\n\\r\\n".encode())
            status = s.recv(4096).split(b"\\r\\n")[0].decode()
            if status.endswith("200 Connection established"):
                s.sendall(b"GET /tunnelled HTTP/1.0\\r\\n\\r\\n")
                status += " | " + b"".join(iter(lambda: s.recv(4096), b"")).split(b"\\r\\n\\r\\n")[-1].decode()
            return status
        print(connect("mirror.internal.test:8000"))
        print(connect("secret.test:8000"))
        print(connect("localhost:8000"))  # listed, but resolves to loopback
    """).splitlines()
    assert out[0] == "HTTP/1.1 200 Connection established | mirror.internal.test /tunnelled"
    assert out[1] == "HTTP/1.1 403 Forbidden"
    assert out[2] == "HTTP/1.1 403 Forbidden"
    assert allowed.egress is not None
    assert any(e.host == "localhost" and "loopback" in e.reason for e in allowed.egress.denials())


def test_a_name_port_entry_also_serves_clients_that_ignore_the_proxy(allowed: DockerExecutor) -> None:
    out = run(allowed, """
        import socket
        print(socket.gethostbyname("mirror.internal.test"))
        s = socket.create_connection(("mirror.internal.test", 8000), timeout=10)
        s.sendall(b"GET /raw HTTP/1.0\\r\\n\\r\\n")
        print(b"".join(iter(lambda: s.recv(4096), b"")).split(b"\\r\\n\\r\\n")[-1].decode())
    """).splitlines()
    assert allowed.egress is not None
    assert out == [allowed.egress.proxy_address, "mirror.internal.test /raw"]


def test_code_cannot_go_around_the_proxy(allowed: DockerExecutor, lan: dict[str, str]) -> None:
    assert allowed.egress is not None
    targets = [(lan["secret_ip"], 8000), (lan["gateway"], 8000), ("172.17.0.1", 22), (allowed.egress.proxy_address, 22)]
    out = json.loads(run(allowed, f"""
        import concurrent.futures, json, os, socket, time
        out = {{"dns": []}}
        def attempt(target):
            try:
                socket.create_connection(target, timeout=3).close()
                return "connected"
            except OSError as exc:
                return type(exc).__name__
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            out["direct"] = list(pool.map(attempt, {targets!r}))
        for name in ("secret.test", "mirror", "{lan['network']}"):
            started = time.monotonic()
            try:
                out["dns"].append(socket.gethostbyname(name))
            except OSError:
                out["dns"].append(None)
            out.setdefault("dns_seconds", []).append(round(time.monotonic() - started, 2))
        out["interfaces"] = sorted(os.listdir("/sys/class/net"))
        out["addresses"] = sorted({{a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None)}})
        out["ipv6"] = open("/proc/net/if_inet6").read()
        status = dict(l.split(":\\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\\t" in l)
        out["caps"] = status["CapEff"].strip()
        print(json.dumps(out))
    """))
    print("sandbox DNS failure took (s):", out["dns_seconds"])
    assert "connected" not in out["direct"], out  # the server, the LAN's gateway, the host, the proxy's other ports
    assert out["dns"] == [None, None, None]
    assert out["interfaces"] == ["eth0", "lo"] and out["ipv6"] == ""
    import ipaddress

    subnet = ipaddress.ip_network(client().networks.get(allowed.egress.network).attrs["IPAM"]["Config"][0]["Subnet"])
    assert all(ipaddress.ip_address(a) in subnet for a in out["addresses"]), out["addresses"]
    assert out["caps"] == "0000000000000000"  # no NET_ADMIN: no routes, no iptables, no raw sockets


def test_the_proxy_is_hardened_and_labelled_like_a_sandbox(allowed: DockerExecutor) -> None:
    proxies = ours("container", **{EXECUTOR: allowed.id, "io.sandbox.mode": "egress"})
    assert len(proxies) == 1
    attrs = proxies[0].attrs
    host = attrs["HostConfig"]
    assert attrs["Config"]["User"] == "65532:65532"
    assert host["ReadonlyRootfs"] and host["CapDrop"] == ["ALL"] and "no-new-privileges" in host["SecurityOpt"]
    assert host["CapAdd"] == ["NET_BIND_SERVICE"]  # bounding set only (gVisor wants it for ports < 1024) ...
    status = proxies[0].exec_run(["python3", "-c", "print(open('/proc/1/status').read())"], user="65532").output.decode()
    assert "CapEff:\t0000000000000000" in status  # ... the proxy's uid is not root: it holds no capability
    assert host["Memory"] > 0 and host["PidsLimit"] > 0
    networks = set(attrs["NetworkSettings"]["Networks"])
    assert allowed.egress is not None and allowed.egress.network in networks and len(networks) == 2
    internal = ours("network", **{EXECUTOR: allowed.id})
    assert [n.name for n in internal] == [allowed.egress.network]
    assert internal[0].attrs["Internal"] is True


def test_the_proxy_serves_nobody_but_its_sandboxes(allowed: DockerExecutor, lan: dict[str, str]) -> None:
    # Another container on the proxy's egress network must not get an open proxy out of it.
    proxy = ours("container", **{EXECUTOR: allowed.id, "io.sandbox.mode": "egress"})[0]
    outside_ip = proxy.attrs["NetworkSettings"]["Networks"][lan["network"]]["IPAddress"]
    probe = textwrap.dedent(f"""
        import socket
        s = socket.create_connection(({outside_ip!r}, 3128), timeout=10)
        s.sendall(b"CONNECT mirror.internal.test:8000 HTTP/1.1\\r\\n\\r\\n")
        print(repr(s.recv(4096)))
    """)
    api = client()
    try:
        out = api.containers.run("python:3.11-slim", ["python3", "-c", probe], network=lan["network"], user="65532",
                                 cap_drop=["ALL"], labels=TEST_LABEL, remove=True)
    finally:
        api.close()
    assert out.decode().strip() == "b''"  # closed without a word
    assert allowed.egress is not None
    assert any("not on the internal network" in e.reason for e in allowed.egress.denials())


def test_close_removes_the_proxy_and_the_network(lan: dict[str, str]) -> None:
    ex = DockerExecutor(allow_hosts=["mirror.internal.test:8000"], egress_network=lan["network"], session=True)
    assert run(ex, "print(1)") == "1\n"
    assert ours("container", **{EXECUTOR: ex.id}) and ours("network", **{EXECUTOR: ex.id})
    started = time.monotonic()
    ex.close()
    print(f"close() with a session container, the proxy and the network: {time.monotonic() - started:.2f} s")
    assert ours("container", **{EXECUTOR: ex.id}) == [] and ours("network", **{EXECUTOR: ex.id}) == []


def _egress_things() -> set[str]:
    """Ids of this process's proxies and networks (the module's live executor included)."""
    mine = {OWNER_PID: str(os.getpid()), "io.sandbox.mode": "egress"}
    return {c.id for c in ours("container", **mine)} | {n.id for n in ours("network", **mine)}


def test_a_failed_proxy_start_leaves_nothing(lan: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    before = _egress_things()
    with pytest.raises(SandboxError, match="docker network create"):
        DockerExecutor(allow_hosts=["mirror.internal.test:8000"], egress_network="sandbox-test-no-such-network")
    assert _egress_things() == before
    monkeypatch.setattr(egress, "_PROXY_SOURCE", "raise SystemExit('proxy failed on purpose')")
    with pytest.raises(SandboxError, match="proxy failed on purpose"):
        DockerExecutor(allow_hosts=["mirror.internal.test:8000"], egress_network=lan["network"])
    assert _egress_things() == before


OWNER = """
import sys
from sandbox import DockerExecutor
ex = DockerExecutor(allow_hosts=["mirror.internal.test:8000"], egress_network=sys.argv[1])
print(ex.id, flush=True)
sys.stdin.read()
"""


def test_reap_removes_the_proxy_and_network_of_a_sigkilled_owner(lan: dict[str, str], allowed: DockerExecutor) -> None:
    with subprocess.Popen([sys.executable, "-c", OWNER, lan["network"]], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as owner:
        try:
            assert owner.stdout is not None
            executor_id = owner.stdout.readline().strip()
            assert executor_id, "the owner never opened its executor"
        finally:
            owner.send_signal(signal.SIGKILL)
            owner.wait()
    assert len(ours("network", **{EXECUTOR: executor_id})) == 1
    removed = reap()
    assert {r.kind for r in removed if r.owner_pid == str(owner.pid)} == {"container", "network"}
    assert ours("network", **{EXECUTOR: executor_id}) == [] and ours("container", **{EXECUTOR: executor_id}) == []
    assert allowed.egress is not None and ours("network", **{EXECUTOR: allowed.id}), "reap removed a live owner's network"
    assert fetch(allowed, "http://mirror.internal.test:8000/still")["http://mirror.internal.test:8000/still"][0] == 200


def test_allow_hosts_under_gvisor(lan: dict[str, str]) -> None:
    api = client()
    try:
        runtimes = api.info().get("Runtimes") or {}
    finally:
        api.close()
    if "runsc" not in runtimes:
        pytest.skip("gVisor (runsc) is not registered with this engine")
    options: dict[str, Any] = dict(runtime="runsc", allow_hosts=["mirror.internal.test:8000"], egress_network=lan["network"])
    before = _egress_things()
    try:
        needed = egress.networked_runtime(runtimes, "runsc")
    except SandboxError:
        with pytest.raises(SandboxError, match="runsc-net"):
            DockerExecutor(**options)
        assert _egress_things() == before
        return
    with DockerExecutor(**options) as ex:
        assert ex.runtime == needed
        got = fetch(ex, "http://mirror.internal.test:8000/gvisor", "http://secret.test:8000/")
        assert got["http://mirror.internal.test:8000/gvisor"] == [200, "mirror.internal.test /gvisor"]
        assert got["http://secret.test:8000/"][0] == 403
        assert run(ex, "import os; print(sorted(os.listdir('/sys/class/net')))") == "['eth0', 'lo']\n"
    # network=<name> under gVisor: the whole (local, test-made) network, no longer silently none.
    with DockerExecutor(runtime="runsc", network=lan["network"]) as ex:
        assert ex.runtime == needed
        assert fetch(ex, "http://secret.test:8000/direct")["http://secret.test:8000/direct"] == [200, "secret.test /direct"]


class _Named(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"host server {self.server.server_address[1]}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_cli_allow_host_reaches_a_server_on_the_bridge_gateway_and_nothing_else() -> None:
    api = client()
    try:
        gateway = api.networks.get("bridge").attrs["IPAM"]["Config"][0]["Gateway"]
    finally:
        api.close()
    servers = [http.server.ThreadingHTTPServer((gateway, 0), _Named) for _ in range(2)]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    try:
        ports = [s.server_address[1] for s in servers]
        urls = [f"http://{gateway}:{p}/" for p in ports]
        done = subprocess.run(
            [sys.executable, "-m", "sandbox", "exec", "--allow-host", f"{gateway}:{ports[0]}", "-c", f"URLS = {urls!r}\n" + FETCH],
            capture_output=True, text=True, timeout=120,
        )
        assert done.returncode == 0, done.stderr
        got = json.loads(done.stdout)
        assert got[urls[0]] == [200, f"host server {ports[0]}"]
        assert got[urls[1]][0] == 403
        refused = subprocess.run([sys.executable, "-m", "sandbox", "exec", "--allow-host", "https://x", "-c", "1"],
                                 capture_output=True, text=True, timeout=60)
        assert refused.returncode == 2 and "drop the scheme" in refused.stderr
        both = subprocess.run([sys.executable, "-m", "sandbox", "exec", "--allow-host", "x.test", "--network", "bridge", "-c", "1"],
                              capture_output=True, text=True, timeout=60)
        assert both.returncode == 2 and "Drop network=" in both.stderr
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()


def test_cli_network_name_gives_the_code_that_whole_network(lan: dict[str, str]) -> None:
    urls = ["http://secret.test:8000/unfiltered"]
    done = subprocess.run(
        [sys.executable, "-m", "sandbox", "exec", "--network", lan["network"], "-c", f"URLS = {urls!r}\n" + FETCH],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[urls[0]] == [200, "secret.test /unfiltered"]

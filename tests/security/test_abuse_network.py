"""Network and secrets: no interface but loopback, no route, no DNS, no Docker socket, no host keys.

Everything is proved from inside, without sending a packet anywhere: the interfaces and routes
are read from /proc, and the "no route" probe is a UDP connect(), which only asks the kernel
for a route (192.0.2.1 is TEST-NET-1, documentation space that no network routes).
"""

from __future__ import annotations

import json

import pytest

from sandbox import Outcome

from conftest import Target

NOT_A_SANDBOX = "the local runner is not a sandbox: it shares the host's {}"


@pytest.mark.session
def test_no_interface_but_loopback_no_route_no_dns(target: Target) -> None:
    """Network: only `lo`, no route (IPv4 or IPv6), name resolution fails; nothing is sent."""
    if not target.is_docker:
        target.not_applicable(NOT_A_SANDBOX.format("network"))
    result = target.run(r"""
        import errno, json, socket
        report = {}
        devs = [line.split(':')[0].strip() for line in open('/proc/net/dev').read().splitlines()[2:]]
        report['interfaces'] = sorted(devs)
        report['if_nameindex'] = sorted(name for _, name in socket.if_nameindex())
        report['ipv4_routes'] = open('/proc/net/route').read().splitlines()[1:]
        try:
            v6 = [line.split()[-1] for line in open('/proc/net/ipv6_route').read().splitlines()]
        except OSError:
            v6 = []  # no IPv6 at all
        report['ipv6_route_devices'] = sorted(set(v6))
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.connect(('192.0.2.1', 9))  # UDP connect: a route lookup, no packet
            report['route_to_test_net'] = 'found'
        except OSError as exc:
            report['route_to_test_net'] = errno.errorcode[exc.errno]
        try:
            socket.getaddrinfo('sandbox-abuse-probe.invalid', 80)
            report['dns'] = 'resolved'
        except socket.gaierror as exc:
            report['dns'] = 'failed'
        report['nameservers'] = [l.split()[1] for l in open('/etc/resolv.conf') if l.startswith('nameserver')]
        reachable = []
        for ns in report['nameservers']:
            s = socket.socket(socket.AF_INET6 if ':' in ns else socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.connect((ns, 53))  # again only a route lookup
                reachable.append(ns)
            except OSError:
                pass
        report['reachable_nameservers'] = reachable
        print(json.dumps(report))
    """)
    assert result.outcome is Outcome.SUCCESS, result
    report = json.loads(result.stdout)
    assert report["interfaces"] == ["lo"] and report["if_nameindex"] == ["lo"], report
    assert report["ipv4_routes"] == [], report
    assert set(report["ipv6_route_devices"]) <= {"lo"}, report
    assert report["route_to_test_net"] in ("ENETUNREACH", "EHOSTUNREACH"), report
    assert report["dns"] == "failed", report
    # /etc/resolv.conf may name the host's resolver, but there is no route to it
    assert report["reachable_nameservers"] == [n for n in report["nameservers"] if n.startswith("127.")], report


@pytest.mark.session
def test_the_docker_socket_is_not_reachable(target: Target) -> None:
    """The Docker socket: not mounted, no Unix socket of the engine anywhere, no engine on TCP."""
    if not target.is_docker:
        target.not_applicable(NOT_A_SANDBOX.format("filesystem, Docker socket included"))
    result = target.run(r"""
        import os, socket, stat
        sockets = []
        for root, dirs, files in os.walk('/'):
            if root in ('/proc', '/sys'):
                dirs[:] = []
                continue
            for name in files + dirs:
                path = os.path.join(root, name)
                try:
                    if stat.S_ISSOCK(os.lstat(path).st_mode):
                        sockets.append(path)
                except OSError:
                    pass
        print('unix sockets:', sockets)
        for port in (2375, 2376):
            s = socket.socket()
            s.settimeout(1)
            print(port, 'open' if s.connect_ex(('127.0.0.1', port)) == 0 else 'closed')
        for path in ('/var/run/docker.sock', '/run/docker.sock'):
            print(path, os.path.exists(path))
    """)
    assert result.outcome is Outcome.SUCCESS, result
    assert "unix sockets: []" in result.stdout, result.stdout
    assert "2375 closed" in result.stdout and "2376 closed" in result.stdout
    assert "docker.sock True" not in result.stdout


def test_the_hosts_environment_is_not_visible(target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    """The host's environment: a fake API key planted in the caller's environment is seen
    nowhere: not in the code's environment, nor (Docker) in any process's /proc/*/environ."""
    secret = "sk-abuse-suite-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("SANDBOX_ABUSE_FAKE_KEY", secret)
    ex = target.executor()  # made after the key is planted, as a careless caller's would be
    # The local runner's code could read its caller's /proc/<pid>/environ: it is not a
    # sandbox, so only its own environment is checked there.
    result = target.run(f"""
        import os
        print('\\n'.join(f'{{k}}={{v}}' for k, v in os.environ.items()))
        if {target.is_docker}:
            for pid in filter(str.isdigit, os.listdir('/proc')):
                try:
                    print(open(f'/proc/{{pid}}/environ', 'rb').read().decode(errors='replace'))
                except OSError:
                    pass
    """, executor=ex)
    assert result.outcome is Outcome.SUCCESS, result
    assert "PATH=" in result.stdout  # the probe did print the environment
    assert secret not in result.output

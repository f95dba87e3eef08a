"""The allow-list's rules, without an engine: what an entry means, and what is refused before anything starts."""

from __future__ import annotations

import pytest

from sandbox import DockerExecutor, RuntimeUnavailableError
from sandbox._egress_proxy import Policy, split_host_port
from sandbox.executors.allowlist import AllowedHost, check_network_options, parse_allow_hosts
from sandbox.executors.egress import networked_runtime


def test_entries_parse_to_host_and_ports() -> None:
    mirror, api, ip, v6, wild = parse_allow_hosts(["Mirror.Internal.Example.", "api.example:8443", "10.0.0.5:8080", "[FD00::5]:9000", "*.corp.example"])
    assert mirror == AllowedHost(host="mirror.internal.example", ports=(80, 443))
    assert api == AllowedHost(host="api.example", ports=(8443,), port_given=True)
    assert (ip.host, ip.ports, ip.is_ip) == ("10.0.0.5", (8080,), True)
    assert (v6.host, v6.ports, str(v6)) == ("fd00::5", (9000,), "[fd00::5]:9000")
    assert (wild.host, wild.wildcard, str(wild)) == ("corp.example", True, "*.corp.example")


@pytest.mark.parametrize(
    ("entry", "fix"),
    [
        ("", "remove it"),
        ("  ", "remove it"),
        ("https://pypi.org", "drop the scheme"),
        ("pypi.org/simple", "drop the scheme"),
        ("user@host", "drop the scheme"),
        ("a.example b.example", "one host per entry"),
        ("host:0", "from 1 to 65535"),
        ("host:65536", "from 1 to 65535"),
        ("host:http", "from 1 to 65535"),
        ("host:", "empty port"),
        ("*", "network=True"),
        ("a.*.example", "network=True"),
        ("bad_char$.example", "xn--"),
        ("bücher.example", "xn--"),
        ("127.0.0.1:8080", "gateway address"),
        ("[::1]:8080", "gateway address"),
        ("0.0.0.0", "gateway address"),
        ("10.1", "dotted form"),
        ("[fd00::5]x", "[fd00::5]:8080"),
    ],
)
def test_a_bad_entry_is_a_value_error_naming_the_fix(entry: str, fix: str) -> None:
    with pytest.raises(ValueError, match="allow_hosts entry") as info:
        parse_allow_hosts([entry])
    assert fix in str(info.value)


def test_a_bare_string_is_refused_rather_than_read_letter_by_letter() -> None:
    with pytest.raises(ValueError, match=r"allow_hosts=\['pypi.org'\]"):
        parse_allow_hosts("pypi.org")


def test_contradicting_network_options_name_the_fix() -> None:
    with pytest.raises(ValueError, match="Drop network="):
        check_network_options(network=True, allow_hosts=["pypi.org"], egress_network=None)
    with pytest.raises(ValueError, match="Drop network="):
        check_network_options(network="corp-net", allow_hosts=["pypi.org"], egress_network=None)
    with pytest.raises(ValueError, match="give allow_hosts"):
        check_network_options(network=False, allow_hosts=None, egress_network="corp-net")
    assert check_network_options(network=False, allow_hosts=[], egress_network=None) == ()  # empty list: no network


def test_bad_input_fails_before_the_engine_is_even_contacted(monkeypatch: pytest.MonkeyPatch) -> None:
    # An engine address that cannot answer: a ValueError (not EngineUnavailableError) proves
    # the check ran first, so nothing (workspace, network, container) can have been made.
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(ValueError, match="drop the scheme"):
        DockerExecutor(allow_hosts=["http://pypi.org"])
    with pytest.raises(ValueError, match="contradict"):
        DockerExecutor(allow_hosts=["pypi.org"], network=True)


RUNTIMES = {
    "runc": {"path": "runc"},
    "runsc": {"path": "/usr/bin/runsc", "runtimeArgs": ["--network=none"]},
    "runsc-net": {"path": "/usr/bin/runsc", "runtimeArgs": ["--network=host"]},
}


def test_a_networked_sandbox_under_gvisor_uses_the_networked_registration() -> None:
    assert networked_runtime(RUNTIMES, None) is None
    assert networked_runtime(RUNTIMES, "runc") == "runc"
    assert networked_runtime(RUNTIMES, "runsc") == "runsc-net"
    open_runsc = {"runsc": {"path": "/usr/bin/runsc"}}  # registered without --network=none: it has a network
    assert networked_runtime(open_runsc, "runsc") == "runsc"


def test_gvisor_without_a_networked_registration_fails_closed() -> None:
    only_closed = {k: v for k, v in RUNTIMES.items() if k != "runsc-net"}
    with pytest.raises(RuntimeUnavailableError, match="scripts/setup") as info:
        networked_runtime(only_closed, "runsc")
    assert "runsc-net" in str(info.value) and "--network=none" in str(info.value)
    also_closed = {**only_closed, "runsc-net": {"path": "/usr/bin/runsc", "runtimeArgs": ["--network=none"]}}
    with pytest.raises(RuntimeUnavailableError):
        networked_runtime(also_closed, "runsc")


# -- the proxy's own decisions (its code, imported as a module) --------------------------------

POLICY = Policy(
    [
        {"host": "mirror.example", "ports": [80, 443], "wildcard": False},
        {"host": "corp.example", "ports": [443], "wildcard": True},
        {"host": "10.0.0.5", "ports": [8080], "wildcard": False},
        {"host": "fd00::5", "ports": [9000], "wildcard": False},
        {"host": "169.254.169.254", "ports": [80], "wildcard": False},
    ],
    "172.30.0.0/16",
)


@pytest.mark.parametrize(
    ("host", "port", "allowed"),
    [
        ("mirror.example", 443, True),
        ("MIRROR.example.", 80, True),
        ("mirror.example", 22, False),
        ("evil-mirror.example", 443, False),
        ("mirror.example.evil", 443, False),
        ("a.corp.example", 443, True),
        ("a.b.corp.example", 443, True),
        ("corp.example", 443, False),  # *.suffix is not the suffix itself
        ("xcorp.example", 443, False),
        ("a.corp.example", 80, False),
        ("10.0.0.5", 8080, True),
        ("010.000.000.005", 8080, False),  # not an address Python reads, so not the literal
        ("10.0.0.6", 8080, False),
        ("[fd00:0::5]", 9000, True),
        ("[::ffff:10.0.0.5]", 8080, True),  # the v4-mapped form is the same address
    ],
)
def test_the_proxy_matches_names_suffixes_literals_and_ports(host: str, port: int, allowed: bool) -> None:
    assert (POLICY.allows(host, port) == "") is allowed


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("93.184.216.34", ""),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("172.30.0.2", "internal network"),
        ("169.254.1.1", "link-local"),
        ("169.254.169.254", ""),  # listed literally: the caller asked for it
    ],
)
def test_the_proxy_never_connects_to_loopback_or_its_own_network(address: str, refused: str) -> None:
    reason = POLICY.refuses_address(address)
    assert (refused in reason and reason != "") if refused else reason == ""


def test_request_targets_split_into_host_and_port() -> None:
    assert split_host_port("example.com:8443", 443) == ("example.com", 8443)
    assert split_host_port("example.com", 443) == ("example.com", 443)
    assert split_host_port("[fd00::5]:9000", 443) == ("fd00::5", 9000)
    assert split_host_port("[fd00::5]", 80) == ("fd00::5", 80)
    for bad in ("example.com:x", "example.com:0", ":80", "[fd00::5]:99999"):
        with pytest.raises(ValueError):
            split_host_port(bad, 80)

"""The egress proxy's policy, with a stubbed resolver and connector: a refused destination is never dialled, so a
broken policy cannot send anything anywhere. Allowed ones are connected (by the stub) to a local echo server."""

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator

import pytest

from harness.sandboxes.base import NetworkPolicy
from harness.sandboxes.egress_policy import Allowed, IPAddress, Refused, decide, is_public
from harness.sandboxes.egress_proxy import EgressProxy, ProxyLimits

PUBLIC = "93.184.215.14"  # never dialled: the connector stub goes to the local echo server instead


class Upstream:
    """The stubbed outside world: records every dial, and connects allowed ones to a local echo server."""

    def __init__(self, echo_port: int, answers: dict[str, list[str]]) -> None:
        self.echo_port = echo_port
        self.answers = answers
        self.resolved: list[str] = []
        self.dialled: list[tuple[IPAddress, int]] = []

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        self.resolved.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [ipaddress.ip_address(a) for a in self.answers[host]]

    async def connect(self, address: IPAddress, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self.dialled.append((address, port))
        return await asyncio.open_connection("127.0.0.1", self.echo_port)


@pytest.fixture
async def echo_port() -> AsyncIterator[int]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def through_proxy(policy: NetworkPolicy, upstream: Upstream, request: bytes) -> bytes:
    """Send one request to a proxy listening on the test's loopback; what came back once the proxy closed."""
    proxy = EgressProxy(
        policy, "test", limits=ProxyLimits(idle_timeout_s=2), resolver=upstream.resolve, connector=upstream.connect
    )
    listening = socket.create_server(("127.0.0.1", 0))
    listening.setblocking(False)
    server = await proxy.serve(listening)
    try:
        reader, writer = await asyncio.open_connection(*listening.getsockname())
        writer.write(request)
        await writer.drain()
        writer.write_eof()
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        return answer
    finally:
        server.close()
        await server.wait_closed()


OPEN = NetworkPolicy()
REFUSED = [
    (OPEN, "127.0.0.1", [], "127.0.0.1 is a loopback address"),
    (OPEN, "localhost", ["127.0.0.1"], "127.0.0.1 is a loopback address"),
    (OPEN, "metadata.internal", ["169.254.169.254"], "169.254.169.254 is a link-local address"),
    (OPEN, "10.1.2.3", [], "10.1.2.3 is a private address"),
    (OPEN, "db.corp", ["172.16.5.5"], "172.16.5.5 is a private address"),
    (OPEN, "router", ["192.168.1.1"], "192.168.1.1 is a private address"),
    (OPEN, "cgnat", ["100.64.0.7"], "100.64.0.7 is not a public address"),
    (OPEN, "zero", ["0.0.0.0"], "0.0.0.0 is a private address"),
    (OPEN, "[::1]", [], "::1 is a loopback address"),
    (OPEN, "[fe80::1]", [], "fe80::1 is a link-local address"),
    (OPEN, "[fd00::5]", [], "fd00::5 is a private address"),
    (OPEN, "[::ffff:127.0.0.1]", [], "(127.0.0.1) is a loopback address"),
    (OPEN, "[64:ff9b::a01:203]", [], "(10.1.2.3) is a private address"),
    (OPEN, "mcast", ["239.1.2.3"], "239.1.2.3 is a multicast address"),
    # a name that resolves to a private address only: DNS rebinding finds nothing to connect to
    (OPEN, "rebind.example", ["10.0.0.1", "127.0.0.1"], "10.0.0.1 is a private address"),
    (NetworkPolicy(mode="allowlist", domains=["pypi.org"]), "evil.example", [PUBLIC], "evil.example is not in the"),
    (NetworkPolicy(mode="allowlist", domains=["pypi.org"]), "files.pypi.org", [PUBLIC], "not in the allow-list"),
    (NetworkPolicy(mode="allowlist", cidrs=["10.9.0.0/16"]), "db.corp", ["10.8.0.1"], "not in the allow-list"),
    # a named host is allowed, but its name does not open the metadata address it might resolve to... unless named
    (NetworkPolicy(mode="allowlist", domains=["*.pypi.org"]), "x.pypi.org.evil", [PUBLIC], "not in the allow-list"),
]


@pytest.mark.parametrize(("policy", "host", "answers", "says"), REFUSED)
@pytest.mark.parametrize("form", ["connect", "http"])
async def test_refused_destinations_are_never_dialled(
    echo_port: int, policy: NetworkPolicy, host: str, answers: list[str], says: str, form: str
) -> None:
    upstream = Upstream(echo_port, {host: answers})
    if form == "connect":
        request = f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode()
    else:
        request = f"GET http://{host}/latest/meta-data HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    answer = await through_proxy(policy, upstream, request)
    status_line, _, body = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 403 blocked by the repository's network policy: "), answer
    assert says.encode() in status_line and says.encode() in body
    assert upstream.dialled == []


@pytest.mark.parametrize(
    ("policy", "host", "answers", "dialled"),
    [
        (OPEN, "pypi.org", [PUBLIC], PUBLIC),
        (OPEN, "mixed.example", ["127.0.0.1", PUBLIC], PUBLIC),  # only the public address is used
        (NetworkPolicy(mode="allowlist", domains=["pypi.org"]), "PyPI.org.", [PUBLIC], PUBLIC),
        (NetworkPolicy(mode="allowlist", domains=["*.pypi.org"]), "files.pypi.org", [PUBLIC], PUBLIC),
        (NetworkPolicy(mode="allowlist", domains=["*.pypi.org"]), "pypi.org", [PUBLIC], PUBLIC),
        (NetworkPolicy(mode="allowlist", cidrs=["10.9.0.0/16"]), "git.corp", ["10.9.1.1"], "10.9.1.1"),
        (NetworkPolicy(domains=["registry.corp"]), "registry.corp", ["10.20.0.5"], "10.20.0.5"),  # open + named
    ],
)
async def test_allowed_destinations_connect_to_the_address_that_was_checked(
    echo_port: int, policy: NetworkPolicy, host: str, answers: list[str], dialled: str
) -> None:
    upstream = Upstream(echo_port, {host.rstrip(".").lower(): answers, host: answers})
    request = f"CONNECT {host}:443 HTTP/1.1\r\n\r\nhello through the tunnel".encode()
    answer = await through_proxy(policy, upstream, request)
    assert answer == b"HTTP/1.1 200 Connection established\r\n\r\nhello through the tunnel"
    assert upstream.dialled == [(ipaddress.ip_address(dialled), 443)]
    assert len(upstream.resolved) == 1  # resolved once: the connection goes to what was checked


async def test_plain_http_is_forwarded_in_origin_form_without_proxy_headers(echo_port: int) -> None:
    upstream = Upstream(echo_port, {"example.org": [PUBLIC]})
    request = (
        b"GET http://example.org:8080/simple/?q=1 HTTP/1.1\r\nHost: example.org:8080\r\n"
        b"Proxy-Authorization: Basic c2VjcmV0\r\nProxy-Connection: keep-alive\r\nAccept: */*\r\n\r\n"
    )
    echoed = await through_proxy(OPEN, upstream, request)  # the echo server returns what the upstream received
    assert echoed == b"GET /simple/?q=1 HTTP/1.1\r\nHost: example.org:8080\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    assert upstream.dialled == [(ipaddress.ip_address(PUBLIC), 8080)]


async def test_blocked_policy_refuses_everything(echo_port: int) -> None:
    upstream = Upstream(echo_port, {"pypi.org": [PUBLIC]})
    answer = await through_proxy(NetworkPolicy(mode="blocked"), upstream, b"CONNECT pypi.org:443 HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 403 blocked by the repository's network policy: this sandbox has no network")
    assert upstream.dialled == []


@pytest.mark.parametrize(
    ("request_bytes", "says"),
    [
        (b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:3128\r\n\r\n", b"400 only http://host"),  # origin-form
        (b"GET https://pypi.org/ HTTP/1.1\r\n\r\n", b"400 only http://host"),
        (b"CONNECT pypi.org HTTP/1.1\r\n\r\n", b"400 "),
        (b"CONNECT pypi.org:99999 HTTP/1.1\r\n\r\n", b"400 "),
        (b"CONNECT a/b:443 HTTP/1.1\r\n\r\n", b"400 "),
        (b"HELLO\r\n\r\n", b"400 not an HTTP/1 proxy request"),
        (b"CONNECT pypi.org:443 HTTP/1.1\r\n", b"400 the proxy could not read"),  # cut before the end of the head
    ],
)
async def test_malformed_requests_get_a_400_and_no_dial(echo_port: int, request_bytes: bytes, says: bytes) -> None:
    upstream = Upstream(echo_port, {"pypi.org": [PUBLIC]})
    answer = await through_proxy(OPEN, upstream, request_bytes)
    assert answer.startswith(b"HTTP/1.1 " + says), answer
    assert upstream.dialled == []


async def test_unknown_hosts_get_a_502_and_no_dial(echo_port: int) -> None:
    upstream = Upstream(echo_port, {})
    answer = await through_proxy(OPEN, upstream, b"CONNECT nowhere.invalid:443 HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 502 cannot resolve nowhere.invalid")
    assert upstream.dialled == []
    assert isinstance(decide(OPEN, "nowhere.invalid", []), Refused)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("2002:0808:0808::1", True),  # 6to4 of a public address
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("::ffff:10.0.0.1", False),
        ("198.18.0.1", False),  # benchmarking range
        ("255.255.255.255", False),
        ("224.0.0.1", False),
    ],
)
def test_what_counts_as_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


def test_the_first_allowed_address_wins() -> None:
    addresses = [ipaddress.ip_address(a) for a in ("10.0.0.1", PUBLIC)]
    assert decide(OPEN, "x.example", addresses) == Allowed(ipaddress.ip_address(PUBLIC))


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [("cidrs", ["10.0.0.0/33"], "not an address range"), ("domains", ["https://pypi.org"], "not a host name")],
)
def test_a_bad_policy_is_refused_with_the_way_to_write_it(field: str, value: list[str], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        NetworkPolicy.model_validate({"mode": "allowlist", field: value})

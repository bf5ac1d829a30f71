"""bot.net against real servers on loopback: guard, pinning, redirects, caps and deadlines."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import shutil
import socket
import ssl
import subprocess
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.errors import PermanentError, TransientError
from bot.net import (
    TRANSPORTS,
    BlockedURL,
    BodyTooLarge,
    FetchError,
    FetchTimeout,
    Http,
    NetSettings,
    address_problem,
    parse_ip,
)
from tests.helpers import free_port

MB = 1024 * 1024
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# -- loopback servers ----------------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Loopback:
    """An aiohttp server on a loopback address that records every request it gets."""

    host: str = "127.0.0.1"
    ssl_context: ssl.SSLContext | None = None
    routes: dict[str, Handler] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    async def start(self) -> Loopback:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0, ssl_context=self.ssl_context)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, path: str = "/", *, host: str | None = None) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{host or self.host}:{self.port}{path}"

    def route(self, path: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes[path] = handler
            return handler

        return register

    def paths(self) -> list[str]:
        return [s.path for s in self.seen]

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.seen.append(Seen(request.method, request.path_qs, headers, await request.read()))
        handler = self.routes.get(request.path)
        if handler is None:
            return web.Response(text="hello")
        return await handler(request)


@pytest.fixture
async def servers() -> AsyncIterator[Callable[..., Awaitable[Loopback]]]:
    started: list[Loopback] = []

    async def start(host: str = "127.0.0.1", ssl_context: ssl.SSLContext | None = None) -> Loopback:
        server = await Loopback(host, ssl_context).start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.close()


@pytest.fixture
async def server(servers: Callable[..., Awaitable[Loopback]]) -> Loopback:
    return await servers()


RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
async def raw_server() -> AsyncIterator[Callable[[RawHandler], Awaitable[int]]]:
    """A bare TCP server for peers that misbehave below what aiohttp lets a handler do."""
    servers: list[asyncio.Server] = []
    tasks: set[asyncio.Task[Any]] = set()

    async def start(handler: RawHandler) -> int:
        async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            tasks.add(task)
            try:
                await handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            except asyncio.CancelledError:
                # Stopped at teardown. Python 3.11's stream server logs a cancelled handler
                # task as an error, so this top-level handler ends normally instead.
                pass
            finally:
                writer.close()

        srv = await asyncio.start_server(run, "127.0.0.1", 0)
        servers.append(srv)
        return int(srv.sockets[0].getsockname()[1])

    yield start
    for srv in servers:
        srv.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class FakeDNS:
    """A resolver with scripted answers; a list of lists answers successive calls in turn."""

    def __init__(self, answers: dict[str, list[str] | list[list[str]]]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        answer = self.answers.get(host)
        if answer is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if answer and isinstance(answer[0], list):
            turns: list[list[str]] = answer
            return turns.pop(0) if len(turns) > 1 else turns[0]
        return list(answer)  # type: ignore[arg-type]


SMALL = NetSettings(connect_timeout=1.0, read_timeout=5.0, total_timeout=1.5, max_body_bytes=1 * MB)


@pytest.fixture(params=TRANSPORTS)
async def make_http(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., Http]]:
    """Every test that builds its client here runs once per transport: both must behave alike."""
    made: list[Http] = []

    def make(
        *,
        resolver: FakeDNS | None = None,
        ssl_context: ssl.SSLContext | None = None,
        **settings: Any,
    ) -> Http:
        base = {f: getattr(SMALL, f) for f in SMALL.__slots__} | {"transport": request.param}
        http = Http(
            NetSettings(**{**base, **settings}),
            resolver=resolver or FakeDNS({}),
            ssl_context=ssl_context,
        )
        made.append(http)
        return http

    yield make
    for http in made:
        await http.aclose()


@dataclass
class TLS:
    server: ssl.SSLContext
    client: ssl.SSLContext
    sni: list[str | None]


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for a.test and b.test, made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=newsbot",
            "-addext",
            "subjectAltName=DNS:a.test,DNS:b.test",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls(certificate: tuple[Path, Path]) -> TLS:
    cert, key = certificate
    sni: list[str | None] = []
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    server.sni_callback = lambda _obj, name, _ctx: sni.append(name)
    client = ssl.create_default_context(cafile=str(cert))
    return TLS(server, client, sni)


# -- the SSRF guard ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "169.254.169.254",
        "100.64.0.1",
        "::ffff:127.0.0.1",
        "64:ff9b::a9fe:a9fe",
        "192.168.1.1",
        "172.16.0.1",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fc00::1",
        "224.0.0.1",
    ],
)
async def test_hostname_resolving_to_internal_address_is_blocked_before_connecting(
    make_http: Callable[..., Http], server: Loopback, address: str
) -> None:
    http = make_http(resolver=FakeDNS({"evil.test": [address]}))
    with pytest.raises(BlockedURL) as caught:
        await http.get(server.url("/", host="evil.test"))
    assert "evil.test" in str(caught.value)
    assert str(ipaddress.ip_address(address)) in str(caught.value)
    assert server.seen == []


async def test_one_internal_address_among_public_ones_is_enough_to_block(
    make_http: Callable[..., Http], server: Loopback
) -> None:
    http = make_http(resolver=FakeDNS({"mixed.test": ["93.184.215.14", "127.0.0.1"]}))
    with pytest.raises(BlockedURL, match=re.escape("127.0.0.1")):
        await http.get(server.url("/", host="mixed.test"))
    assert server.seen == []


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "[::ffff:127.0.0.1]", "2130706433", "0x7f.0.0.1", "127.1"]
)
async def test_literal_loopback_in_any_spelling_is_blocked_without_dns(
    make_http: Callable[..., Http], server: Loopback, host: str
) -> None:
    dns = FakeDNS({})
    http = make_http(resolver=dns)
    with pytest.raises(BlockedURL, match="loopback"):
        await http.get(server.url("/", host=host))
    assert server.seen == []
    assert dns.calls == []


async def test_url_the_parser_rejects_is_blocked(
    make_http: Callable[..., Http], server: Loopback
) -> None:
    with pytest.raises(BlockedURL, match="invalid URL"):
        await make_http().get(server.url("/", host="0177.0.0.1"))
    assert server.seen == []


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/", "gopher://127.0.0.1:70/_GET", "data:,x"]
)
async def test_non_http_schemes_are_blocked(make_http: Callable[..., Http], url: str) -> None:
    dns = FakeDNS({})
    with pytest.raises(BlockedURL, match="scheme"):
        await make_http(resolver=dns).get(url)
    assert dns.calls == []


async def test_non_http_scheme_is_blocked_even_without_the_guard(
    make_http: Callable[..., Http],
) -> None:
    with pytest.raises(BlockedURL, match="scheme"):
        await make_http().get("file:///etc/passwd", guard=False)


async def test_allow_listed_address_is_reachable(
    make_http: Callable[..., Http], server: Loopback
) -> None:
    response = await make_http(allow=("127.0.0.1",)).get(server.url("/page"))
    assert (response.status, response.body, response.ok) == (200, b"hello", True)
    assert server.paths() == ["/page"]


async def test_a_url_fetched_again_is_vetted_and_sent_afresh(
    make_http: Callable[..., Http], server: Loopback
) -> None:
    """Parsed URLs are remembered between polls; what each client does with one is not."""
    url = server.url("/page?q=1").replace("http://", "http://reader:secret@")
    allowed = make_http(allow=("127.0.0.1",))
    for _ in range(2):
        response = await allowed.get(url)
        assert (response.status, response.url) == (200, url)
    assert server.paths() == ["/page?q=1", "/page?q=1"]
    assert [s.headers.get("authorization") for s in server.seen] == [
        "Basic cmVhZGVyOnNlY3JldA=="
    ] * 2
    with pytest.raises(BlockedURL, match="loopback"):
        await make_http().get(url)  # the same URL, a client that does not allow loopback
    assert len(server.seen) == 2
    for _ in range(2):
        with pytest.raises(BlockedURL, match="invalid URL"):
            await allowed.get("http://0177.0.0.1:80/")


async def test_allow_listed_network_covers_a_resolved_name(
    make_http: Callable[..., Http], server: Loopback
) -> None:
    http = make_http(allow=("127.0.0.0/8",), resolver=FakeDNS({"news.test": ["127.0.0.1"]}))
    response = await http.get(server.url("/", host="news.test"))
    assert response.status == 200
    assert response.url == server.url("/", host="news.test")


async def test_allow_listed_hostname_skips_the_guard(
    make_http: Callable[..., Http], server: Loopback
) -> None:
    dns = FakeDNS({})
    response = await make_http(allow=("LOCALHOST",), resolver=dns).get(
        server.url("/", host="localhost")
    )
    assert response.status == 200
    assert dns.calls == []


async def test_guard_false_reaches_loopback(
    make_http: Callable[..., Http], server: Loopback
) -> None:
    response = await make_http().get(server.url("/"), guard=False)
    assert response.status == 200


async def test_system_resolver_answers_for_localhost_are_checked_too(server: Loopback) -> None:
    async with Http(SMALL) as http:
        with pytest.raises(BlockedURL, match="loopback"):
            await http.get(server.url("/", host="localhost"))
    assert server.seen == []


async def test_host_name_dns_cannot_encode_is_blocked() -> None:
    async with Http(SMALL) as http:
        with pytest.raises(BlockedURL, match="invalid host name"):
            await http.get(f"http://{'a' * 70}.example/")


async def test_unresolvable_name_is_a_transient_fetch_error(
    make_http: Callable[..., Http], server: Loopback
) -> None:
    with pytest.raises(FetchError, match=r"cannot resolve nowhere\.test"):
        await make_http().get(server.url("/", host="nowhere.test"))


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "1.1.1.1"]
)
def test_public_addresses_pass_the_address_check(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("100.64.0.1", "carrier-grade"),
        ("64:ff9b::a9fe:a9fe", "NAT64 of 169.254.169.254"),
        ("64:ff9b:1::808:808", "NAT64"),
        ("::ffff:10.0.0.1", "IPv4-mapped"),
        ("fec0::1", "site-local"),
        ("192.0.2.1", "special-purpose"),
        ("240.0.0.1", "reserved"),
    ],
)
def test_special_addresses_fail_the_address_check(address: str, reason: str) -> None:
    problem = address_problem(ipaddress.ip_address(address))
    assert problem is not None and reason in problem


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("10.0x10.1", "10.16.0.1"),
        ("0300.0250.1.1", "192.168.1.1"),
        ("[::1]", "::1"),
        ("example.com", None),
        ("256.1.1.1", None),
        ("1.2.3.4.5", None),
    ],
)
def test_parse_ip_reads_every_numeric_spelling_resolvers_accept(
    host: str, expected: str | None
) -> None:
    ip = parse_ip(host)
    assert (str(ip) if ip else None) == expected


# -- address pinning -----------------------------------------------------------------------------


async def test_connection_goes_to_the_vetted_address_not_a_second_answer(
    make_http: Callable[..., Http], servers: Callable[..., Awaitable[Loopback]]
) -> None:
    # Only 127.0.0.2 is allowed. A client that checks one answer and lets the socket layer
    # ask again would land on 127.0.0.1 (nothing listens there on this port) or be refused.
    vetted = await servers("127.0.0.2")
    dns = FakeDNS({"rebind.test": [["127.0.0.2"], ["127.0.0.1"]]})
    http = make_http(allow=("127.0.0.2",), resolver=dns)
    response = await http.get(vetted.url("/x", host="rebind.test"))
    assert response.status == 200
    assert dns.calls == [("rebind.test", vetted.port)]
    assert [s.headers["host"] for s in vetted.seen] == [f"rebind.test:{vetted.port}"]


async def test_each_redirect_hop_is_resolved_and_checked_again(
    make_http: Callable[..., Http], server: Loopback
) -> None:
    @server.route("/hop")
    async def hop(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/final")

    dns = FakeDNS({"rebind.test": [["127.0.0.1"], ["10.0.0.1"]]})
    http = make_http(allow=("127.0.0.1",), resolver=dns)
    with pytest.raises(BlockedURL, match=re.escape("10.0.0.1")):
        await http.get(server.url("/hop", host="rebind.test"))
    assert len(dns.calls) == 2
    assert server.paths() == ["/hop"]


async def test_tls_to_a_pinned_address_verifies_the_real_name_through_sni(
    make_http: Callable[..., Http], servers: Callable[..., Awaitable[Loopback]], tls: TLS
) -> None:
    server = await servers(ssl_context=tls.server)
    http = make_http(
        allow=("127.0.0.1/32",),
        resolver=FakeDNS({"a.test": ["127.0.0.1"]}),
        ssl_context=tls.client,
    )
    response = await http.get(server.url("/", host="a.test"))
    assert response.status == 200
    assert tls.sni == ["a.test"]
    assert server.seen[0].headers["host"] == f"a.test:{server.port}"


async def test_two_names_on_one_address_never_share_a_tls_connection(
    make_http: Callable[..., Http], servers: Callable[..., Awaitable[Loopback]], tls: TLS
) -> None:
    server = await servers(ssl_context=tls.server)
    http = make_http(
        allow=("127.0.0.1",),
        resolver=FakeDNS({"a.test": ["127.0.0.1"], "b.test": ["127.0.0.1"]}),
        ssl_context=tls.client,
    )
    await http.get(server.url("/", host="a.test"))
    await http.get(server.url("/", host="b.test"))
    assert tls.sni == ["a.test", "b.test"]


async def test_certificate_for_another_name_is_refused(
    make_http: Callable[..., Http], servers: Callable[..., Awaitable[Loopback]], tls: TLS
) -> None:
    server = await servers(ssl_context=tls.server)
    http = make_http(
        allow=("127.0.0.1",), resolver=FakeDNS({"c.test": ["127.0.0.1"]}), ssl_context=tls.client
    )
    with pytest.raises(FetchError, match=re.escape("c.test")):
        await http.get(server.url("/", host="c.test"))


# -- redirects -----------------------------------------------------------------------------------


def chain(server: Loopback) -> None:
    """/r/N redirects to /r/N-1; /r/0 answers."""

    async def step(request: web.Request) -> web.StreamResponse:
        n = int(request.query.get("n", "0"))
        if n == 0:
            return web.Response(text="end")
        raise web.HTTPMovedPermanently(f"/r?n={n - 1}")

    server.routes["/r"] = step


async def test_redirects_are_followed_up_to_the_limit(
    make_http: Callable[..., Http], server: Loopback
) -> None:
    chain(server)
    response = await make_http(allow=("127.0.0.1",)).get(server.url("/r?n=5"))
    assert (response.status, response.body) == (200, b"end")
    assert response.url == server.url("/r?n=0")


async def test_one_redirect_more_than_the_limit_is_refused(
    make_http: Callable[..., Http], server: Loopback
) -> None:
    chain(server)
    with pytest.raises(BlockedURL, match="too many redirects"):
        await make_http(allow=("127.0.0.1",)).get(server.url("/r?n=6"))
    assert len(server.seen) == 6


async def test_redirect_to_an_internal_address_is_refused_at_that_hop(
    make_http: Callable[..., Http], servers: Callable[..., Awaitable[Loopback]]
) -> None:
    allowed = await servers("127.0.0.1")
    internal = await servers("127.0.0.2")

    @allowed.route("/go")
    async def go(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(internal.url("/secret"))

    with pytest.raises(BlockedURL, match=re.escape("127.0.0.2")):
        await make_http(allow=("127.0.0.1",)).get(allowed.url("/go"))
    assert allowed.paths() == ["/go"]
    assert internal.seen == []


async def test_redirect_from_https_to_http_is_refused(
    make_http: Callable[..., Http], servers: Callable[..., Awaitable[Loopback]], tls: TLS
) -> None:
    secure = await servers(ssl_context=tls.server)
    plain = await servers()

    @secure.route("/down")
    async def down(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(plain.url("/"))

    http = make_http(
        allow=("127.0.0.1",), resolver=FakeDNS({"a.test": ["127.0.0.1"]}), ssl_context=tls.client
    )
    with pytest.raises(BlockedURL, match="https to http"):
        await http.get(secure.url("/down", host="a.test"))
    assert plain.seen == []


async def test_credentials_are_dropped_on_a_cross_host_redirect(
    make_http: Callable[..., Http], servers: Callable[..., Awaitable[Loopback]]
) -> None:
    first = await servers("127.0.0.1")
    other = await servers("127.0.0.2")

    @first.route("/away")
    async def away(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(other.url("/landing"))

    headers = {"Authorization": "Bearer s3cret", "Cookie": "session=1", "X-Keep": "yes"}
    await make_http(allow=("127.0.0.0/8",)).get(first.url("/away"), headers=headers)
    assert first.seen[0].headers["authorization"] == "Bearer s3cret"
    landed = other.seen[0].headers
    assert "authorization" not in landed and "cookie" not in landed
    assert landed["x-keep"] == "yes"


async def test_credentials_are_kept_on_a_same_host_redirect(
    make_http: Callable[..., Http], server: Loopback
) -> None:
    chain(server)
    await make_http(allow=("127.0.0.1",)).get(
        server.url("/r?n=1"), headers={"Authorization": "Bearer s3cret"}
    )
    assert [s.headers.get("authorization") for s in server.seen] == ["Bearer s3cret"] * 2


# -- requests and responses ----------------------------------------------------------------------


async def test_user_agent_and_accept_encoding_are_sent(
    make_http: Callable[..., Http], server: Loopback
) -> None:
    await make_http(allow=("127.0.0.1",), user_agent="test-agent/1").get(server.url("/"))
    headers = server.seen[0].headers
    assert headers["user-agent"] == "test-agent/1"
    assert headers["accept-encoding"].split(", ")[:2] == ["gzip", "deflate"]


async def test_conditional_get_sends_validators_and_reports_not_modified(
    make_http: Callable[..., Http], server: Loopback
) -> None:
    @server.route("/feed")
    async def feed(request: web.Request) -> web.StreamResponse:
        return web.Response(status=304, headers={"ETag": '"v1"'})

    response = await make_http(allow=("127.0.0.1",)).get(
        server.url("/feed"), etag='"v1"', last_modified="Tue, 10 Jun 2025 10:00:00 GMT"
    )
    headers = server.seen[0].headers
    assert headers["if-none-match"] == '"v1"'
    assert headers["if-modified-since"] == "Tue, 10 Jun 2025 10:00:00 GMT"
    assert response.not_modified and response.etag == '"v1"' and response.body == b""


async def test_error_statuses_are_returned_not_raised(
    make_http: Callable[..., Http], server: Loopback
) -> None:
    @server.route("/gone")
    async def gone(request: web.Request) -> web.StreamResponse:
        return web.Response(status=410, text="gone")

    response = await make_http(allow=("127.0.0.1",)).get(server.url("/gone"))
    assert (response.status, response.ok, response.body) == (410, False, b"gone")


async def test_cookies_set_by_a_server_are_not_sent_back(
    make_http: Callable[..., Http], server: Loopback
) -> None:
    @server.route("/set")
    async def set_cookie(request: web.Request) -> web.StreamResponse:
        response = web.Response(text="ok")
        response.set_cookie("tracker", "1")
        return response

    http = make_http(allow=("127.0.0.1",))
    await http.get(server.url("/set"))
    await http.get(server.url("/next"))
    assert "cookie" not in server.seen[1].headers


@pytest.mark.parametrize("wbits", [31, 15, -15], ids=["gzip", "deflate", "raw-deflate"])
async def test_compressed_bodies_are_decoded(
    make_http: Callable[..., Http], server: Loopback, wbits: int
) -> None:
    text = b"peace talks " * 1000
    packer = zlib.compressobj(6, zlib.DEFLATED, wbits)
    packed = packer.compress(text) + packer.flush()

    @server.route("/z")
    async def z(request: web.Request) -> web.StreamResponse:
        coding = "gzip" if wbits == 31 else "deflate"
        return web.Response(body=packed, headers={"Content-Encoding": coding})

    response = await make_http(allow=("127.0.0.1",)).get(server.url("/z"))
    assert response.body == text


async def test_corrupt_compressed_body_is_a_permanent_error(
    make_http: Callable[..., Http], server: Loopback
) -> None:
    @server.route("/bad")
    async def bad(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"not gzip at all", headers={"Content-Encoding": "gzip"})

    with pytest.raises(PermanentError, match="corrupt"):
        await make_http(allow=("127.0.0.1",)).get(server.url("/bad"))


# -- size caps -----------------------------------------------------------------------------------


async def test_large_streamed_body_is_cut_at_the_cap(
    make_http: Callable[..., Http], server: Loopback
) -> None:
    sent = 0

    @server.route("/huge")
    async def huge(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        response = web.StreamResponse()
        await response.prepare(request)
        block = b"x" * 65536
        try:
            while sent < 50 * MB:
                await response.write(block)
                sent += len(block)
        except ConnectionError:
            pass
        return response

    with pytest.raises(BodyTooLarge, match=f"cap of {MB} bytes"):
        await make_http(allow=("127.0.0.1",)).get(server.url("/huge"))
    assert sent < 25 * MB  # reading stopped at the cap; the server did not get to finish


async def test_declared_length_over_the_cap_is_refused_before_reading(
    make_http: Callable[..., Http], raw_server: Callable[[RawHandler], Awaitable[int]]
) -> None:
    async def liar(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n")
        await writer.drain()
        await reader.read()  # send no body: only the header can have stopped the client

    port = await raw_server(liar)
    with pytest.raises(BodyTooLarge, match="999999999"):
        await make_http(allow=("127.0.0.1",)).get(f"http://127.0.0.1:{port}/")


async def test_gzip_bomb_is_cut_at_the_cap_with_bounded_memory(
    make_http: Callable[..., Http], server: Loopback
) -> None:
    @server.route("/bomb")
    async def bomb(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Encoding": "gzip"})
        await response.prepare(request)
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)
        zeros = bytes(MB)
        pending = b""
        try:
            for _ in range(200):  # 200 MB of zeros, sent in writes of about 64 KB
                pending += packer.compress(zeros)
                if len(pending) >= 65536:
                    await response.write(pending)
                    pending = b""
            await response.write(pending + packer.flush())
        except ConnectionError:
            pass
        return response

    http = make_http(allow=("127.0.0.1",))
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge):
            await http.get(server.url("/bomb"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # One 64 KB gzip chunk of zeros inflates to ~64 MB if decoded without a limit.
    assert peak < 16 * MB


# -- deadlines -----------------------------------------------------------------------------------


async def test_trickling_body_hits_the_total_deadline(
    make_http: Callable[..., Http], raw_server: Callable[[RawHandler], Awaitable[int]]
) -> None:
    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
        while True:  # each byte well inside the read timeout; the whole never arrives
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(0.4)

    port = await raw_server(drip)
    started = time.monotonic()
    with pytest.raises(FetchTimeout, match=re.escape("total deadline of 1.5 s")):
        await make_http(allow=("127.0.0.1",)).get(f"http://127.0.0.1:{port}/")
    assert 1.4 < time.monotonic() - started < 3.0


async def test_silent_server_hits_the_total_deadline(
    make_http: Callable[..., Http], raw_server: Callable[[RawHandler], Awaitable[int]]
) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    port = await raw_server(silent)
    with pytest.raises(FetchTimeout, match="total deadline"):
        await make_http(allow=("127.0.0.1",)).get(f"http://127.0.0.1:{port}/")


async def test_silent_server_hits_the_read_timeout_when_it_is_shorter(
    make_http: Callable[..., Http], raw_server: Callable[[RawHandler], Awaitable[int]]
) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    port = await raw_server(silent)
    http = make_http(allow=("127.0.0.1",), read_timeout=0.2, total_timeout=5.0)
    with pytest.raises(FetchTimeout, match="read timed out"):
        await http.get(f"http://127.0.0.1:{port}/")


async def test_refused_connection_is_a_transient_fetch_error(
    make_http: Callable[..., Http],
) -> None:
    port = free_port()
    with pytest.raises(FetchError) as caught:
        await make_http(allow=("127.0.0.1",)).get(f"http://127.0.0.1:{port}/feed")
    assert isinstance(caught.value, TransientError)
    assert f"127.0.0.1:{port}/feed" in str(caught.value)


async def test_body_cut_short_is_a_transient_fetch_error_naming_the_url(
    make_http: Callable[..., Http], raw_server: Callable[[RawHandler], Awaitable[int]]
) -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
        await writer.drain()

    port = await raw_server(hang_up)
    with pytest.raises(FetchError) as caught:
        await make_http(allow=("127.0.0.1",)).get(f"http://127.0.0.1:{port}/cut")
    assert isinstance(caught.value, TransientError)
    assert f"127.0.0.1:{port}/cut" in str(caught.value)


async def test_refused_post_names_the_host_but_not_the_path(
    make_http: Callable[..., Http],
) -> None:
    port = free_port()
    with pytest.raises(FetchError) as caught:
        await make_http().post(f"http://127.0.0.1:{port}/hooks/T0/s3cr3t-token", content=b"x")
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert "s3cr3t-token" not in str(caught.value)


# -- concurrency ---------------------------------------------------------------------------------


async def test_requests_to_one_host_are_limited(
    make_http: Callable[..., Http], server: Loopback
) -> None:
    active = peak = 0

    @server.route("/slow")
    async def slow(request: web.Request) -> web.StreamResponse:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.05)  # the server's own latency, so that requests overlap
        active -= 1
        return web.Response(text="ok")

    http = make_http(allow=("127.0.0.1",), per_host_limit=2)
    responses = await asyncio.gather(*(http.get(server.url("/slow")) for _ in range(8)))
    assert [r.status for r in responses] == [200] * 8
    assert peak == 2


# -- post ----------------------------------------------------------------------------------------


async def test_post_sends_the_body_and_does_not_follow_redirects(
    make_http: Callable[..., Http], server: Loopback
) -> None:
    @server.route("/hook")
    async def hook(request: web.Request) -> web.StreamResponse:
        raise web.HTTPTemporaryRedirect("/elsewhere")

    response = await make_http().post(
        server.url("/hook"), content=b'{"a":1}', headers={"Content-Type": "application/json"}
    )
    assert response.status == 307
    assert server.paths() == ["/hook"]
    assert (server.seen[0].method, server.seen[0].body) == ("POST", b'{"a":1}')
    assert server.seen[0].headers["content-type"] == "application/json"


async def test_post_with_the_guard_is_blocked_for_loopback(
    make_http: Callable[..., Http], server: Loopback
) -> None:
    with pytest.raises(BlockedURL):
        await make_http().post(server.url("/hook"), content=b"x", guard=True)
    assert server.seen == []


async def test_post_timeout_replaces_the_total_deadline_and_hides_the_path(
    make_http: Callable[..., Http], raw_server: Callable[[RawHandler], Awaitable[int]]
) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    port = await raw_server(silent)
    with pytest.raises(FetchTimeout, match=re.escape("deadline of 0.3 s")) as caught:
        await make_http(total_timeout=30.0).post(
            f"http://127.0.0.1:{port}/hooks/T0/s3cr3t-token", content=b"x", timeout=0.3
        )
    assert "s3cr3t-token" not in str(caught.value)


def test_response_reads_validators_from_headers() -> None:
    import httpx

    from bot.net import Response

    response = Response(
        "https://example.com/",
        200,
        httpx.Headers({"ETag": 'W/"1"', "Last-Modified": "Tue, 10 Jun 2025 10:00:00 GMT"}),
        b"",
    )
    assert (response.etag, response.last_modified) == ('W/"1"', "Tue, 10 Jun 2025 10:00:00 GMT")
    assert response.ok and not response.not_modified


async def test_proxy_variables_in_the_environment_are_ignored(
    make_http: Callable[..., Http], server: Loopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy would connect by name and undo the address pinning; this one would also fail.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    response = await make_http(allow=("127.0.0.1",)).get(server.url("/"))
    assert response.status == 200

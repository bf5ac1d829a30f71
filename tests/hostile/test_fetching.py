"""Hostile input, fetching: SSRF in every spelling, hostile redirects, DNS rebinding,
compression bombs, trickling and endless bodies. Each test is one attack and what must happen.

Real servers on loopback only. "Refused before any socket opens" is checked three ways: the
guard raises BlockedURL, a listener on loopback accepts no connection, and no socket was
created or connected by this process during the request.
"""

from __future__ import annotations

import asyncio
import re
import time
import tracemalloc
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from bot.errors import PermanentError
from bot.net import BlockedURL, BodyTooLarge, FetchTimeout, Http
from tests.hostile.support import MB, listener, poll_once, socket_spy
from tests.test_net import TLS, FakeDNS, Loopback

Servers = Callable[..., Awaitable[Loopback]]
MakeHttp = Callable[..., Http]


async def refused_before_connecting(
    http: Http, url: str, monkeypatch: pytest.MonkeyPatch, match: str
) -> None:
    with socket_spy(monkeypatch) as sockets, pytest.raises(BlockedURL, match=match):
        await http.get(url)
    assert sockets.created == [] and sockets.connects == []


# -- 1. internal addresses and other schemes ---------------------------------------------------


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.0.0.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("[::ffff:127.0.0.1]", "IPv4-mapped loopback"),
        ("[64:ff9b::a9fe:a9fe]", "NAT64 of 169.254.169.254"),
        ("2130706433", "loopback address 127.0.0.1"),
    ],
)
async def test_a_url_to_an_internal_address_is_refused_before_any_socket_opens(
    make_http: MakeHttp, monkeypatch: pytest.MonkeyPatch, host: str, reason: str
) -> None:
    dns = FakeDNS({})
    async with listener("127.0.0.1") as bait:
        url = f"http://{host}:{bait.port}/latest/meta-data/"
        await refused_before_connecting(make_http(resolver=dns), url, monkeypatch, reason)
    assert bait.accepted == 0
    assert dns.calls == []  # a literal address needs no lookup


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://127.0.0.1:{port}/pub", "gopher://127.0.0.1:{port}/_GET%20/"],
)
async def test_a_url_with_another_scheme_is_refused_before_any_socket_opens(
    make_http: MakeHttp, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    dns = FakeDNS({})
    async with listener("127.0.0.1") as bait:
        await refused_before_connecting(
            make_http(resolver=dns), url.format(port=bait.port), monkeypatch, "scheme"
        )
    assert bait.accepted == 0 and dns.calls == []


async def test_a_name_resolving_to_the_metadata_address_is_refused_before_any_socket_opens(
    make_http: MakeHttp, monkeypatch: pytest.MonkeyPatch
) -> None:
    dns = FakeDNS({"metadata.test": ["169.254.169.254"]})
    await refused_before_connecting(
        make_http(resolver=dns), "http://metadata.test/latest/", monkeypatch, "169.254.169.254"
    )
    assert dns.calls == [("metadata.test", 80)]


async def test_feed_items_linking_to_internal_or_local_urls_are_never_fetched(
    servers: Servers, tmp_path: Path
) -> None:
    feed_site = await servers("127.0.0.1")  # allow-listed: plays a public news site
    internal = await servers("127.0.0.2")  # not allowed: an internal service
    links = [
        internal.url("/admin"),
        "file:///etc/passwd",
        f"gopher://127.0.0.2:{internal.port}/_x",
        f"http://2130706434:{internal.port}/decimal",  # 127.0.0.2 in decimal
    ]
    items = "".join(
        f"<item><title>Item {i}</title><link>{link}</link>"
        f"<description>Summary {i}</description></item>"
        for i, link in enumerate(links)
    )

    @feed_site.route("/feed.xml")
    async def feed(request: web.Request) -> web.StreamResponse:
        return web.Response(
            text=f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}'
            "</channel></rss>",
            content_type="application/rss+xml",
        )

    outcome, articles = await poll_once(tmp_path / "bot.db", feed_site.url("/feed.xml"))
    stored = {a["url"]: a for a in articles}
    assert outcome is not None and outcome.status == "parsed"
    assert internal.seen == []
    # Only http(s) links become article links; the internal ones keep the feed's summary, and
    # entries with other schemes are kept with the feed's text and no link at all.
    assert set(stored) == {links[0], links[3], ""}
    assert {a["extraction"] for a in articles} == {"summary"}
    assert sorted(a["text"] for a in articles if a["url"] == "") == ["Summary 1", "Summary 2"]


# -- 2. hostile redirects ----------------------------------------------------------------------


async def test_a_redirect_to_the_metadata_address_is_refused_at_that_hop(
    make_http: MakeHttp, server: Loopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    @server.route("/news")
    async def news(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data/iam/")

    http = make_http(allow=("127.0.0.1",))
    refusal = re.escape("link-local address 169.254.169.254")
    with socket_spy(monkeypatch) as sockets, pytest.raises(BlockedURL, match=refusal):
        await http.get(server.url("/news"))
    assert server.paths() == ["/news"]
    assert sockets.connected_hosts() == {"127.0.0.1"}


async def test_a_redirect_to_an_internal_host_name_is_refused_at_that_hop(
    make_http: MakeHttp, servers: Servers
) -> None:
    site = await servers("127.0.0.1")
    internal = await servers("127.0.0.2")

    @site.route("/news")
    async def news(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(internal.url("/admin", host="intranet.test"))

    dns = FakeDNS({"intranet.test": ["127.0.0.2"]})
    with pytest.raises(BlockedURL, match=r"intranet\.test resolves to it"):
        await make_http(allow=("127.0.0.1",), resolver=dns).get(site.url("/news"))
    assert internal.seen == []


async def test_a_redirect_to_a_file_url_is_refused(make_http: MakeHttp, server: Loopback) -> None:
    @server.route("/news")
    async def news(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("file:///etc/passwd")

    with pytest.raises(BlockedURL, match="scheme 'file'"):
        await make_http(allow=("127.0.0.1",)).get(server.url("/news"))


async def test_a_sixth_redirect_is_refused(make_http: MakeHttp, server: Loopback) -> None:
    async def hop(request: web.Request) -> web.StreamResponse:
        n = int(request.query["n"])
        raise web.HTTPFound(f"/loop?n={n + 1}")

    server.routes["/loop"] = hop
    with pytest.raises(BlockedURL, match=r"too many redirects \(more than 5\)"):
        await make_http(allow=("127.0.0.1",)).get(server.url("/loop?n=0"))
    assert len(server.seen) == 6  # the first request and five redirects followed, no more


async def test_a_redirect_from_https_down_to_http_is_refused(
    make_http: MakeHttp, servers: Servers, tls: TLS
) -> None:
    secure = await servers(ssl_context=tls.server)
    plain = await servers("127.0.0.2")

    @secure.route("/feed")
    async def feed(request: web.Request) -> web.StreamResponse:
        raise web.HTTPMovedPermanently(plain.url("/feed", host="b.test"))

    http = make_http(
        allow=("127.0.0.0/8",),
        resolver=FakeDNS({"a.test": ["127.0.0.1"], "b.test": ["127.0.0.2"]}),
        ssl_context=tls.client,
    )
    with pytest.raises(BlockedURL, match="from https to http"):
        await http.get(secure.url("/feed", host="a.test"))
    assert plain.seen == []


async def test_credentials_and_cookies_never_follow_a_redirect_to_another_host(
    make_http: MakeHttp, servers: Servers
) -> None:
    first = await servers("127.0.0.1")
    other = await servers("127.0.0.2")

    @first.route("/feed")
    async def feed(request: web.Request) -> web.StreamResponse:
        response = web.HTTPFound(other.url("/collect"))
        response.set_cookie("session", "first-site-secret")
        raise response

    http = make_http(allow=("127.0.0.0/8",))
    userinfo = first.url("/feed").replace("http://", "http://reader:hunter2@")
    await http.get(userinfo, headers={"Authorization": "Bearer token-for-first", "Cookie": "a=1"})
    assert first.seen[0].headers["authorization"].startswith(("Basic", "Bearer"))
    landed = other.seen[0].headers
    assert "authorization" not in landed
    assert "cookie" not in landed
    assert "hunter2" not in str(landed) and "first-site-secret" not in str(landed)


# -- 3. DNS rebinding ------------------------------------------------------------------------


async def test_dns_rebinding_reaches_only_the_address_that_was_checked(
    make_http: MakeHttp, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 127.0.0.2 plays the public address (allow-listed); 127.0.0.1 the internal one, on the
    # same port: a client that checks one answer and lets the socket layer resolve again
    # lands on the internal listener.
    public = await Loopback("127.0.0.2").start()
    try:
        async with listener("127.0.0.1", public.port) as internal:
            dns = FakeDNS({"news.test": [["127.0.0.2"], ["127.0.0.1"]]})
            http = make_http(allow=("127.0.0.2",), resolver=dns)
            with socket_spy(monkeypatch) as sockets:
                response = await http.get(public.url("/feed", host="news.test"))
            assert response.status == 200
            assert internal.accepted == 0
            assert sockets.connected_hosts() == {"127.0.0.2"}
            assert dns.calls == [("news.test", public.port)]
            assert public.seen[0].headers["host"] == f"news.test:{public.port}"
    finally:
        await public.close()


async def test_a_name_that_rebinds_to_an_internal_address_on_the_next_poll_is_refused(
    make_http: MakeHttp,
) -> None:
    public = await Loopback("127.0.0.2").start()
    try:
        async with listener("127.0.0.1", public.port) as internal:
            dns = FakeDNS({"news.test": [["127.0.0.2"], ["127.0.0.1"]]})
            http = make_http(allow=("127.0.0.2",), resolver=dns)
            assert (await http.get(public.url("/feed", host="news.test"))).status == 200
            with pytest.raises(BlockedURL, match=re.escape("loopback address 127.0.0.1")):
                await http.get(public.url("/feed", host="news.test"))
            assert internal.accepted == 0
    finally:
        await public.close()


# -- 4. compression bombs --------------------------------------------------------------------


def _zero_blocks() -> tuple[bytes, bytes]:
    """A gzip header with 1 MiB of zeros, and a self-contained deflate block of 1 MiB more.

    After a full flush the compressor keeps no history, so the same block can be repeated
    as often as wanted: 10,240 of them make 10 GiB for about 10 MB on the wire.
    """
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(MB)
    head = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    block = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    return head, block


async def test_a_gzip_body_that_would_expand_to_10_gb_is_cut_at_the_cap_in_bounded_memory(
    make_http: MakeHttp, server: Loopback
) -> None:
    head, block = _zero_blocks()
    sent = 0

    @server.route("/bomb")
    async def bomb(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        response = web.StreamResponse(headers={"Content-Encoding": "gzip"})
        await response.prepare(request)
        try:
            await response.write(head)
            for _ in range(10 * 1024 - 1):  # 10 GiB of zeros in all
                await response.write(block * 16)
                sent += 16
        except ConnectionError:
            pass
        return response

    http = make_http(allow=("127.0.0.1",))  # the cap is 1 MiB
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge, match=f"cap of {MB} bytes"):
            await http.get(server.url("/bomb"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * MB
    # The client hung up: the server could not hand over its 10 MB (10 GiB decoded).
    assert sent < 10 * 1024 - 16


async def test_a_gzip_inside_gzip_body_is_refused_undecoded(
    make_http: MakeHttp, server: Loopback
) -> None:
    inner = zlib.compress(bytes(64 * MB), wbits=31)
    outer = zlib.compress(inner, wbits=31)  # a few KB that would become 64 MiB

    @server.route("/double")
    async def double(request: web.Request) -> web.StreamResponse:
        return web.Response(body=outer, headers={"Content-Encoding": "gzip, gzip"})

    with pytest.raises(PermanentError, match="stacked Content-Encoding"):
        await make_http(allow=("127.0.0.1",)).get(server.url("/double"))


def _brotli_accepted() -> bool:
    from bot.net import _ACCEPT_ENCODING

    return "br" in _ACCEPT_ENCODING


@pytest.mark.skipif(_brotli_accepted(), reason="brotli is installed and accepted")
async def test_a_brotli_body_is_refused_when_brotli_is_not_accepted(
    make_http: MakeHttp, server: Loopback
) -> None:
    @server.route("/br")
    async def br(request: web.Request) -> web.StreamResponse:
        # A server ignoring Accept-Encoding: bytes that must not be handed on as a page.
        return web.Response(body=b"\x1b\xff\xff\x7f" * 1000, headers={"Content-Encoding": "br"})

    with pytest.raises(PermanentError, match="cannot decode Content-Encoding 'br'"):
        await make_http(allow=("127.0.0.1",)).get(server.url("/br"))
    assert "br" not in server.seen[0].headers["accept-encoding"]


@pytest.mark.skipif(not _brotli_accepted(), reason="brotli is not installed, so not accepted")
async def test_a_brotli_body_that_would_expand_to_gigabytes_is_cut_at_the_cap(
    make_http: MakeHttp, server: Loopback
) -> None:
    import brotli  # type: ignore[import-not-found, unused-ignore]

    packer = brotli.Compressor(quality=11)
    head = packer.process(bytes(64 * MB)) + packer.flush()

    @server.route("/br")
    async def br(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Encoding": "br"})
        await response.prepare(request)
        try:
            await response.write(head)
            while True:  # more of the same stream: never finished
                await response.write(packer.process(bytes(64 * MB)) + packer.flush())
        except ConnectionError:
            pass
        return response

    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge):
            await make_http(allow=("127.0.0.1",)).get(server.url("/br"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * MB


# -- 5. trickling and endless bodies -----------------------------------------------------------

RawServer = Callable[
    [Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]], Awaitable[int]
]


async def test_a_body_sent_one_byte_every_4_seconds_is_aborted_at_the_total_deadline(
    make_http: MakeHttp, raw_server: RawServer
) -> None:
    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        while True:  # each byte well inside the 5 s read timeout: httpx alone never stops
            writer.write(b"<")
            await writer.drain()
            await asyncio.sleep(4)

    port = await raw_server(drip)
    http = make_http(allow=("127.0.0.1",), read_timeout=5.0, total_timeout=1.0)
    started = time.monotonic()
    with pytest.raises(FetchTimeout, match=re.escape("total deadline of 1 s")):
        await http.get(f"http://127.0.0.1:{port}/feed")
    assert 0.9 < time.monotonic() - started < 2.0


async def test_headers_sent_one_byte_every_4_seconds_are_aborted_at_the_total_deadline(
    make_http: MakeHttp, raw_server: RawServer
) -> None:
    async def slowloris(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        for byte in b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * 10_000:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(4)

    port = await raw_server(slowloris)
    http = make_http(allow=("127.0.0.1",), read_timeout=5.0, total_timeout=1.0)
    started = time.monotonic()
    with pytest.raises(FetchTimeout, match="total deadline"):
        await http.get(f"http://127.0.0.1:{port}/feed")
    assert time.monotonic() - started < 2.0


async def test_an_endless_body_is_stopped_at_the_size_cap(
    make_http: MakeHttp, raw_server: RawServer
) -> None:
    written = 0

    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal written
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 65536
        frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
        while True:  # never the final zero-length chunk
            writer.write(frame)
            await writer.drain()
            written += len(chunk)

    port = await raw_server(endless)
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge, match=f"cap of {MB} bytes"):
            await make_http(allow=("127.0.0.1",), total_timeout=30.0).get(
                f"http://127.0.0.1:{port}/feed"
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MB
    assert written < 16 * MB  # reading stopped near the cap, not at the end (there is none)

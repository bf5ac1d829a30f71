"""The bot's one HTTP client: deadlines, size caps, redirects, SSRF guard, per-host limits."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import importlib
import ipaddress
import re
import socket
import ssl
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol

import aiohttp
import httpx
from multidict import CIMultiDict

from bot.errors import PermanentError, TransientError

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""`(host, port) -> addresses`: what the SSRF guard asks to learn where a hostname points."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CREDENTIAL_HEADERS = ("authorization", "cookie", "proxy-authorization")
_SHARED_ADDRESS_SPACE = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")
_NUMERIC_LABEL = re.compile(r"(0[xX][0-9a-fA-F]*|[0-9]+)")
# Codings we recognise but cannot decode here: refusing beats handing compressed bytes on.
_UNDECODABLE = frozenset({"br", "zstd", "compress", "x-compress"})


TRANSPORTS = ("aiohttp", "httpx")


@dataclass(frozen=True, slots=True)
class NetSettings:
    """Limits applied to every request the bot makes."""

    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    # Whole request including the body: httpx's own timeouts only bound inactivity.
    total_timeout: float = 60.0
    # Counted on decoded bytes, so compression bombs are cut at the same size.
    max_body_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    per_host_limit: int = 4
    # Requests let into httpx's connection pool at once: past about a hundred queued requests
    # its bookkeeping grows with the queue and polls start failing with pool timeouts
    # (bench/bench_polling.py); the rest wait here, outside the request's deadline.
    max_in_flight: int = 100
    user_agent: str = "news-alert-bot/0.1 (self-hosted news monitor)"
    # Hostnames, IP addresses or CIDR networks exempt from the SSRF guard.
    allow: tuple[str, ...] = ()
    # What carries the requests: "aiohttp" (its ClientSession, called directly) or "httpx"
    # (httpx's own connection pool). Measured in bench/bench_polling.py: on thousands of feeds
    # at once the aiohttp one does several times the requests per second.
    transport: str = "aiohttp"

    def __post_init__(self) -> None:
        if self.transport not in TRANSPORTS:
            raise ValueError(f"transport {self.transport!r} is not one of {', '.join(TRANSPORTS)}")


@dataclass(frozen=True, slots=True)
class Response:
    """A complete HTTP response: whatever the status, the body is read (and capped)."""

    url: str
    status: int
    headers: Mapping[str, str]  # case-insensitive, whichever transport carried it
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    def _header(self, name: str) -> str | None:
        value: str | None = self.headers.get(name)
        return value

    @property
    def etag(self) -> str | None:
        return self._header("etag")

    @property
    def last_modified(self) -> str | None:
        return self._header("last-modified")

    @property
    def content_type(self) -> str | None:
        return self._header("content-type")


class BlockedURL(PermanentError):
    """The guard refused a URL: its scheme, an address it resolves to, or a redirect hop."""


class BodyTooLarge(PermanentError):
    """The (decoded) body passed `max_body_bytes`; reading stopped there."""


class FetchTimeout(TransientError):
    """A deadline passed: connect, read, write, pool or the total one."""


class FetchError(TransientError):
    """The transport failed: DNS, refused or reset connection, broken HTTP."""


def address_problem(ip: IPAddress) -> str | None:
    """Why the guard refuses to connect to `ip`, or None when it is a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            problem = address_problem(ip.ipv4_mapped)
            return problem and f"IPv4-mapped {problem}"
        if ip in _NAT64_WELL_KNOWN:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
            problem = address_problem(embedded)
            return problem and f"NAT64 of {embedded}, {problem}"
        if ip in _NAT64_LOCAL_USE:
            return "local-use NAT64 address"
        if ip.is_site_local:
            return "site-local address"
    # `is_private` is incomplete before Python 3.12.4; `is_global` plus explicit checks is not.
    if ip.is_loopback:
        return "loopback address"
    if ip.is_unspecified:
        return "unspecified address"
    if ip.is_link_local:
        return "link-local address"
    if ip.is_multicast:
        return "multicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED_ADDRESS_SPACE:
        return "shared (carrier-grade NAT) address"
    if ip.is_reserved:
        return "reserved address"
    if not ip.is_global:
        return "private or special-purpose address"
    return None


def parse_ip(host: str) -> IPAddress | None:
    """The address a URL host denotes literally, or None for a name that needs DNS.

    Besides dotted quads and IPv6 this accepts the legacy numeric forms that C resolvers
    still honour (`2130706433`, `0x7f.1`, `0177.0.0.1`), so they cannot slip past the guard.
    """
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    if not 1 <= len(labels) <= 4 or not all(_NUMERIC_LABEL.fullmatch(x) for x in labels):
        return None
    try:
        parts = [_numeric_label(x) for x in labels]
    except ValueError:
        return None
    *head, last = parts
    if any(p > 0xFF for p in head) or last >= 1 << (8 * (5 - len(parts))):
        return None
    value = last
    for i, part in enumerate(head):
        value |= part << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def _numeric_label(label: str) -> int:
    if label[:2].lower() == "0x":
        return int(label[2:] or "0", 16)
    if len(label) > 1 and label.startswith("0"):
        return int(label, 8)
    return int(label)


async def system_resolver(host: str, port: int) -> list[str]:
    """The default resolver: the event loop's getaddrinfo, addresses in its order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for *_, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


@functools.lru_cache(maxsize=8192)
def _parsed(url: str) -> httpx.URL:
    """`httpx.URL(url)`, remembered for the next poll of the same feed.

    Parsing costs about 10 µs (httpx percent-encodes each part through regexes), a
    noticeable share of a 304 poll; URLs are immutable, so one object serves every poll.
    Invalid URLs raise each time and are not kept. A parsed URL takes about 430 bytes, so
    8,192 entries with their keys stay under about 5 MB.
    """
    return httpx.URL(url)


def _shown(url: httpx.URL, *, redact_path: bool = False) -> str:
    """A URL fit for messages and logs: never its userinfo; for webhooks not its path."""
    if url.userinfo:
        url = url.copy_with(username=None, password=None)
    if redact_path:
        return f"{url.scheme}://{url.netloc.decode('ascii')}/…"
    return str(url)


class _Decoder(Protocol):
    def decode(self, data: bytes, limit: int) -> bytes:
        """Decoded output of `data`; at most `limit + 1` bytes so overflow is visible."""

    def flush(self, limit: int) -> bytes: ...


class _Identity:
    def decode(self, data: bytes, limit: int) -> bytes:
        return data

    def flush(self, limit: int) -> bytes:
        return b""


class _Zlib:
    """gzip or deflate, never producing more than it is allowed to (a bomb stays small)."""

    def __init__(self, wbits: int, *, raw_fallback: bool = False) -> None:
        self._inflate = zlib.decompressobj(wbits)
        self._raw_fallback = raw_fallback

    def decode(self, data: bytes, limit: int) -> bytes:
        try:
            out = self._inflate.decompress(data, limit + 1)
        except zlib.error:
            # "deflate" is meant to be zlib-wrapped; some servers send it raw.
            if not self._raw_fallback:
                raise
            self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._inflate.decompress(data, limit + 1)
        self._raw_fallback = False
        # Output below the limit means all input was consumed; at the limit the caller stops.
        return out

    def flush(self, limit: int) -> bytes:
        return self._inflate.flush()


class _Brotli:
    def __init__(self, module: Any) -> None:
        self._decompressor = module.Decompressor()

    def decode(self, data: bytes, limit: int) -> bytes:
        out: bytes = self._decompressor.process(data, max_output_length=limit + 1)
        return out

    def flush(self, limit: int) -> bytes:
        return b""


def _load_brotli() -> Any | None:
    """The brotli module if it is installed and can decode with a bounded output."""
    try:
        module = importlib.import_module("brotli")
        module.Decompressor().process(b"", max_output_length=1)
    except (ImportError, TypeError, AttributeError):
        return None
    return module


_BROTLI = _load_brotli()
_ACCEPT_ENCODING = "gzip, deflate, br" if _BROTLI is not None else "gzip, deflate"


def _decoder(content_encoding: str | None, url: str) -> _Decoder:
    codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return _Identity()
    if len(codings) > 1:
        raise PermanentError(f"{url}: unsupported stacked Content-Encoding {content_encoding!r}")
    coding = codings[0]
    if coding in ("gzip", "x-gzip"):
        return _Zlib(zlib.MAX_WBITS | 16)
    if coding == "deflate":
        return _Zlib(zlib.MAX_WBITS, raw_fallback=True)
    if coding == "br" and _BROTLI is not None:
        return _Brotli(_BROTLI)
    if coding in _UNDECODABLE:
        raise PermanentError(f"{url}: cannot decode Content-Encoding {coding!r}")
    return _Identity()  # an unknown label (e.g. "utf-8"): servers mean no coding at all


@dataclass
class _HostSlot:
    semaphore: asyncio.Semaphore
    users: int = 0


@dataclass(frozen=True, slots=True)
class _Allow:
    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: tuple[str, ...]) -> _Allow:
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries:
            text = entry.strip().strip("[]")
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                hosts.add(text.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def covers(self, ip: IPAddress) -> bool:
        candidates: list[IPAddress] = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            candidates.append(ip.ipv4_mapped)
        return any(
            c in net for c in candidates for net in self.networks if c.version == net.version
        )


@dataclass
class _Hop:
    """One request on the way to a response; `pin` is the vetted address to connect to."""

    url: httpx.URL
    pin: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    sni: str | None = None  # the TLS server name when the URL's host was replaced by `pin`


class Http:
    """The one HTTP client: every request of the bot goes through an instance of this.

    Redirects are followed here, not by httpx, so the SSRF guard sees every hop. The guard
    resolves a hostname once and connects to the address it checked (the URL's host is
    rewritten to it, with `Host` and TLS SNI kept on the real name), so DNS rebinding between
    check and connect cannot reach an internal address.
    """

    def __init__(
        self,
        settings: NetSettings = NetSettings(),
        *,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = settings
        self._resolve = resolver or system_resolver
        self._allow = _Allow.parse(settings.allow)
        self._hosts: dict[str, _HostSlot] = {}
        self._in_flight = asyncio.Semaphore(settings.max_in_flight)
        self._default_headers = {
            "Accept": "*/*",
            "Accept-Encoding": _ACCEPT_ENCODING,
            "User-Agent": settings.user_agent,
        }
        # Requests go straight to a connection pool, not through an httpx.AsyncClient or
        # aiohttp's redirect handling: every feature a client adds on top (redirects, cookies,
        # auth, environment proxies) is one the bot does itself or must not have, and on a 304
        # poll that bookkeeping costs more than the exchange itself.
        self._carrier: _Carrier = (
            _HttpxCarrier(settings, ssl_context)
            if settings.transport == "httpx"
            else _AiohttpCarrier(settings, ssl_context)
        )

    async def __aenter__(self) -> Http:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._carrier.aclose()

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        headers: Mapping[str, str] | None = None,
        guard: bool = True,
    ) -> Response:
        """GET `url`, following redirects; any HTTP status is returned, transport failures raise.

        `etag` and `last_modified` make it conditional (a 304 answers `not_modified`).
        """
        sent = CIMultiDict(headers or {})
        if etag:
            sent["If-None-Match"] = etag
        if last_modified:
            sent["If-Modified-Since"] = last_modified
        current = self._parse(url, redact_path=False)
        remaining = self.settings.total_timeout
        redirects = 0
        while True:
            response, remaining = await self._exchange(
                "GET",
                current,
                sent,
                None,
                guard=guard,
                follow=True,
                budget=remaining,
                total=self.settings.total_timeout,
                redact_path=False,
            )
            location = response.headers.get("location")
            if response.status not in _REDIRECTS or location is None:
                return response
            redirects += 1
            if redirects > self.settings.max_redirects:
                raise BlockedURL(
                    f"{_shown(current)}: too many redirects "
                    f"(more than {self.settings.max_redirects})"
                )
            target = self._redirect_target(current, location)
            if not _same_origin_or_upgrade(current, target):
                for name in _CREDENTIAL_HEADERS:
                    sent.popall(name, None)
            current = target

    async def post(
        self,
        url: str,
        *,
        content: bytes,
        headers: Mapping[str, str] | None = None,
        guard: bool = False,
        timeout: float | None = None,  # noqa: ASYNC109 - it caps this one request, by design
    ) -> Response:
        """POST `content` once; redirects are returned, not followed.

        `timeout` replaces `total_timeout` for this request. Messages never show the URL's
        path: webhook URLs carry their token there.
        """
        total = timeout if timeout is not None else self.settings.total_timeout
        response, _ = await self._exchange(
            "POST",
            self._parse(url, redact_path=True),
            CIMultiDict(headers or {}),
            content,
            guard=guard,
            follow=False,
            budget=total,
            total=total,
            redact_path=True,
        )
        return response

    # -- one request ---------------------------------------------------------------------------

    def _parse(self, url: str, *, redact_path: bool) -> httpx.URL:
        try:
            parsed = _parsed(url)
        except httpx.InvalidURL as exc:
            raise BlockedURL(f"invalid URL: {exc}") from None
        self._check_scheme(parsed, redact_path=redact_path)
        return parsed

    @staticmethod
    def _check_scheme(url: httpx.URL, *, redact_path: bool) -> None:
        if url.scheme not in ("http", "https"):
            shown = "<redacted>" if redact_path else str(url)[:200]
            raise BlockedURL(f"{shown}: scheme {url.scheme!r} is not allowed (http and https only)")
        if not url.raw_host:
            raise BlockedURL(f"{_shown(url, redact_path=redact_path)}: no host")

    def _redirect_target(self, current: httpx.URL, location: str) -> httpx.URL:
        try:
            target = current.join(location.strip())
        except httpx.InvalidURL as exc:
            raise BlockedURL(f"{_shown(current)}: invalid redirect target: {exc}") from None
        self._check_scheme(target, redact_path=False)
        if current.scheme == "https" and target.scheme == "http":
            raise BlockedURL(
                f"{_shown(current)}: refused redirect from https to http ({_shown(target)})"
            )
        return target

    async def _exchange(
        self,
        method: str,
        url: httpx.URL,
        headers: CIMultiDict[str],
        content: bytes | None,
        *,
        guard: bool,
        follow: bool,
        budget: float,
        total: float,
        redact_path: bool,
    ) -> tuple[Response, float]:
        """One request within what is left of the total deadline; returns it and what is left.

        Waiting for a per-host slot is not counted: the deadline bounds the work on the request.
        """
        shown = _shown(url, redact_path=redact_path)
        loop = asyncio.get_running_loop()
        async with self._host_slot(url.host):
            started = loop.time()
            deadline = asyncio.timeout(max(budget, 0.0))
            try:
                async with deadline:
                    response = await self._send(
                        method, url, headers, content, guard=guard, follow=follow, shown=shown
                    )
            except TimeoutError as exc:
                if not deadline.expired():
                    raise FetchError(f"{shown}: {exc or 'timed out'}") from None
                raise FetchTimeout(
                    f"{shown}: no complete response within the total deadline of {total:g} s"
                ) from None
            return response, budget - (loop.time() - started)

    async def _send(
        self,
        method: str,
        url: httpx.URL,
        headers: CIMultiDict[str],
        content: bytes | None,
        *,
        guard: bool,
        follow: bool,
        shown: str,
    ) -> Response:
        hop = await self._vet(url, guard=guard, shown=shown)
        try:
            target = url if hop.pin is None else url.copy_with(host=hop.pin)
        except httpx.InvalidURL as exc:
            raise BlockedURL(f"{shown}: cannot connect to {hop.pin}: {exc}") from None
        sent = CIMultiDict(self._default_headers)
        sent.update(headers)
        sent.update(hop.headers)
        if target.userinfo:
            # Credentials in the URL go as Basic auth to this URL's host only, never in the
            # request line; an explicit Authorization header wins.
            if "authorization" not in sent:
                pair = f"{url.username}:{url.password}".encode()
                sent["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
            target = target.copy_with(username=None, password=None)
        status, received, body = await self._carrier.exchange(
            method,
            target,
            sent,
            content,
            sni=hop.sni,
            follow=follow,
            cap=self.settings.max_body_bytes,
            shown=shown,
        )
        return Response(str(url), status, received, body)

    async def _vet(self, url: httpx.URL, *, guard: bool, shown: str) -> _Hop:
        """Check where `url` leads; the hop says which address to connect to."""
        hop = _Hop(url)
        host = url.raw_host.decode("ascii")
        bare = host.lower().rstrip(".")
        if not guard or bare in self._allow.hosts:
            return hop
        literal = parse_ip(host)
        if literal is not None:
            self._refuse_unless_allowed(literal, shown, host)
            if str(literal) != host:  # a legacy numeric form: connect to what was checked
                hop.pin = str(literal)
            return hop
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            addresses = await self._resolve(host, port)
        except UnicodeError as exc:  # e.g. a label longer than DNS allows
            raise BlockedURL(f"{shown}: invalid host name {host!r}: {exc}") from None
        except OSError as exc:
            raise FetchError(f"{shown}: cannot resolve {host}: {exc}") from None
        if not addresses:
            raise FetchError(f"{shown}: cannot resolve {host}: no addresses")
        vetted: list[IPAddress] = []
        for address in addresses:
            ip = parse_ip(address)
            if ip is None:
                raise BlockedURL(f"{shown}: {host} resolved to a non-address {address!r}")
            self._refuse_unless_allowed(ip, shown, host)
            vetted.append(ip)
        hop.pin = str(vetted[0])
        hop.headers["Host"] = url.netloc.decode("ascii")
        if url.scheme == "https":
            hop.sni = host.rstrip(".")
            # The pool keys connections by address: without this, a TLS connection made for
            # one name could carry the next request for another name on the same address.
            hop.headers["Connection"] = "close"
        return hop

    def _refuse_unless_allowed(self, ip: IPAddress, shown: str, host: str) -> None:
        if self._allow.covers(ip):
            return
        problem = address_problem(ip)
        if problem is not None:
            via = "" if parse_ip(host) is not None else f" ({host} resolves to it)"
            raise BlockedURL(f"{shown}: refused {problem} {ip}{via}")

    @contextlib.asynccontextmanager
    async def _host_slot(self, host: str) -> AsyncIterator[None]:
        """At most `per_host_limit` requests to one host at once; idle hosts are forgotten."""
        slot = self._hosts.get(host)
        if slot is None:
            slot = self._hosts[host] = _HostSlot(asyncio.Semaphore(self.settings.per_host_limit))
        slot.users += 1
        try:
            async with slot.semaphore, self._in_flight:
                yield
        finally:
            slot.users -= 1
            if slot.users == 0:
                del self._hosts[host]


def _same_origin_or_upgrade(a: httpx.URL, b: httpx.URL) -> bool:
    if a.raw_host.lower() != b.raw_host.lower():
        return False
    if a.scheme == b.scheme:
        return a.port == b.port
    # http -> https on the same host with default ports keeps credentials, as browsers do.
    return a.scheme == "http" and b.scheme == "https" and a.port is None and b.port is None


def _phase(exc: httpx.TimeoutException) -> str:
    return {
        httpx.ConnectTimeout: "connect",
        httpx.ReadTimeout: "read",
        httpx.WriteTimeout: "write",
        httpx.PoolTimeout: "connection pool",
    }.get(type(exc), "request")


async def _read_capped(
    status: int,
    headers: Mapping[str, str],
    chunks: AsyncIterator[bytes],
    *,
    follow: bool,
    cap: int,
    shown: str,
) -> bytes:
    """The response's body, decoded, within `cap` bytes; none for a redirect to be followed."""
    if follow and status in _REDIRECTS and "location" in headers:
        return b""
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise BodyTooLarge(f"{shown}: body of {declared} bytes exceeds the cap of {cap} bytes")
    decoder = _decoder(headers.get("content-encoding"), shown)
    body = bytearray()
    received = 0
    try:
        async for chunk in chunks:
            received += len(chunk)
            body += decoder.decode(chunk, cap - len(body))
            if len(body) > cap or received > cap:
                raise BodyTooLarge(f"{shown}: body exceeds the cap of {cap} bytes")
        body += decoder.flush(cap - len(body))
    except zlib.error as exc:
        raise PermanentError(f"{shown}: corrupt compressed body: {exc}") from None
    if len(body) > cap:
        raise BodyTooLarge(f"{shown}: body exceeds the cap of {cap} bytes")
    return bytes(body)


class _Carrier(Protocol):
    """Sends one request to the address in its URL and reads the response.

    A redirect is returned with no body when `follow` is set (the caller follows it); the
    body is read within `cap` bytes, decoded. Failures of the exchange itself raise FetchError
    or FetchTimeout, named by `shown` (the URL as the caller may show it).
    """

    async def exchange(
        self,
        method: str,
        url: httpx.URL,
        headers: CIMultiDict[str],
        content: bytes | None,
        *,
        sni: str | None,
        follow: bool,
        cap: int,
        shown: str,
    ) -> tuple[int, Mapping[str, str], bytes]: ...

    async def aclose(self) -> None: ...


class _AiohttpCarrier:
    """aiohttp's connection pool, called directly: on thousands of conditional polls at once
    its C parser and the absence of any adapter layer make it the fast one."""

    def __init__(self, settings: NetSettings, ssl_context: ssl.SSLContext | None) -> None:
        self._settings = settings
        self._ssl = ssl_context if ssl_context is not None else httpx.create_ssl_context()
        self._session: aiohttp.ClientSession | None = None
        self._timeout = aiohttp.ClientTimeout(
            total=None,  # the caller's deadline bounds the whole request
            connect=settings.connect_timeout,  # a pooled connection or a new one
            sock_connect=settings.connect_timeout,
            sock_read=settings.read_timeout,
        )

    def _open(self) -> aiohttp.ClientSession:
        # Made on the first request, inside the running event loop, as aiohttp wants.
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._settings.max_in_flight, ssl=self._ssl),
            # No cookie jar: cookies set by one site must never travel to another.
            cookie_jar=aiohttp.DummyCookieJar(),
            # Environment proxies would connect by name and undo the address pinning.
            trust_env=False,
            auto_decompress=False,  # the body is decoded by the reader, within the size cap
        )
        return self._session

    async def exchange(
        self,
        method: str,
        url: httpx.URL,
        headers: CIMultiDict[str],
        content: bytes | None,
        *,
        sni: str | None,
        follow: bool,
        cap: int,
        shown: str,
    ) -> tuple[int, Mapping[str, str], bytes]:
        session = self._session or self._open()
        try:
            async with session.request(
                method,
                str(url),
                headers=headers,
                data=content,
                allow_redirects=False,
                timeout=self._timeout,
                server_hostname=sni,
            ) as r:
                chunks = r.content.iter_any()
                body = await _read_capped(
                    r.status, r.headers, chunks, follow=follow, cap=cap, shown=shown
                )
                return r.status, r.headers, body
        except TimeoutError as exc:  # aiohttp's own, per phase; the deadline is the caller's
            phase = "connect" if isinstance(exc, aiohttp.ConnectionTimeoutError) else "read"
            raise FetchTimeout(f"{shown}: {phase} timed out") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise FetchError(f"{shown}: {type(exc).__name__}: {exc or 'failed'}") from None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


class _HttpxCarrier:
    """httpx's own connection pool (BOT_NET_TRANSPORT=httpx)."""

    def __init__(self, settings: NetSettings, ssl_context: ssl.SSLContext | None) -> None:
        verify: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._pool = httpx.AsyncHTTPTransport(
            verify=verify,
            limits=httpx.Limits(max_connections=settings.max_in_flight),
            trust_env=False,
        )
        self._timeout = {
            "connect": settings.connect_timeout,
            "read": settings.read_timeout,
            "write": settings.read_timeout,
            "pool": settings.connect_timeout,
        }

    async def exchange(
        self,
        method: str,
        url: httpx.URL,
        headers: CIMultiDict[str],
        content: bytes | None,
        *,
        sni: str | None,
        follow: bool,
        cap: int,
        shown: str,
    ) -> tuple[int, Mapping[str, str], bytes]:
        extensions: dict[str, Any] = {"timeout": self._timeout}
        if sni is not None:
            extensions["sni_hostname"] = sni
        request = httpx.Request(
            method, url, headers=list(headers.items()), content=content, extensions=extensions
        )
        try:
            r = await self._pool.handle_async_request(request)
            try:
                chunks = r.aiter_raw()
                body = await _read_capped(
                    r.status_code, r.headers, chunks, follow=follow, cap=cap, shown=shown
                )
                return r.status_code, r.headers, body
            finally:
                await r.aclose()
        except httpx.TimeoutException as exc:
            raise FetchTimeout(f"{shown}: {_phase(exc)} timed out") from None
        except httpx.TransportError as exc:
            raise FetchError(f"{shown}: {type(exc).__name__}: {exc or 'failed'}") from None

    async def aclose(self) -> None:
        await self._pool.aclose()

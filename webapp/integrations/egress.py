"""Requests to tenants' URLs without becoming a way into our own network (SSRF). A target is resolved once, every
address it resolves to must be public (not loopback, private, link-local — the cloud metadata service lives there —
shared, multicast or reserved), and the request goes to that very address (pinned: a second DNS answer cannot
switch it to an inside one) with the original Host and TLS name; redirects are never followed. Outside production a
setting (WEBHOOKS_ALLOW_LOOPBACK) lets loopback through, so development and tests can receive on 127.0.0.1."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

TIMEOUT_SECONDS = 15  # Svix and Dodo: a 2xx within 15 s counts
EXCERPT_CHARS = 1000
READ_LIMIT = 64 * 1024  # what we read of an answer, whatever its size


class EgressRefused(ValueError):
    """The URL is not one we send to; the message says why in words for the person who entered it."""


@dataclass(frozen=True)
class Target:
    """A URL checked and resolved: where the request goes and what it is called."""

    url: str
    scheme: str
    host: str
    port: int
    address: str


@dataclass(frozen=True)
class Answer:
    """What came back (or why nothing did)."""

    status: int | None
    excerpt: str | None
    retry_after: str | None
    error: str | None
    duration_ms: int


def check_address(address: str, *, allow_loopback: bool) -> None:
    """Refuse an address that is not public (loopback only when allowed)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback and allow_loopback:
        return
    if not ip.is_global or ip.is_multicast:
        kind = ("loopback" if ip.is_loopback else "link-local (cloud metadata lives there)" if ip.is_link_local
                else "private" if ip.is_private else "not public")  # fmt: skip
        raise EgressRefused(f"The address {ip} is {kind}; webhooks only go to public addresses.")


def parse(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of an http(s) URL without credentials."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise EgressRefused("This is not a valid URL.") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EgressRefused("Use an http:// or https:// URL with a host name.")
    if parts.username or parts.password:
        raise EgressRefused("Put no user name or password in the URL; verify our signature instead.")
    path = parts.path or "/"
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), \
        path + (f"?{parts.query}" if parts.query else "")  # fmt: skip


async def resolve(url: str, *, allow_loopback: bool) -> Target:
    """Check a URL and resolve its host; every address must pass (EgressRefused otherwise)."""
    scheme, host, port, _ = parse(url)
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise EgressRefused(f"The host {host} does not resolve.") from exc
        addresses = list(dict.fromkeys(info[4][0] for info in found))
    for address in addresses:
        check_address(address, allow_loopback=allow_loopback)
    return Target(url, scheme, host, port, addresses[0])


def _pinned_url(target: Target) -> str:
    _, _, _, path = parse(target.url)
    literal = f"[{target.address}]" if ":" in target.address else target.address
    return urlunsplit((target.scheme, f"{literal}:{target.port}", "", "", "")) + path


async def post(target: Target, body: bytes, headers: dict[str, str], *, timeout: float = TIMEOUT_SECONDS) -> Answer:
    """POST to the pinned address; never follows a redirect; reads at most READ_LIMIT bytes of the answer; the whole
    exchange — connecting, sending, the answer's last byte — gets `timeout` seconds (httpx's own limit is per
    operation: a receiver trickling a byte at a time would hold a worker for ever)."""
    default_port = 443 if target.scheme == "https" else 80
    host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
    if ":" in target.host:
        host_header = f"[{target.host}]" + ("" if target.port == default_port else f":{target.port}")
    send_headers = {**headers, "Host": host_header, "Content-Type": "application/json",
                    "User-Agent": "ClosedLoop-Webhooks/1"}  # fmt: skip
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    started = time.monotonic()
    try:
        async with (
            asyncio.timeout(timeout),
            httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False) as http,
        ):
            request = http.build_request("POST", _pinned_url(target), content=body, headers=send_headers,
                                         extensions=extensions)  # fmt: skip
            response = await http.send(request, stream=True)
            try:
                raw = b""
                async for chunk in response.aiter_raw():
                    raw += chunk
                    if len(raw) >= READ_LIMIT:
                        break
            finally:
                await response.aclose()
    except (httpx.TimeoutException, TimeoutError):
        return Answer(None, None, None, f"No answer within {timeout:g} s.", _ms(started))
    except httpx.HTTPError as exc:
        return Answer(None, None, None, f"{type(exc).__name__}: {exc}"[:500] or "connection failed", _ms(started))
    excerpt = raw[:READ_LIMIT].decode("utf-8", errors="replace")[:EXCERPT_CHARS]
    return Answer(response.status_code, excerpt, response.headers.get("Retry-After"), None, _ms(started))


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)

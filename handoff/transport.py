"""The one HTTP client of the handoff, with the address guard built into how it connects.

A webhook URL is somebody else's input, so it must not become a way to reach this machine or its
network (SSRF): unless ``QUALIBOT_ALLOW_PRIVATE_WEBHOOKS=1``, a connection to a private, loopback,
link-local, shared, reserved or multicast address is refused. The check is made when connecting,
not when the URL is registered: the host name is resolved, every address is checked, and the
checked address is the one dialled (a DNS answer that changes between check and connect, "DNS
rebinding", gains nothing). TLS still verifies the certificate against the host name. Redirects
are never followed and no proxy from the environment is used, so nothing else decides where a
request goes.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import typing

import anyio
import httpcore
import httpx
from typing_extensions import override

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedAddress(httpcore.ConnectError):
    """The host resolves to an address webhooks may not reach."""


def blocked_reason(address: IPAddress) -> str | None:
    """Why a webhook may not connect to ``address`` (None: it may)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            address = embedded
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_unspecified or address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "private"
    return None


def literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


async def resolve(host: str, port: int, within: float | None) -> list[IPAddress]:
    """Every address ``host`` resolves to, in the resolver's order (TimeoutError after ``within``)."""
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    with anyio.fail_after(within):
        found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in found:
        address = ipaddress.ip_address(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def check_addresses(host: str, addresses: typing.Sequence[IPAddress]) -> None:
    """Raise ``BlockedAddress`` if any address of ``host`` is one webhooks may not reach."""
    for address in addresses:
        reason = blocked_reason(address)
        if reason is not None:
            raise BlockedAddress(
                f"{host} resolves to {address}, a {reason} address "
                "(QUALIBOT_ALLOW_PRIVATE_WEBHOOKS=1 allows it)"
            )


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host itself, checks every address, then dials the checked address."""

    def __init__(self, *, allow_private: bool) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_private = allow_private

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await resolve(host, port, timeout)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        if not self._allow_private:
            check_addresses(host, addresses)
        failure: Exception = httpcore.ConnectError(f"{host} resolves to no address")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure

    @override
    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress("webhooks never use Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport over a connection pool that connects through ``GuardedBackend``.
    (httpx takes no network backend as an argument; its pool is the one attribute replaced.)"""

    def __init__(self, *, allow_private: bool, limits: httpx.Limits) -> None:
        super().__init__(trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl.create_default_context(cafile=_certifi_where()),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(allow_private=allow_private),
        )


def _certifi_where() -> str:
    import certifi

    return str(certifi.where())


USER_AGENT = "Qualibot-Webhooks/1"


def make_client(*, timeout: float, allow_private: bool, max_connections: int = 256) -> httpx.AsyncClient:
    """The process's client for webhooks: ``timeout`` for connect, each read and the whole
    request's writes, no redirects, no environment proxies."""
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    return httpx.AsyncClient(
        transport=GuardedTransport(allow_private=allow_private, limits=limits),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
        headers={"user-agent": USER_AGENT},
    )


def blocked(exc: BaseException) -> BlockedAddress | None:
    """The guard's refusal behind an httpx error, if that is what it was."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, BlockedAddress):
            return seen
        seen = seen.__cause__
    return None

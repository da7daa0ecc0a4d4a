"""The address of the client behind the connection: the peer itself, unless the peer is one of
``QUALIBOT_TRUSTED_PROXIES``, in which case ``X-Forwarded-For`` is read from the right, past every
trusted proxy, to the first address that is not one. Anything a client could have written itself
(the left part of the header, malformed entries) is never believed."""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address

from api.settings import Network

Address = IPv4Address | IPv6Address


class ClientAddress:
    def __init__(self, trusted: Sequence[Network]) -> None:
        self._trusted = tuple(trusted)

    def _is_trusted(self, address: Address) -> bool:
        return any(address in network for network in self._trusted)

    def __call__(self, peer: str | None, forwarded_for: str | None) -> str:
        if peer is None:
            return "unknown"
        if not self._trusted or forwarded_for is None:
            return peer
        try:
            current = ip_address(peer)
        except ValueError:
            return peer
        if not self._is_trusted(current):
            return peer
        for entry in reversed(forwarded_for.split(",")):
            try:
                hop = ip_address(entry.strip())
            except ValueError:
                break  # a garbled hop: trust stops at the last proxy that wrote a good one
            current = hop
            if not self._is_trusted(hop):
                break
        return str(current)

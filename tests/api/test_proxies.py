"""Whose address a request is counted under: X-Forwarded-For only through trusted proxies."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from api.proxies import ClientAddress

TRUSTED = ClientAddress([ip_network("10.0.0.0/8"), ip_network("127.0.0.1/32")])


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert ClientAddress([])("203.0.113.9", "198.51.100.1") == "203.0.113.9"


def test_an_untrusted_peer_cannot_claim_an_address() -> None:
    assert TRUSTED("203.0.113.9", "198.51.100.1") == "203.0.113.9"


@pytest.mark.parametrize(
    ("forwarded", "client"),
    [
        ("198.51.100.1", "198.51.100.1"),
        ("198.51.100.1, 10.0.0.2", "198.51.100.1"),
        # the visitor wrote the left part themselves: only the hop the proxy added counts
        ("1.2.3.4, 198.51.100.1", "198.51.100.1"),
        ("1.2.3.4, 198.51.100.1, 10.1.1.1, 10.0.0.7", "198.51.100.1"),
        # every hop a trusted proxy: the leftmost
        ("10.0.0.3, 10.0.0.2", "10.0.0.3"),
        # a garbled hop: trust stops at the last good one
        ("198.51.100.1, not-an-ip", "127.0.0.1"),
        ("2001:db8::1", "2001:db8::1"),
    ],
)
def test_the_first_address_left_of_the_trusted_proxies(forwarded: str, client: str) -> None:
    assert TRUSTED("127.0.0.1", forwarded) == client


def test_no_header_is_the_peer() -> None:
    assert TRUSTED("10.0.0.1", None) == "10.0.0.1"

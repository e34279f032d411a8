"""Who a request comes from: the connection's peer, unless a trusted proxy says otherwise.

``X-Forwarded-For`` is a list any client can write; only the addresses appended by
proxies we run can be believed. The standard rule: when the peer is a trusted proxy,
walk the list from the right (the most recent hop) and take the first address that
is not itself a trusted proxy. With no trusted proxies the header is never read, so
rotating it cannot make one client look like many.

Rate limits key clients by :func:`bucket_key`: an IPv6 client owns a whole /64 (one
host can use any address in it), so its buckets are per /64, not per address.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_address, ip_network

UNKNOWN_CLIENT = "unknown"
# More hops than this is no real proxy chain; the walk stops there.
MAX_FORWARDED_HOPS = 32
IPV6_CLIENT_PREFIX = 64
CLASSIFY_CACHE_SIZE = 4096

Address = IPv4Address | IPv6Address


def parse_address(text: str) -> Address | None:
    """An address from a peer or an ``X-Forwarded-For`` hop (ports and brackets tolerated)."""
    text = text.strip()
    try:
        return _unmapped(ip_address(text))
    except ValueError:
        pass
    if text.startswith("["):  # "[2001:db8::1]:443"
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # "192.0.2.1:443"
        text = text.split(":", 1)[0]
    else:
        return None
    try:
        return _unmapped(ip_address(text))
    except ValueError:
        return None


def _unmapped(address: Address) -> Address:
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class ClientResolver:
    """The client address of a request, given the proxies we trust (IPs or CIDRs)."""

    def __init__(self, trusted_proxies: Iterable[str] = ()) -> None:
        self._trusted = tuple(ip_network(entry.strip(), strict=False) for entry in trusted_proxies)
        # Parsing an address and testing it against networks costs microseconds in
        # ``ipaddress``; the same few proxies and clients come back again and again.
        self._classify = lru_cache(maxsize=CLASSIFY_CACHE_SIZE)(self._classify_uncached)

    @property
    def reads_forwarded_for(self) -> bool:
        """False when no proxy is trusted: callers need not even fetch the header."""
        return bool(self._trusted)

    def _classify_uncached(self, text: str) -> tuple[str, bool] | None:
        """(the address written canonically, whether it is a trusted proxy), None if no address."""
        address = parse_address(text)
        if address is None:
            return None
        return str(address), any(address in network for network in self._trusted)

    def client(self, peer: str | None, forwarded_for: Sequence[str] = ()) -> str:
        """The client's address; ``forwarded_for`` holds each X-Forwarded-For header, in order."""
        if peer is None:
            return UNKNOWN_CLIENT
        if not self._trusted:
            return peer  # the server's own rendering of the peer's address
        known = self._classify(peer)
        if known is None:
            return peer
        client, trusted = known
        if not trusted:
            return client
        hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
        for hop in reversed(hops[-MAX_FORWARDED_HOPS:]):
            known = self._classify(hop)
            if known is None:
                break  # not an address: keep the last hop a trusted proxy vouched for
            client, trusted = known
            if not trusted:
                break
        return client


def bucket_key(client: str) -> str:
    """The rate-limit key of a client address: the address itself, or its /64 for IPv6."""
    if ":" not in client:
        return client
    address = parse_address(client)
    if address is None:
        return client
    if isinstance(address, IPv4Address):  # written IPv4-mapped: one bucket per IPv4 client
        return str(address)
    return str(IPv6Network((int(address), IPV6_CLIENT_PREFIX), strict=False))

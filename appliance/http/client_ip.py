"""The client's address, trusting X-Forwarded-For only from configured proxies.

Anyone can send an X-Forwarded-For header; only hops that are our own reverse proxies may
vouch for the address before them. We walk the chain from the right and stop at the first
address that is not a trusted proxy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
KNOWN_PEERS = 4096


class ClientIpResolver:
    def __init__(self, trusted_proxies: Iterable[str]):
        self._trusted: list[Network] = [
            ipaddress.ip_network(p, strict=False) for p in trusted_proxies
        ]
        #: Answers for the peers seen (a proxy's few addresses, or clients on the LAN), so
        #: that parsing an address is not part of every request; bounded.
        self._known: dict[str, bool] = {}

    def _is_trusted(self, address: str) -> bool:
        known = self._known.get(address)
        if known is None:
            known = self._check(address)
            if len(self._known) < KNOWN_PEERS:
                self._known[address] = known
        return known

    def _check(self, address: str) -> bool:
        if not self._trusted:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._trusted)

    def is_trusted_proxy(self, remote_addr: str) -> bool:
        return self._is_trusted(remote_addr)

    def resolve(self, remote_addr: str, forwarded_for: str | None) -> str:
        if not forwarded_for or not self._is_trusted(remote_addr):
            return remote_addr
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        for hop in reversed(hops):
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                return remote_addr  # a malformed chain vouches for nothing
            if not self._is_trusted(hop):
                return hop
        return hops[0] if hops else remote_addr

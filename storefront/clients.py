"""Who a request comes from, as every per-client limit counts it.

An IPv4 address is one client. An IPv6 client is usually handed a whole /64 (and picks new
addresses in it at will), so an IPv6 address counts as its /64 network.
"""

from __future__ import annotations

import ipaddress

from flask import request


def client_address() -> str:
    """The caller's IPv4 address, or its IPv6 /64 network (e.g. "2001:db8:1:2::/64")."""
    remote = request.remote_addr or "127.0.0.1"
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:  # not an IP address (a Unix socket, a test's made-up name)
        return remote
    if address.version == 4:
        return str(address)
    if address.ipv4_mapped is not None:  # ::ffff:192.0.2.1 is the IPv4 client 192.0.2.1
        return str(address.ipv4_mapped)
    return str(ipaddress.ip_network(f"{address}/64", strict=False))

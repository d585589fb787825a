"""Which reverse proxies are believed, and so which address is the client's (R-SEC-4).

`TRUSTED_PROXIES` (settings, from the environment, comma-separated) lists the addresses or networks
(CIDR, IPv4 or IPv6) of the reverse proxies in front of the application. A request is believed to
come through a proxy only when its `REMOTE_ADDR` is in that list; only then are `X-Forwarded-For`
(and `X-Forwarded-Proto`) read. The client is then the nearest address in `X-Forwarded-For` that is
not itself a trusted proxy, read from the right: everything left of it was written by the client and
may be forged. With the list empty (the default) nothing a client sends is believed.
"""

from __future__ import annotations

import functools
import ipaddress

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def _parse(entries: tuple[str, ...]) -> tuple[Network, ...]:
    networks = []
    for entry in entries:
        entry = entry.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise ValueError(f"TRUSTED_PROXIES: {entry!r} is not an IP address or network") from exc
    return tuple(networks)


def trusted_networks() -> tuple[Network, ...]:
    value = getattr(settings, "TRUSTED_PROXIES", ())
    if isinstance(value, str):
        value = value.split(",")
    return _parse(tuple(value))


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = (value or "").strip()
    if value.startswith("[") and "]" in value:  # [::1]:1234
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # 203.0.113.5:1234
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_trusted(address: str) -> bool:
    ip = _ip(address)
    return ip is not None and any(ip in network for network in trusted_networks())


def from_trusted_proxy(request) -> bool:
    """Whether the request's direct peer (REMOTE_ADDR) is one of TRUSTED_PROXIES."""
    return is_trusted(request.META.get("REMOTE_ADDR", ""))


def client_address(request) -> str:
    """REMOTE_ADDR, unless it is a trusted proxy: then the nearest untrusted address of
    X-Forwarded-For (read from the right). A malformed entry ends the walk: the last trusted hop
    is then the client as far as anyone can tell."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    if not from_trusted_proxy(request):
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    client = remote
    for hop in reversed(hops):
        ip = _ip(hop)
        if ip is None:
            break
        client = str(ip)
        if not any(ip in network for network in trusted_networks()):
            break
    return client

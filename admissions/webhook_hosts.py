"""Where webhooks may go (R-SEC-5), and the connection that goes only there.

`WEBHOOK_ALLOWED_HOSTS` (settings, comma-separated) lists host names, IP addresses and networks
(CIDR). Empty: webhooks go nowhere. A URL passes when

1. its host is listed (a name exactly, case-insensitive; an IP literal as an address or inside a
   listed network), and
2. every address the name resolves to is public, or is itself listed as an address or inside a
   listed network. Loopback, link-local, private, shared, reserved, multicast and unspecified
   addresses are therefore refused unless the installation names them, so an allowed name that
   someone points at 127.0.0.1 or 169.254.169.254 sends nothing there.

The check runs when a subscription is made and again before every delivery, and the delivery then
connects to the very address that was checked (`post_pinned`), so a name that resolves differently
a moment later (DNS rebinding) cannot slip past. What a refused or failed delivery records is a
fixed sentence, never the socket's own error, so the delivery log cannot be used to probe which
ports of which hosts answer.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext_lazy as _

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

NOT_LISTED = _("this host is not among the webhook hosts this installation allows (WEBHOOK_ALLOWED_HOSTS)")
NONE_ALLOWED = _("this installation allows webhooks to no host (WEBHOOK_ALLOWED_HOSTS is empty)")
UNRESOLVED = _("this host name could not be resolved")
NOT_PUBLIC = _(
    "this host resolves to a loopback, link-local or private address, which webhooks may reach only when "
    "WEBHOOK_ALLOWED_HOSTS lists that address"
)
# What a delivery records when it got no HTTP answer: one sentence for every cause.
NO_ANSWER = "no HTTP answer (could not connect, or timed out)"
REFUSED = "not sent: the host is not allowed (WEBHOOK_ALLOWED_HOSTS)"


class HostRefused(Exception):
    def __init__(self, reason):
        super().__init__(str(reason))
        self.reason = reason


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    addresses: tuple[Address, ...]


def _as_address(value: str) -> Address | None:
    try:
        address = ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _allowed() -> tuple[set[str], list[Network]]:
    names: set[str] = set()
    networks: list[Network] = []
    for entry in getattr(settings, "WEBHOOK_ALLOWED_HOSTS", []) or []:
        entry = entry.strip().lower().rstrip(".")
        if not entry:
            continue
        if entry.startswith("[") and entry.endswith("]"):
            entry = entry[1:-1]
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            names.add(entry)
    return names, networks


def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (tests replace this: there is no DNS in the sandbox)."""
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def _public(address: Address) -> bool:
    return address.is_global and not address.is_multicast


def vet(url: str) -> Target:
    """The URL's host and the addresses it may be reached at; HostRefused (with a reason in plain
    words) when R-SEC-5 forbids it."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:  # a port out of range
        raise HostRefused(NOT_LISTED) from exc
    names, networks = _allowed()
    if not names and not networks:
        raise HostRefused(NONE_ALLOWED)
    literal = _as_address(host)
    if literal is not None:
        if not any(literal in network for network in networks):
            raise HostRefused(NOT_LISTED)
        return Target(parts.scheme, host, port, (literal,))
    if host not in names:
        raise HostRefused(NOT_LISTED)
    try:
        resolved = [_as_address(value) for value in resolve(host, port)]
    except (OSError, UnicodeError) as exc:
        raise HostRefused(UNRESOLVED) from exc
    addresses = tuple(dict.fromkeys(a for a in resolved if a is not None))
    if not addresses:
        raise HostRefused(UNRESOLVED)
    for address in addresses:
        if not _public(address) and not any(address in network for network in networks):
            raise HostRefused(NOT_PUBLIC)
    return Target(parts.scheme, host, port, addresses)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host, port, *, address: Address, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((str(self._address), self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, *, address: Address, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self):
        sock = socket.create_connection((str(self._address), self.port), self.timeout)
        # The certificate is checked against the host name, as for any HTTPS request.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post_pinned(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> tuple[int | None, str]:
    """POST to `url` at an address `vet` allowed: (status code, "") for any HTTP answer (a
    redirect is an answer, not followed), or (None, a fixed sentence). Never raises."""
    try:
        target = vet(url)
    except HostRefused:
        return None, REFUSED
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    host_header = target.host if parts.port is None else f"{target.host}:{target.port}"
    for address in target.addresses:
        connection = connection_class(target.host, target.port, address=address, timeout=timeout)
        try:
            connection.request("POST", path, body=body, headers={**headers, "Host": host_header})
            response = connection.getresponse()
            response.read(64 * 1024)
            return response.status, "" if 200 <= response.status < 300 else f"HTTP {response.status}"
        except (OSError, http.client.HTTPException, ValueError):
            continue
        finally:
            connection.close()
    return None, NO_ANSWER

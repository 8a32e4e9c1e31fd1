"""Who the client is (docs/web.md#proxies): the one place that decides which address a
request came from, for the sign-in rate limit, invitations and the access log alike.

The direct peer (the TCP connection's other end) is the client, unless it is one of the
trusted proxies given to `ledger serve --trusted-proxy ADDR|CIDR`: then `X-Forwarded-For`
says who the proxy was talking to. The header is read from the right (the entry the
trusted proxy itself added) leftwards, past any further trusted proxies, and the first
address that is not a trusted proxy is the client. Anything a client wrote into the
header itself lies to the left of that and is never believed. From a peer that is not a
trusted proxy the header is ignored altogether, so no one can choose their own address
(and with it a fresh rate limit) by sending the header.

`TrustedProxies` applies it once per request, before anything reads the address: it
puts the client in the request's scope (`request.client`), and, from a trusted proxy
only, the scheme of `X-Forwarded-Proto` (so links made on the page start https:// behind
a TLS proxy). `ledger serve` turns uvicorn's own proxy-header handling off, so this is
the only one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from ledger.errors import UsageError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
ENVIRONMENT = "LEDGER_TRUSTED_PROXIES"  # `ledger serve` passes them to every worker here


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address as a header or a socket gives it (an IPv6 one may carry a zone or
    brackets, an IPv4-mapped IPv6 one is its IPv4 address); None if it is not one."""
    text = text.strip().strip("[]").split("%", 1)[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def trusted_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """`--trusted-proxy` values (an address or a CIDR network each; commas or spaces
    may separate several in one value, as the environment carries them), or exit 2 with
    one line naming the bad one."""
    found = []
    for value in values:
        for part in value.replace(",", " ").split():
            try:
                net = ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise UsageError(f"--trusted-proxy {part[:60]!r}: give an address or a "
                                 "network, e.g. 127.0.0.1 or 10.0.0.0/8") from None
            if isinstance(net, ipaddress.IPv6Network) and net.network_address.ipv4_mapped:
                net = ipaddress.ip_network(
                    f"{net.network_address.ipv4_mapped}/{max(0, net.prefixlen - 96)}")
            found.append(net)
    return tuple(found)


def _trusted(ip, trusted: tuple[Network, ...]) -> bool:
    return ip is not None and any(ip.version == net.version and ip in net for net in trusted)


def client_address(peer: str | None, forwarded_for: Iterable[str],
                   trusted: tuple[Network, ...]) -> str | None:
    """The client's address: the peer's, or, when the peer is a trusted proxy, the
    rightmost address of `X-Forwarded-For` (all its headers, in order) that is not a
    trusted proxy. An entry that is not an address stops the walk: the last trusted hop
    before it is the client then (it is the one that passed on a header it did not
    check)."""
    peer_ip = _ip(peer) if peer else None
    if not _trusted(peer_ip, trusted):
        return str(peer_ip) if peer_ip is not None else peer
    hops = [h for value in forwarded_for for h in value.split(",") if h.strip()]
    client = peer_ip
    for hop in reversed(hops):
        ip = _ip(hop)
        if ip is None:
            break
        client = ip
        if not _trusted(ip, trusted):
            break
    return str(client)


class TrustedProxies:
    """ASGI middleware: `scope["client"]` becomes the client as `client_address` finds
    it, and from a trusted proxy `scope["scheme"]` follows `X-Forwarded-Proto`."""

    def __init__(self, app, trusted: tuple[Network, ...] = ()) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            peer = (scope.get("client") or (None, 0))
            forwarded = [v.decode("latin-1") for k, v in scope.get("headers", ())
                         if k == b"x-forwarded-for"]
            client = client_address(peer[0], forwarded, self.trusted)
            scope = dict(scope, client=(client, peer[1]) if client else None)
            if self.trusted and _trusted(_ip(peer[0] or ""), self.trusted):
                proto = next((v.decode("latin-1").split(",")[-1].strip().lower()
                              for k, v in reversed(scope.get("headers", ()))
                              if k == b"x-forwarded-proto"), None)
                if proto in ("http", "https"):
                    scheme = proto if scope["type"] == "http" else {"http": "ws",
                                                                    "https": "wss"}[proto]
                    scope["scheme"] = scheme
        await self.app(scope, receive, send)

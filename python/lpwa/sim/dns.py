"""The module's name resolution: the ``hosts`` table, IP literals, and (only when
``system_dns=True``) the host's resolver.

Simulator tests must never reach a non-loopback address, so by default a name
that is neither an IP literal nor in ``hosts`` fails like a DNS error on the
module (HTTP 714, CoAP -5). ``localhost`` is in the default table.
"""

from __future__ import annotations

import ipaddress
import socket

__all__ = ["DEFAULT_HOSTS", "DNSFailure", "resolve"]

DEFAULT_HOSTS = {"localhost": "127.0.0.1"}


class DNSFailure(Exception):
    """The name does not resolve for the module."""


def resolve(
    name: str, hosts: dict[str, str], *, system_dns: bool, have_dns_server: bool = True
) -> str:
    """The IP address the module would use for ``name``.

    ``have_dns_server`` is False when the PDP context has no DNS server
    (``0.0.0.0``, HTTP note 4.3): then only IP literals work.
    """
    host = name.strip("[]")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not have_dns_server:
        raise DNSFailure(name)
    table = {k.lower(): v for k, v in hosts.items()}
    if host.lower() in table:
        return table[host.lower()]
    if not system_dns:
        raise DNSFailure(name)
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        raise DNSFailure(name) from None
    return str(infos[0][4][0])

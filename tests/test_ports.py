"""Test helpers never pick a free port, release it and bind it later (issue 10, item 17).

On the old ``CoAPTestServer`` a port number was chosen with a throwaway socket and
given to aiocoap afterwards; anything that took the number in between (here: a
"thief" socket bound the moment the throwaway one closes) made the session-scoped
``coap_server`` fixture fail, and with it every CoAP test.
"""

from __future__ import annotations

import errno
import socket
import types
from typing import ClassVar

import pytest

import servers
from servers import CoAPTestServer, RefusingTcpPort, SilentUdpPort


class _ThiefSocket(socket.socket):
    """A socket that, when closed after binding, lets a thief bind its port at once."""

    thieves: ClassVar[list[socket.socket]] = []

    def close(self) -> None:
        try:
            port = self.getsockname()[1]
        except OSError:
            port = 0
        kind = self.type
        super().close()
        if port:
            thief = socket.socket(socket.AF_INET, kind)
            thief.bind(("127.0.0.1", port))
            self.thieves.append(thief)


def test_coap_server_survives_a_thief_taking_released_ports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = types.SimpleNamespace(**{k: getattr(socket, k) for k in dir(socket) if k.isupper()})
    fake.socket = _ThiefSocket  # type: ignore[attr-defined]
    monkeypatch.setattr(servers, "socket", fake)
    try:
        server = CoAPTestServer()
        try:
            # The server holds its port: nobody else can bind it.
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                with pytest.raises(OSError) as taken:
                    probe.bind(("127.0.0.1", server.port))
                assert taken.value.errno == errno.EADDRINUSE
        finally:
            server.close()
    finally:
        for thief in _ThiefSocket.thieves:
            thief.close()
        _ThiefSocket.thieves.clear()


def test_silent_udp_port_is_held_until_closed() -> None:
    silent = SilentUdpPort()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe, pytest.raises(OSError):
            probe.bind(("127.0.0.1", silent.port))
    finally:
        silent.close()


def test_refusing_tcp_port_refuses_and_is_held() -> None:
    with RefusingTcpPort() as refusing:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", refusing.port), timeout=5)
        with socket.socket() as probe, pytest.raises(OSError):
            probe.bind(("127.0.0.1", refusing.port))

"""Shared fixtures: the simulator, local HTTP(S) and CoAP servers, certificates, and a
raw AT test client. Everything binds or connects to 127.0.0.1 only; every wait is
bounded.

Fixtures:

- ``sim``: a default ``Simulator`` (BG96MAR02A07M1G_01.016.01.016) with fast
  timers (``time_scale=0.05``), closed at teardown.
- ``make_sim(**options)``: builds more simulators (same fast default), all closed
  at teardown.
- ``open_modem(**sim_options)``: a ``Modem`` on a fresh simulator with PDP context 1
  up; ``modem``: one on default options (files may define their own).
- ``at``: ``at(sim)`` connects a ``RawAT`` client to the simulator's TCP port.
- ``ca`` (a ``trustme.CA``), ``ca_pem``, ``client_cert_pem``, ``client_key_pem``
  (a client certificate for mutual TLS), ``server_cert`` (for localhost and
  127.0.0.1); session-scoped.
- ``http_server``, ``https_server``, ``https_mtls_server``: ``HTTPTestServer``
  instances (see ``tests/servers.py`` for the routes); session-scoped.
- ``coap_server``: ``CoAPTestServer``; ``silent_udp_port``: a UDP port number
  that never answers.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import trustme

from aio_bridge import open_blocking
from lpwa.modem import Modem
from lpwa.sim import Simulator
from servers import CoAPTestServer, HTTPTestServer, SilentUdpPort


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # A test module with SHELLS = ("sync", "aio") runs each test that opens a
    # module through `shell` (open_shell, open_modem, modem) against both the
    # blocking Modem and lpwa.aio.AsyncModem (through tests/aio_bridge.py).
    if "shell" in metafunc.fixturenames:
        shells = getattr(metafunc.module, "SHELLS", ("sync",))
        if metafunc.definition.get_closest_marker("sync_only"):
            shells = ("sync",)
        metafunc.parametrize("shell", shells, scope="module")


@pytest.fixture
def open_shell(shell: str) -> Callable[..., Any]:
    """``open_shell(url, **kw)``: ``Modem.open``, or for the "aio" shell the
    AsyncModem seen through a blocking view; a context manager either way."""
    if shell == "aio":
        return open_blocking
    return Modem.open


FAST = 0.05
"""time_scale of the fixture simulators: a 60 s module timer lasts 3 s."""

_FINAL = re.compile(rb"\r\n(OK|ERROR|\+CME ERROR: [^\r]*)\r\n")


class RawAT:
    """A raw AT client over a socket: bytes in, bytes out, every read with a deadline."""

    def __init__(self, address: tuple[str, int], timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(address, timeout=timeout)
        self.timeout = timeout
        self.buf = bytearray()

    def send(self, data: bytes | str) -> None:
        """Write bytes (str is latin-1 encoded)."""
        self.sock.sendall(data.encode("latin-1") if isinstance(data, str) else data)

    def _fill(self, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.sock.settimeout(min(remaining, 0.5))
        try:
            data = self.sock.recv(65536)
        except (TimeoutError, socket.timeout):
            return True
        if not data:
            raise ConnectionError("simulator closed the connection")
        self.buf += data
        return True

    def read_until(self, *terminators: bytes, timeout: float | None = None) -> bytes:
        """Bytes up to and including the first of ``terminators``; AssertionError on timeout."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            hits = [(self.buf.find(t), t) for t in terminators if self.buf.find(t) >= 0]
            if hits:
                pos, term = min(hits)
                out = bytes(self.buf[: pos + len(term)])
                del self.buf[: pos + len(term)]
                return out
            if not self._fill(deadline):
                raise AssertionError(
                    f"no {terminators!r} within the deadline; got {bytes(self.buf)!r}"
                )

    def read_exact(self, n: int, timeout: float | None = None) -> bytes:
        """Exactly n bytes; AssertionError on timeout."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise AssertionError(f"wanted {n} bytes, got {bytes(self.buf)!r}")
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def expect(self, data: bytes, timeout: float | None = None) -> None:
        """The next bytes are exactly ``data``."""
        got = self.read_exact(len(data), timeout)
        assert got == data, f"expected {data!r}, got {got!r}"

    def drain(self, seconds: float) -> bytes:
        """Whatever arrives within ``seconds`` (and what was buffered)."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                if not self._fill(deadline):
                    break
            except ConnectionError:
                break
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def command(self, line: str | bytes, timeout: float | None = None) -> bytes:
        """Send ``line`` + CR; return everything up to and including the final result."""
        raw = line.encode("latin-1") if isinstance(line, str) else line
        self.send(raw + b"\r")
        return self.read_final(timeout)

    def read_final(self, timeout: float | None = None) -> bytes:
        """Bytes up to and including ``OK``, ``ERROR`` or ``+CME ERROR: <n>``."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            match = _FINAL.search(self.buf)
            if match is not None:
                out = bytes(self.buf[: match.end()])
                del self.buf[: match.end()]
                return out
            if not self._fill(deadline):
                raise AssertionError(f"no final result; got {bytes(self.buf)!r}")

    def close(self) -> None:
        """Close the socket."""
        with contextlib.suppress(OSError):
            self.sock.close()


@pytest.fixture
def make_sim() -> Iterator[Callable[..., Simulator]]:
    """A factory of started simulators (fast timers by default), closed at teardown."""
    made: list[Simulator] = []

    def factory(**options: Any) -> Simulator:
        options.setdefault("time_scale", FAST)
        sim = Simulator(**options).start()
        made.append(sim)
        return sim

    yield factory
    for sim in made:
        sim.close()


@pytest.fixture
def open_modem(
    make_sim: Callable[..., Simulator], open_shell: Callable[..., Modem]
) -> Iterator[Callable[..., Modem]]:
    """``open_modem(**sim_options)``: a Modem on a fresh simulator, PDP context 1 up
    (closed at teardown)."""
    modems: list[Modem] = []

    def factory(**options: object) -> Modem:
        sim = make_sim(**options)
        modem = open_shell(sim.url)
        modems.append(modem)
        modem.network.activate(1, apn="internet")
        return modem

    yield factory
    for modem in modems:
        modem.close()


@pytest.fixture
def modem(open_modem: Callable[..., Modem]) -> Modem:
    """A Modem on a default simulator, PDP context 1 up (files may define their own)."""
    return open_modem()


@pytest.fixture
def sim(make_sim: Callable[..., Simulator]) -> Simulator:
    """A default simulator (BG96 01.016, fast timers)."""
    return make_sim()


@pytest.fixture
def at() -> Iterator[Callable[[Simulator], RawAT]]:
    """``at(sim)``: a raw AT client on the simulator's TCP port (closed at teardown)."""
    clients: list[RawAT] = []

    def connect(simulator: Simulator) -> RawAT:
        client = RawAT(simulator.address)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """A throwaway certificate authority."""
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_pem(ca: trustme.CA) -> bytes:
    """The CA certificate, PEM."""
    return bytes(ca.cert_pem.bytes())


@pytest.fixture(scope="session")
def server_cert(ca: trustme.CA) -> trustme.LeafCert:
    """The servers' certificate, for localhost and 127.0.0.1."""
    return ca.issue_cert("localhost", "127.0.0.1")


@pytest.fixture(scope="session")
def client_cert(ca: trustme.CA) -> trustme.LeafCert:
    """A client certificate for mutual TLS."""
    return ca.issue_cert("lpwa-client.example")


@pytest.fixture(scope="session")
def client_cert_pem(client_cert: trustme.LeafCert) -> bytes:
    """The client certificate, PEM."""
    return b"".join(blob.bytes() for blob in client_cert.cert_chain_pems)


@pytest.fixture(scope="session")
def client_key_pem(client_cert: trustme.LeafCert) -> bytes:
    """The client private key, PEM."""
    return bytes(client_cert.private_key_pem.bytes())


def _server_context(server_cert: trustme.LeafCert) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_cert.configure_cert(context)
    return context


@pytest.fixture(scope="session")
def http_server() -> Iterator[HTTPTestServer]:
    """The HTTP app on 127.0.0.1."""
    server = HTTPTestServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def https_server(server_cert: trustme.LeafCert) -> Iterator[HTTPTestServer]:
    """The HTTP app over TLS (certificate from ``ca``)."""
    server = HTTPTestServer(_server_context(server_cert))
    yield server
    server.close()


@pytest.fixture(scope="session")
def https_mtls_server(server_cert: trustme.LeafCert, ca: trustme.CA) -> Iterator[HTTPTestServer]:
    """The HTTP app over TLS, requiring a client certificate issued by ``ca``."""
    context = _server_context(server_cert)
    context.verify_mode = ssl.CERT_REQUIRED
    ca.configure_trust(context)
    server = HTTPTestServer(context)
    yield server
    server.close()


@pytest.fixture(scope="session")
def coap_server() -> Iterator[CoAPTestServer]:
    """aiocoap on 127.0.0.1 (routes in ``tests/servers.py``)."""
    server = CoAPTestServer()
    yield server
    server.close()


@pytest.fixture
def silent_udp_port() -> Iterator[int]:
    """A UDP port on 127.0.0.1 that never answers."""
    port = SilentUdpPort()
    yield port.port
    port.close()

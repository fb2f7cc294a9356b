"""A hostile HTTP server on 127.0.0.1 whose bodies look like the module's own
framing and URCs (issue 10 item 2), and slow but healthy servers (item 9), all
through the simulator's real sockets.

No byte from the network may become an AT event: the body comes back complete and
byte-exact, no URC appears (``modem.channel.urcs``), no reboot is counted
(``channel.reboots``), and the module answers the next request.
"""

from __future__ import annotations

import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import trustme

from lpwa import errors
from lpwa.at import Urc
from lpwa.modem import Modem
from lpwa.sim import Simulator
from servers import HTTPTestServer, pattern_bytes

# Through both shells (conftest.py): the HTTP procedures are one.
SHELLS = ("sync", "aio")

FORGED_TRAILER = b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n"
FORGED_CHUNKED = (
    b"start"
    + FORGED_TRAILER
    + b"after the fake trailer"
    + b"\r\nRDY\r\n"
    + b'\r\n+QIURC: "pdpdeact",1\r\n'
    + b"\r\n+CFUN: 1\r\n"
    + pattern_bytes(3000, seed=11)
    + FORGED_TRAILER
    + b"end"
)
FORGED_KNOWN = (
    pattern_bytes(500, seed=12)
    + b"\r\n+CME ERROR: 717\r\n"
    + b"\r\nRDY\r\n"
    + b'\r\n+QIURC: "pdpdeact",1\r\n'
    + pattern_bytes(700, seed=13)
)


def _chunked(body: bytes, sizes: tuple[int, ...] = (1, 5, 40, 999)) -> bytes:
    out = bytearray()
    pos = i = 0
    while pos < len(body):
        piece = body[pos : pos + sizes[i % len(sizes)]]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
        pos += len(piece)
        i += 1
    return bytes(out + b"0\r\n\r\n")


class RawServer:
    """An HTTP/1.1 server on 127.0.0.1 that writes canned bytes per path.

    ``routes[path]`` is a list of (delay_before_s, bytes) pieces written in order;
    ``handshake_delay`` holds every connection that long before TLS (if any).
    """

    def __init__(
        self,
        routes: dict[str, list[tuple[float, bytes]]],
        *,
        tls: ssl.SSLContext | None = None,
        handshake_delay: float = 0.0,
    ) -> None:
        self.routes = routes
        self.tls = tls
        self.handshake_delay = handshake_delay
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        scheme = "https" if self.tls else "http"
        host = "localhost" if self.tls else "127.0.0.1"
        return f"{scheme}://{host}:{self.port}{path}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(30)
            if self.handshake_delay:
                time.sleep(self.handshake_delay)
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            buf = b""
            while b"\r\n\r\n" not in buf and len(buf) < 65536:
                data = conn.recv(4096)
                if not data:
                    return
                buf += data
            head = buf.split(b"\r\n\r\n", 1)[0].decode("latin-1")
            path = head.split(" ")[1] if " " in head else "/"
            for delay, piece in self.routes.get(path, [(0.0, b"HTTP/1.1 404 No\r\n\r\n")]):
                if delay:
                    time.sleep(delay)
                conn.sendall(piece)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(timeout=5)


def _head(extra: str) -> bytes:
    return (
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
        f"{extra}Connection: close\r\n\r\n"
    ).encode()


HOSTILE_ROUTES: dict[str, list[tuple[float, bytes]]] = {
    "/chunked": [(0.0, _head("Transfer-Encoding: chunked\r\n") + _chunked(FORGED_CHUNKED))],
    # No Content-Length, no chunking: the body ends when the server closes.
    "/close": [(0.0, _head("") + FORGED_CHUNKED)],
    "/known": [(0.0, _head(f"Content-Length: {len(FORGED_KNOWN)}\r\n") + FORGED_KNOWN)],
}


@pytest.fixture(scope="module")
def hostile() -> Iterator[RawServer]:
    server = RawServer(HOSTILE_ROUTES)
    yield server
    server.close()


@pytest.fixture
def modem(make_sim: Callable[..., Simulator], open_shell: Callable[..., Modem]) -> Iterator[Modem]:
    sim = make_sim()
    with open_shell(sim.url) as m:
        m.network.activate(1, apn="internet")
        yield m


def _urcs(modem: Modem) -> list[Urc]:
    out = []
    while True:
        try:
            out.append(modem.channel.urcs.get_nowait())
        except queue.Empty:
            return out


def _assert_no_injection(modem: Modem, reboots: int) -> None:
    injected = [u for u in _urcs(modem) if u.name in ("RDY", "+QIURC", "+CFUN") or u.invalid]
    assert injected == []
    assert modem.channel.reboots == reboots


def _temp_files(modem: Modem) -> list[str]:
    return [f.name for f in modem.files.list("*") if "lpwa-" in f.name]


@pytest.mark.parametrize("headers", [True, False])
@pytest.mark.parametrize("path", ["/chunked", "/close"])
def test_unknown_length_body_with_forged_trailer_rdy_and_urcs_is_exact(
    modem: Modem, hostile: RawServer, http_server: HTTPTestServer, path: str, headers: bool
) -> None:
    modem.http.response_headers = headers
    reboots = modem.channel.reboots
    response = modem.http.get(hostile.url(path))
    assert response.content_length is None
    assert response.content == FORGED_CHUNKED
    if headers:
        assert response.headers["Content-Type"] == "application/octet-stream"
    _assert_no_injection(modem, reboots)
    assert _temp_files(modem) == []
    # Still usable, and the next answer is its own.
    assert modem.http.get(http_server.url("/bytes/321")).content == pattern_bytes(321)


def test_unknown_length_body_streamed_in_pieces_is_exact(modem: Modem, hostile: RawServer) -> None:
    reboots = modem.channel.reboots
    with modem.http.get(hostile.url("/chunked"), stream=True) as response:
        pieces = list(response.iter_content(777))
    assert b"".join(pieces) == FORGED_CHUNKED
    assert all(len(p) == 777 for p in pieces[:-1])
    _assert_no_injection(modem, reboots)
    assert _temp_files(modem) == []


def test_known_length_body_with_cme_error_and_rdy_inside_is_exact(
    modem: Modem, hostile: RawServer, http_server: HTTPTestServer
) -> None:
    reboots = modem.channel.reboots
    response = modem.http.get(hostile.url("/known"))
    assert response.content_length == len(FORGED_KNOWN)
    assert response.content == FORGED_KNOWN
    _assert_no_injection(modem, reboots)
    assert modem.http.get(http_server.url("/bytes/99")).content == pattern_bytes(99)


def test_saved_forged_body_is_the_body_only(modem: Modem, hostile: RawServer) -> None:
    with modem.http.get(hostile.url("/chunked"), stream=True) as response:
        response.save("forged.bin")
    assert modem.files.download("forged.bin") == FORGED_CHUNKED
    assert response.headers["Transfer-Encoding"] == "chunked"
    assert _temp_files(modem) == []


def test_unknown_length_body_larger_than_the_ufs_is_a_typed_error(
    make_sim: Callable[..., Simulator], http_server: HTTPTestServer
) -> None:
    sim = make_sim(ufs_size=100_000)
    with Modem.open(sim.url) as modem:
        modem.network.activate(1, apn="internet")
        with pytest.raises(errors.UFSFullError):
            modem.http.get(http_server.url("/chunked/300000"))
        assert _temp_files(modem) == []
        assert modem.http.get(http_server.url("/chunked/1000")).content == pattern_bytes(1000)


def test_save_of_a_known_length_larger_than_the_ufs_is_refused_first(
    make_sim: Callable[..., Simulator], http_server: HTTPTestServer
) -> None:
    sim = make_sim(ufs_size=100_000)
    with Modem.open(sim.url) as modem:
        modem.network.activate(1, apn="internet")
        sent: list[bytes] = []
        with modem.http.get(http_server.url("/bytes/300000"), stream=True) as response:
            modem.channel.on_trace = lambda d, k, data: sent.append(data) if d == ">" else None
            with pytest.raises(errors.UFSFullError):
                response.save("big.bin")
        assert not any(b"QHTTPREADFILE" in line for line in sent)


# -- slow but healthy transfers (item 9): real time, the module's timers unscaled ------


@pytest.fixture(scope="module")
def slow_tls(server_cert: trustme.LeafCert) -> Iterator[RawServer]:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(ctx)
    body = b"accepted after a slow handshake"
    routes = {"/post": [(0.0, _head(f"Content-Length: {len(body)}\r\n") + body)]}
    server = RawServer(routes, tls=ctx, handshake_delay=12.0)
    yield server
    server.close()


def test_post_file_waits_out_a_12_s_tls_handshake(
    make_sim: Callable[..., Simulator], slow_tls: RawServer, ca_pem: bytes
) -> None:
    sim = make_sim(time_scale=1.0)
    with Modem.open(sim.url) as modem:
        modem.network.activate(1, apn="internet")
        modem.files.upload("cacert.pem", ca_pem)
        modem.ssl.configure(1, sslversion=4, ciphersuite=0xFFFF, seclevel=1, cacert="cacert.pem")
        modem.http.config(sslctxid=1)
        modem.files.upload("body.bin", b"x" * 100)
        response = modem.http.post_file(slow_tls.url("/post"), "body.bin")
        assert response.content == b"accepted after a slow handshake"


def test_ten_second_download_with_half_second_gaps_is_saved(
    make_sim: Callable[..., Simulator],
) -> None:
    body = pattern_bytes(20 * 500, seed=21)
    pieces = [(0.5, body[i : i + 500]) for i in range(0, len(body), 500)]
    routes = {"/slow": [(0.0, _head("Transfer-Encoding: chunked\r\n"))]}
    # Each 500-byte piece as its own chunk, half a second apart: 10 s in all.
    routes["/slow"] += [(d, b"%x\r\n" % len(p) + p + b"\r\n") for d, p in pieces]
    routes["/slow"].append((0.0, b"0\r\n\r\n"))
    server = RawServer(routes)
    sim = make_sim(time_scale=1.0)
    try:
        with Modem.open(sim.url) as modem:
            modem.network.activate(1, apn="internet")
            # <wait_time> 2 s: the longest gap, not the whole 10 s.
            with modem.http.get(server.url("/slow"), stream=True, wait_time=2) as response:
                response.save("slow.bin")
            assert modem.files.download("slow.bin") == body
    finally:
        server.close()

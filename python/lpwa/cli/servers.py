"""Local servers for ``lpwa demo``: HTTP, HTTPS and CoAP on 127.0.0.1, stdlib only.

They stand in for a gateway's cloud so the demo runs on a fresh machine with
nothing but lpwa installed: the HTTPS server uses the demo CA shipped in
``certs/`` (for demos and tests only — its key is public), the CoAP server is
built on lpwa's own codec. Every server binds to 127.0.0.1 on a free port and
stops when its ``with`` block ends.
"""

from __future__ import annotations

import hashlib
import json
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from types import TracebackType

from lpwa.coap import Code, ContentFormat, Message, MessageFormatError, Type, build_options

CERTS = resources.files("lpwa.cli") / "certs"


def demo_ca_pem() -> bytes:
    """The demo CA certificate (PEM) that signs the demo HTTPS server."""
    return (CERTS / "demo_ca.pem").read_bytes()


def firmware_image(size: int) -> bytes:
    """Deterministic pseudo-random bytes, as a firmware download would be."""
    out = bytearray()
    block = b"lpwa-demo"
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "lpwa-demo/1"

    def log_message(self, format: str, *args: object) -> None:
        pass  # the demo prints its own story

    def _reply(self, status: int, body: bytes, ctype: str = "application/octet-stream") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.startswith("/firmware/"):
            try:
                size = int(self.path.rsplit("/", 1)[1])
            except ValueError:
                size = -1
            if 0 <= size <= 4 * 1024 * 1024:
                self._reply(200, firmware_image(size))
                return
        self._reply(404, b"not found\n", "text/plain")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        # The request as it came, rebuilt from its parsed lines: the client under
        # test writes "Name: value" lines, so this is its exact length (the request
        # line and the blank line each add CRLF).
        head = len(self.requestline) + 4
        head += sum(len(name) + len(value) + 4 for name, value in self.headers.items())
        answer = {
            "received": len(body),
            "request_length": head + len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        self._reply(201, json.dumps(answer).encode(), "application/json")


class HTTPServer:
    """A threaded HTTP or HTTPS server on 127.0.0.1 (HTTPS with the demo CA)."""

    def __init__(self, *, tls: bool = False) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        if tls:
            with (
                resources.as_file(CERTS / "demo_server.pem") as cert,
                resources.as_file(CERTS / "demo_server.key") as key,
            ):
                ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                ctx.load_cert_chain(cert, key)
            self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The server's base URL on 127.0.0.1."""
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def __enter__(self) -> HTTPServer:
        self._thread.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()


class CoAPServer:
    """A small CoAP server on 127.0.0.1 (RFC 7252, piggybacked responses).

    ``GET /sensors/temperature`` → 2.05 with a reading; ``POST /telemetry`` →
    2.04 echoing how many bytes arrived; other paths → 4.04. Malformed datagrams
    that are Confirmable get a Reset (RFC 7252 4.2), others are ignored.
    """

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        """The server's base URL on 127.0.0.1."""
        return f"coap://127.0.0.1:{self.port}"

    def _answer(self, request: Message) -> Message:
        path = "/" + "/".join(request.uri_path)
        if request.code == Code.GET and path == "/sensors/temperature":
            code, body = Code.CONTENT, b"21.5"
        elif request.code == Code.POST and path == "/telemetry":
            code, body = Code.CHANGED, f"stored {len(request.payload)} bytes".encode()
        else:
            code, body = Code.NOT_FOUND, b"Not Found"
        if request.type == Type.CON:
            mtype, mid = Type.ACK, request.mid
        else:
            mtype, mid = Type.NON, (request.mid + 0x4000) & 0xFFFF
        options = build_options(content_format=ContentFormat.TEXT_PLAIN)
        return Message(mtype, code, mid, request.token, options, body)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self._sock.recvfrom(2048)
            except (socket.timeout, OSError):
                continue
            try:
                request = Message.decode(data)
            except MessageFormatError as exc:
                if exc.type == Type.CON and exc.mid is not None:
                    self._sock.sendto(Message.reset(exc.mid).encode(), peer)
                continue
            if request.code.is_request():
                self._sock.sendto(self._answer(request).encode(), peer)

    def __enter__(self) -> CoAPServer:
        self._thread.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()

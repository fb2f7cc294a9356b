"""Local test servers shared by the test suite: HTTP(S) and CoAP on loopback only.

- ``HTTPTestServer``: ``http.server.ThreadingHTTPServer`` on 127.0.0.1 port 0,
  plain or TLS (optionally requiring a client certificate). Routes:

  - ``GET /bytes/<n>``: n deterministic pseudo-random bytes (``pattern_bytes``),
    with Content-Length.
  - ``GET /chunked/<n>``: the same bytes, chunked, no Content-Length.
  - ``GET /oklines/<n>``: ``oklines(n)``, a body made of AT-looking lines.
  - ``GET /status/<code>``: that status with a short body (``status <code>\\n``).
  - ``POST /echo`` (and POST to any other path): 200, the body echoed, with
    ``X-Received-Length`` (body bytes) and ``X-Request-Length`` (request line +
    headers + body, as received).
  - ``GET /headers``: the request headers as a JSON object (``[name, value]`` list).
  - ``GET /slow/<n>?delay=<s>``: n pattern bytes in 4 pieces, ``s`` seconds apart,
    with Content-Length.

- ``CoAPTestServer``: aiocoap in its own thread and event loop on 127.0.0.1:
  ``/hello`` GET 2.05 "Hello, CoAP!"; ``/echo`` POST 2.04 / PUT 2.01 echoing the
  payload; ``/item`` DELETE 2.02; ``/fail`` 5.00; ``/bytes?n=N`` N bytes of
  ``pattern_bytes`` salted with CR, LF and NUL; ``/separate`` GET answers after
  0.5 s (aiocoap sends an empty ACK first, then a separate response); other paths
  4.04 (aiocoap's default).
- ``UdpPeer``: a raw UDP endpoint answering datagrams with a function (scripted
  CoAP peers); ``SilentUdpPort``: a bound UDP port that never answers;
  ``RefusingTcpPort``: a bound, never listening TCP port (connection refused).

No helper picks a free port, releases it and binds it later: each binds port 0
once and keeps the socket, so no other process can take the port meanwhile.

Every server binds 127.0.0.1 and stops in ``close()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "CoAPTestServer",
    "HTTPTestServer",
    "RefusingTcpPort",
    "SilentUdpPort",
    "UdpPeer",
    "coap_bytes",
    "oklines",
    "pattern_bytes",
]

OKLINES = (b"\r\nOK\r\n", b"\r\n+QHTTPREAD: 0\r\n", b"\r\nERROR\r\n", b"\r\nCONNECT\r\n")


def pattern_bytes(n: int, seed: int = 0) -> bytes:
    """n deterministic pseudo-random bytes (SHA-256 in counter mode)."""
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:n])


def oklines(n: int) -> bytes:
    """A body of n AT-looking lines (``\\r\\nOK\\r\\n``, ``\\r\\n+QHTTPREAD: 0\\r\\n``...)."""
    return b"".join(OKLINES[i % len(OKLINES)] for i in range(n))


def coap_bytes(n: int) -> bytes:
    """n payload bytes that include CR, LF and NUL (the CoAP ``/bytes`` route)."""
    base = bytearray(pattern_bytes(n, seed=7))
    for i, b in zip(range(0, n, 5), b"\r\n\x00\r\n" * n):
        base[i] = b
    return bytes(base)


class _CountingReader:
    """Wraps the handler's rfile to count every byte the server consumed."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self.count = 0

    def readline(self, limit: int = -1) -> bytes:
        line: bytes = self._raw.readline(limit)
        self.count += len(line)
        return line

    def read(self, n: int = -1) -> bytes:
        data: bytes = self._raw.read(n)
        self.count += len(data)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "lpwa-test"

    def setup(self) -> None:
        super().setup()
        self.rfile = _CountingReader(self.rfile)  # type: ignore[assignment]

    def handle_one_request(self) -> None:
        self.rfile.count = 0  # type: ignore[attr-defined]
        super().handle_one_request()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        segments = parts.path.strip("/").split("/")
        route, arg = segments[0], (segments[1] if len(segments) > 1 else "")
        if route == "bytes" and arg.isdigit():
            self._send(200, pattern_bytes(int(arg)))
        elif route == "chunked" and arg.isdigit():
            self._chunked(pattern_bytes(int(arg)))
        elif route == "oklines" and arg.isdigit():
            self._send(200, oklines(int(arg)))
        elif route == "status" and arg.isdigit():
            self._send(int(arg), f"status {arg}\n".encode())
        elif route == "headers":
            body = json.dumps([[k, v] for k, v in self.headers.items()]).encode()
            self._send(200, body, {"Content-Type": "application/json"})
        elif route == "slow" and arg.isdigit():
            delay = float(parse_qs(parts.query).get("delay", ["0.2"])[0])
            self._slow(pattern_bytes(int(arg)), delay)
        else:
            self._send(404, b"not found\n")

    def _chunked(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        sizes = [1, 7, 100, 4096]
        pos = i = 0
        while pos < len(body):
            piece = body[pos : pos + sizes[i % len(sizes)]]
            self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
            pos += len(piece)
            i += 1
        self.wfile.write(b"0\r\n\r\n")

    def _slow(self, body: bytes, delay: float) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        step = max(1, -(-len(body) // 4))
        for pos in range(0, len(body), step):
            if pos:
                time.sleep(delay)
            self.wfile.write(body[pos : pos + step])
            self.wfile.flush()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        segments = urlsplit(self.path).path.strip("/").split("/")
        if segments[0] == "status" and len(segments) > 1 and segments[1].isdigit():
            self._send(int(segments[1]), f"status {segments[1]}\n".encode())
            return
        total = self.rfile.count  # type: ignore[attr-defined]
        self._send(200, body, {"X-Received-Length": str(len(body)), "X-Request-Length": str(total)})

    do_PUT = do_POST


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    tls: ssl.SSLContext | None = None

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = self.socket.accept()
        if self.tls is not None:
            # The handshake happens in the handler thread (first read), so a
            # client that never finishes it cannot block the accept loop.
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # TLS rejections and client resets are expected in tests


class HTTPTestServer:
    """The HTTP app on 127.0.0.1 (``tls`` makes it HTTPS)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.tls = tls
        self.port: int = self._server.server_address[1]
        self.scheme = "https" if tls is not None else "http"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        """The URL of ``path`` on this server."""
        return f"{self.scheme}://{host}:{self.port}{path}"

    def close(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class CoAPTestServer:
    """aiocoap on 127.0.0.1 in its own thread and event loop."""

    def __init__(self) -> None:
        # Port 0: the kernel picks a port nobody holds, and the socket that got it
        # is the one serving (picking a "free" port, releasing it and binding it
        # later raced with the simulator's sockets; aiocoap also sets SO_REUSEPORT,
        # so a reused number could even be shared silently). Issue 10, item 17.
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._context: Any = None
        self._thread = threading.Thread(target=self._run, name="coap-test-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("CoAP test server did not start")
        if self._error is not None:
            raise RuntimeError(f"CoAP test server failed: {self._error}")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._context = self._loop.run_until_complete(self._start())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> Any:
        import aiocoap
        import aiocoap.resource as resource

        class Hello(resource.Resource):
            async def render_get(self, request: Any) -> Any:
                return aiocoap.Message(code=aiocoap.CONTENT, payload=b"Hello, CoAP!")

        class Echo(resource.Resource):
            async def render_post(self, request: Any) -> Any:
                return aiocoap.Message(code=aiocoap.CHANGED, payload=request.payload)

            async def render_put(self, request: Any) -> Any:
                return aiocoap.Message(code=aiocoap.CREATED, payload=request.payload)

        class Item(resource.Resource):
            async def render_delete(self, request: Any) -> Any:
                return aiocoap.Message(code=aiocoap.DELETED)

        class Fail(resource.Resource):
            async def render(self, request: Any) -> Any:
                return aiocoap.Message(code=aiocoap.INTERNAL_SERVER_ERROR, payload=b"boom")

        class Bytes(resource.Resource):
            async def render_get(self, request: Any) -> Any:
                query = dict(q.split("=", 1) for q in request.opt.uri_query if "=" in q)
                n = int(query.get("n", "16"))
                return aiocoap.Message(code=aiocoap.CONTENT, payload=coap_bytes(n))

        class Separate(resource.Resource):
            async def render_get(self, request: Any) -> Any:
                await asyncio.sleep(0.5)  # longer than aiocoap's empty-ACK delay
                return aiocoap.Message(code=aiocoap.CONTENT, payload=b"late")

        class Big(resource.Resource):
            async def render_get(self, request: Any) -> Any:
                return aiocoap.Message(code=aiocoap.CONTENT, payload=coap_bytes(5000))

        site = resource.Site()
        site.add_resource(["hello"], Hello())
        site.add_resource(["echo"], Echo())
        site.add_resource(["item"], Item())
        site.add_resource(["fail"], Fail())
        site.add_resource(["bytes"], Bytes())
        site.add_resource(["separate"], Separate())
        # /big: 5000 bytes, which aiocoap serves block-wise (Block2 M=1 on the first).
        site.add_resource(["big"], Big())
        # UDP only: aiocoap's default TCP/WS server transports would take the
        # default port 5683 whatever the bind says, which the note's 5.2 replay
        # against libcoap needs.
        context = await aiocoap.Context.create_server_context(
            site, bind=("127.0.0.1", 0), transports=["udp6"]
        )
        self.port = _bound_udp_port(context)
        return context

    def close(self) -> None:
        """Shut aiocoap down and stop the loop."""
        if self._context is not None:
            future = asyncio.run_coroutine_threadsafe(self._context.shutdown(), self._loop)
            with contextlib.suppress(Exception):
                future.result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        with contextlib.suppress(Exception):
            self._loop.close()


class UdpPeer:
    """A UDP endpoint on 127.0.0.1 that answers each datagram with ``respond(data)``."""

    def __init__(self, respond: Callable[[bytes], bytes | None]) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port: int = self._sock.getsockname()[1]
        self.received: list[bytes] = []
        self._respond = respond
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self._sock.recvfrom(65536)
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            self.received.append(data)
            reply = self._respond(data)
            if reply is not None:
                self._sock.sendto(reply, addr)

    def close(self) -> None:
        """Stop and close."""
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()


class SilentUdpPort:
    """A bound UDP port on 127.0.0.1 that reads nothing and answers nothing."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]

    def close(self) -> None:
        """Release the port."""
        self._sock.close()


class RefusingTcpPort:
    """A TCP port on 127.0.0.1 that refuses connections (bound, never listening).

    Holding the bound socket keeps anyone else from taking the port while a test
    expects "connection refused" (a port closed right after ``bind`` may be reused).
    """

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]

    def close(self) -> None:
        """Release the port."""
        self._sock.close()

    def __enter__(self) -> RefusingTcpPort:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _bound_udp_port(context: Any) -> int:
    """The UDP port the kernel gave aiocoap's server socket (bound to port 0)."""
    for interface in context.request_interfaces:
        messages = getattr(getattr(interface, "token_interface", None), "message_interface", None)
        transport = getattr(messages, "transport", None)
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is not None and sock.type == socket.SOCK_DGRAM:
            port: int = sock.getsockname()[1]
            return port
    raise RuntimeError("aiocoap server context has no UDP socket")

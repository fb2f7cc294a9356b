"""The module's HTTP(S) client: the request builder and one exchange over the
host's real sockets (TLS by Python's ``ssl``).

``build_request`` is the ONE place the module's own request bytes are made
(``requestheader`` 0); the 719 quirk measures its output. An ``Exchange`` is one
connection: ``open`` (DNS, TCP, TLS), ``send``, ``read_head``, then a body pump
thread that reads the body (Content-Length, chunked — de-chunked — or until
close) into a ``BodyStream`` that QHTTPREAD/QHTTPREADFILE drain with their
``<wait_time>``. Failures are ``HttpFailure(<err>)`` with the note's chapter 5
code. No AT framing here.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from lpwa.http.request import CONTENT_TYPES, URL, module_request_head

__all__ = [
    "CONTENT_TYPES",
    "BodyStream",
    "Exchange",
    "HttpFailure",
    "ResponseHead",
    "Target",
    "build_request",
    "parse_url",
]

# HTTP note chapter 5 codes used here.
E_UNKNOWN = 701  # also TLS handshake/verification failures (see Exchange.open)
E_TIMEOUT = 702
E_URL = 711
E_DNS = 714
E_SOCKET_CONNECT = 716
E_SOCKET_READ = 717
E_SOCKET_WRITE = 718
E_RESPONSE_FAILED = 723
E_WAIT_RESPONSE = 728

MAX_HEAD = 64 * 1024


class HttpFailure(Exception):
    """An HTTP(S) operation failed with the note's error ``code`` (701-730)."""

    def __init__(self, code: int, detail: str = "") -> None:
        self.code = code
        super().__init__(f"{code} {detail}".strip())


@dataclass(frozen=True)
class Target:
    """Where a URL points: scheme, host (as written), port and request target."""

    https: bool
    host: str
    port: int
    path: str

    @property
    def default_port(self) -> bool:
        """Whether ``port`` is the scheme's default (then ``Host:`` omits it)."""
        return self.port == (443 if self.https else 80)


def parse_url(url: str) -> Target:
    """Parse a QHTTPURL URL; ``HttpFailure(711)`` unless ``http://`` or ``https://``."""
    lower = url[:8].lower()
    if not (lower.startswith("http://") or lower.startswith("https://")):
        raise HttpFailure(E_URL, "scheme")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise HttpFailure(E_URL, "port") from None
    host = parts.hostname or ""
    if not host:
        raise HttpFailure(E_URL, "host")
    https = parts.scheme.lower() == "https"
    if ":" in host:
        host = f"[{host}]"
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(https, host, port if port is not None else (443 if https else 80), path)


def build_request(
    method: str, target: Target, *, body: bytes | None = None, content_type: str | None = None
) -> bytes:
    """The request the module builds itself (HTTP note 1.2.1 shows the shape).

    The head comes from ``lpwa.http.request.module_request_head``, the same
    function the host library uses to predict request lengths for the 719 bug,
    so the two cannot disagree.
    """
    url = URL("", "https" if target.https else "http", target.host, target.port, target.path)
    if body is None:
        return module_request_head(method, url)
    head = module_request_head(
        method, url, content_type=content_type or CONTENT_TYPES[0], content_length=len(body)
    )
    return head + body


@dataclass(frozen=True)
class ResponseHead:
    """Status line and headers exactly as received (``raw`` ends with the blank line)."""

    status: int
    raw: bytes
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive)."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    @property
    def content_length(self) -> int | None:
        """The Content-Length header as an int, None when absent or chunked."""
        if self.chunked:
            return None
        value = self.header("content-length")
        if value is None or not value.strip().isdigit():
            return None
        return int(value.strip())

    @property
    def chunked(self) -> bool:
        """Whether the body uses chunked transfer coding."""
        return "chunked" in (self.header("transfer-encoding") or "").lower()


class BodyStream:
    """Body bytes arriving from the network, drained by QHTTPREAD at its own pace."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._buf = bytearray()
        self._done = False
        self.error = 0
        self.received = 0

    def feed(self, data: bytes) -> None:
        """More body bytes arrived."""
        with self._cond:
            self._buf += data
            self.received += len(data)
            self._cond.notify_all()

    def finish(self, error: int = 0) -> None:
        """The body is complete (``error`` 0) or broke with ``error``."""
        with self._cond:
            if not self._done:
                self._done, self.error = True, error
            self._cond.notify_all()

    def read(self, max_bytes: int, timeout: float) -> tuple[bytes, str | None]:
        """``(data, None)``, or ``(b"", "eof"|"error"|"timeout")``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._buf:
                if self._done:
                    return b"", ("error" if self.error else "eof")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return b"", "timeout"
                self._cond.wait(min(remaining, 0.1))
            chunk = bytes(self._buf[:max_bytes])
            del self._buf[:max_bytes]
            return chunk, None


class Exchange:
    """One HTTP(S) connection of the module."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._sock: socket.socket | None = None
        self._rest = b""
        self._closed = threading.Event()
        self.body = BodyStream()

    def open(
        self, address: str, connect_timeout: float, tls: ssl.SSLContext | None, sni: str | None
    ) -> None:
        """TCP connect to ``address`` and, for https, the TLS handshake.

        TCP failures are 716 (socket connect error), a connect that does not
        finish in time 702. A failed handshake or certificate verification is
        701: that is what BG96 firmware reports for TLS failures (forum thread
        "BG96 +QHTTPGET: 701 error", an HTTPS GET with a wrong CA certificate);
        the note's table has no TLS-specific code.
        """
        try:
            sock = socket.create_connection((address, self.target.port), timeout=connect_timeout)
        except (socket.timeout, TimeoutError):
            raise HttpFailure(E_TIMEOUT, "connect timeout") from None
        except OSError as exc:
            raise HttpFailure(E_SOCKET_CONNECT, str(exc)) from None
        if tls is not None:
            try:
                sock = tls.wrap_socket(sock, server_hostname=sni)
            except (ssl.SSLError, OSError, ValueError) as exc:
                with contextlib.suppress(OSError):
                    sock.close()
                raise HttpFailure(E_UNKNOWN, f"TLS: {exc}") from None
        self._sock = sock

    def send(self, request: bytes, timeout: float) -> None:
        """Send the whole request; 718 on failure."""
        sock = self._require()
        try:
            sock.settimeout(timeout)
            sock.sendall(request)
        except OSError as exc:
            raise HttpFailure(E_SOCKET_WRITE, str(exc)) from None

    def read_head(self, timeout: float) -> ResponseHead:
        """Status line and headers within ``timeout`` (``<rsptime>``) else 728."""
        sock = self._require()
        deadline = time.monotonic() + timeout
        buf = bytearray()
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                raw, self._rest = bytes(buf[: end + 4]), bytes(buf[end + 4 :])
                head = _parse_head(raw)
                if 100 <= head.status < 200:  # 1xx interim responses are skipped
                    buf = bytearray(self._rest)
                    continue
                return head
            if len(buf) > MAX_HEAD:
                raise HttpFailure(E_RESPONSE_FAILED, "header too long")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise HttpFailure(E_WAIT_RESPONSE, "no response within rsptime")
            try:
                sock.settimeout(min(remaining, 0.5))
                data = sock.recv(65536)
            except (socket.timeout, TimeoutError):
                if self._closed.is_set():
                    raise HttpFailure(E_SOCKET_READ, "closed") from None
                continue
            except OSError as exc:
                raise HttpFailure(E_SOCKET_READ, str(exc)) from None
            if not data:
                raise HttpFailure(E_SOCKET_READ, "closed before the response")
            buf += data

    def pump_body(self, head: ResponseHead, method: str = "GET") -> None:
        """Read the body into ``self.body`` in a background thread."""
        threading.Thread(
            target=self._pump, args=(head, method), name="sim-http-body", daemon=True
        ).start()

    def _pump(self, head: ResponseHead, method: str) -> None:
        try:
            if method == "HEAD" or head.status in (204, 304):
                self.body.finish()
            elif head.chunked:
                self._pump_chunked()
            elif head.content_length is not None:
                self._pump_length(head.content_length)
            else:
                self._pump_until_close()
        except HttpFailure as exc:
            self.body.finish(exc.code)
        finally:
            self.close()

    def _recv(self) -> bytes:
        if self._rest:
            data, self._rest = self._rest, b""
            return data
        sock = self._require()
        while True:
            if self._closed.is_set():
                raise HttpFailure(E_SOCKET_READ, "closed")
            try:
                sock.settimeout(0.5)
                return sock.recv(65536)
            except (socket.timeout, TimeoutError):
                continue
            except OSError as exc:
                raise HttpFailure(E_SOCKET_READ, str(exc)) from None

    def _pump_length(self, length: int) -> None:
        left = length
        while left > 0:
            data = self._recv()
            if not data:
                raise HttpFailure(E_SOCKET_READ, "closed mid-body")
            take = data[:left]
            self.body.feed(take)
            left -= len(take)
        self.body.finish()

    def _pump_until_close(self) -> None:
        while True:
            data = self._recv()
            if not data:
                self.body.finish()
                return
            self.body.feed(data)

    def _pump_chunked(self) -> None:
        buf = bytearray()

        def need(n: int) -> None:
            while len(buf) < n:
                data = self._recv()
                if not data:
                    raise HttpFailure(E_SOCKET_READ, "closed mid-chunk")
                buf.extend(data)

        def line() -> bytes:
            while b"\r\n" not in buf:
                need(len(buf) + 1)
            end = buf.index(b"\r\n")
            text = bytes(buf[:end])
            del buf[: end + 2]
            return text

        while True:
            size_text = line().split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise HttpFailure(721, "bad chunk size") from None
            if size == 0:
                while line():  # trailer fields, up to the blank line
                    pass
                self.body.finish()
                return
            need(size + 2)
            self.body.feed(bytes(buf[:size]))
            del buf[: size + 2]

    def _require(self) -> socket.socket:
        if self._sock is None:
            raise HttpFailure(E_SOCKET_READ, "not connected")
        return self._sock

    def close(self) -> None:
        """Close the connection (idempotent); a running pump ends with 717."""
        self._closed.set()
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()
        self.body.finish(E_SOCKET_READ)


def _parse_head(raw: bytes) -> ResponseHead:
    lines = raw[:-4].split(b"\r\n")
    status_line = lines[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise HttpFailure(E_RESPONSE_FAILED, f"bad status line {status_line!r}")
    headers: list[tuple[str, str]] = []
    for item in lines[1:]:
        name, sep, value = item.decode("latin-1").partition(":")
        if sep:
            headers.append((name.strip(), value.strip()))
    return ResponseHead(int(parts[1]), raw, tuple(headers))

"""The requests-like ``Response`` of ``modem.http``, and its header parsing.

A Response knows the status and length from the ``+QHTTPGET``/``+QHTTPPOST`` URC
at once; the body is read with AT+QHTTPREAD when first asked for (``content``,
``text``, ``json()``, ``iter_content()``) or stored to a UFS file (``save``). With
``responseheader=1`` the module sends the status line and headers before the body,
and they are parsed from there.
"""

from __future__ import annotations

import json as _json
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from lpwa.errors import HTTPResponseError, ProtocolError

if TYPE_CHECKING:
    from lpwa.http.client import HTTP

Progress = Callable[[int, "int | None"], None]

# A status line and headers larger than this are not HTTP we can trust.
MAX_HEAD = 64 * 1024


class Headers(Mapping[str, str]):
    """Case-insensitive response headers; repeated fields are joined with ", "."""

    def __init__(self, pairs: list[tuple[str, str]] | None = None) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        for name, value in pairs or []:
            key = name.lower()
            if key in self._items:
                value = self._items[key][1] + ", " + value
            self._items[key] = (name, value)

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


def parse_head(head: bytes) -> tuple[int, str, Headers]:
    """Parse ``HTTP/1.1 200 OK\\r\\nName: value\\r\\n…`` (without the blank line)."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ProtocolError(f"bad HTTP status line from the module: {lines[0]!r}")
    pairs = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ProtocolError(f"bad HTTP header line from the module: {line!r}")
        pairs.append((name.strip(), value.strip()))
    return int(parts[1]), parts[2] if len(parts) > 2 else "", Headers(pairs)


class Response:
    """The answer to one HTTP(S) request made through the module.

    ``status_code``, ``content_length`` (None when the server sent no
    Content-Length), ``url``, ``padded_by`` (bytes of X-Padding added to dodge
    the 719 bug, else 0) are known at once; ``headers`` and ``reason`` need
    ``responseheader=1`` (the default of ``modem.http``) and are read with the
    body.
    """

    def __init__(
        self,
        http: HTTP,
        url: str,
        status_code: int,
        content_length: int | None,
        *,
        with_head: bool,
        wait_time: int,
        padded_by: int = 0,
        on_progress: Progress | None = None,
    ) -> None:
        self._http = http
        self.url = url
        self.status_code = status_code
        self.content_length = content_length
        self.padded_by = padded_by
        self.reason = ""
        self._with_head = with_head
        self._wait_time = wait_time
        self._on_progress = on_progress
        self._headers: Headers | None = None if with_head else Headers()
        self._content: bytes | None = None
        self._raw: Iterator[bytes] | None = None
        self._leftover = b""
        self._consumed = False

    # -- the body -------------------------------------------------------------------

    def _open(self) -> Iterator[bytes]:
        if self._raw is None:
            if self._consumed:
                raise ProtocolError("the response body was already read or stored")
            self._consumed = True
            self._raw = self._http._read_body(self)
        return self._raw

    def _read_head(self) -> None:
        """Read until the blank line that ends the status line and headers."""
        raw = self._open()
        buf = b""
        for chunk in raw:
            buf += chunk
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                status, self.reason, self._headers = parse_head(buf[:end])
                if status != self.status_code:
                    raise ProtocolError(
                        f"status line says {status}, the URC said {self.status_code}"
                    )
                self._leftover = buf[end + 4 :]
                return
            if len(buf) > MAX_HEAD:
                break
        raise ProtocolError("the module sent no complete HTTP header block")

    @property
    def headers(self) -> Headers:
        """The response headers (empty when ``responseheader`` is off)."""
        if self._headers is None:
            self._read_head()
        assert self._headers is not None
        return self._headers

    def iter_content(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """The body in pieces as they arrive (of ``chunk_size`` bytes if given).

        Raises the module's HTTPError if the read breaks (e.g. 717): a short
        body is never passed off as a whole one.
        """
        if self._content is not None:
            step = chunk_size or len(self._content) or 1
            for i in range(0, len(self._content), step):
                yield self._content[i : i + step]
            return
        if self._headers is None:
            self._read_head()
        pieces = self._body_pieces()
        if chunk_size is None:
            yield from pieces
            return
        buf = bytearray()
        for piece in pieces:
            buf += piece
            while len(buf) >= chunk_size:
                yield bytes(buf[:chunk_size])
                del buf[:chunk_size]
        if buf:
            yield bytes(buf)

    def _body_pieces(self) -> Iterator[bytes]:
        raw = self._open()
        received = 0
        total = self.content_length
        if self._leftover:
            piece, self._leftover = self._leftover, b""
            received += len(piece)
            if self._on_progress:
                self._on_progress(received, total)
            yield piece
        for piece in raw:
            received += len(piece)
            if self._on_progress:
                self._on_progress(received, total)
            yield piece
        if total is not None and received != total:
            raise ProtocolError(f"body has {received} bytes, Content-Length said {total}")

    @property
    def content(self) -> bytes:
        """The whole body (read from the module on first access)."""
        if self._content is None:
            self._content = b"".join(self.iter_content())
        return self._content

    @property
    def encoding(self) -> str:
        """The charset of Content-Type, else UTF-8."""
        ctype = self.headers.get("Content-Type", "")
        for param in ctype.split(";")[1:]:
            key, _, value = param.strip().partition("=")
            if key.lower() == "charset" and value:
                return value.strip('"')
        return "utf-8"

    @property
    def text(self) -> str:
        """The body decoded with :attr:`encoding` (invalid bytes replaced)."""
        return self.content.decode(self.encoding, "replace")

    def json(self, **kwargs: Any) -> Any:
        """The body parsed as JSON (``json.loads`` keywords pass through)."""
        return _json.loads(self.content, **kwargs)

    @property
    def ok(self) -> bool:
        """True for a status below 400, as in requests."""
        return self.status_code < 400

    def raise_for_status(self) -> None:
        """Raise HTTPResponseError for a 4xx or 5xx status."""
        if not self.ok:
            raise HTTPResponseError(self.status_code, self.reason, self.url)

    def save(self, filename: str, *, wait_time: int | None = None) -> None:
        """Store the response in a UFS file instead of reading it (AT+QHTTPREADFILE)."""
        if self._consumed:
            raise ProtocolError("the response body was already read")
        self._consumed = True
        self._http._read_to_file(filename, wait_time or self._wait_time)

    def close(self) -> None:
        """Discard the rest of a streamed body, freeing the channel."""
        if self._raw is not None and hasattr(self._raw, "close"):
            self._raw.close()
        self._raw = None

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}] {self.url}>"

"""The requests-like ``Response`` of ``modem.http``, and its header parsing.

A Response knows the status, length and ``elapsed`` from the ``+QHTTPGET``/
``+QHTTPPOST`` URC at once; the body is read inside the request's procedure, or,
with ``stream=True``, when first asked for (``content``, ``text``, ``json()``,
``iter_content()``, ``iter_lines()``) or stored to a UFS file (``save``). A
streamed response holds the module (a *lease*) until its body is read to the
end, it is closed (``close()``, the end of ``with … as r:``) or it is garbage
collected; meanwhile another procedure waits a bounded time or gets ModemBusy.
With ``responseheader=1`` the module sends the status line and headers before
the body, and they are parsed from there.
"""

from __future__ import annotations

import codecs
import contextlib
import json as _json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from lpwa import redact
from lpwa.errors import (
    HTTPResponseError,
    LpwaError,
    ParameterError,
    ParameterTypeError,
    ProtocolError,
)
from lpwa.http.body import MAX_HEAD, check_file_name
from lpwa.http.results import parse_head

if TYPE_CHECKING:
    from collections.abc import Mapping

    from lpwa.at.procedure_lock import Lease
    from lpwa.http.body import RawBody
    from lpwa.http.client import HTTP

    _MappingBase = Mapping[str, str]
else:
    from collections.abc import Mapping as _MappingBase

Progress = Callable[[int, "int | None"], None]

__all__ = ["Headers", "Progress", "Response", "parse_head"]


class Headers(_MappingBase):
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


def _chunk_size(value: object, *, allow_none: bool) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterTypeError(f"chunk_size must be a positive int, not {value!r}")
    if value < 1:
        raise ParameterError(f"chunk_size must be at least 1, not {value}")
    return value


class Response:
    """The answer to one HTTP(S) request made through the module.

    ``status_code``, ``content_length`` (None when the server sent no
    Content-Length), ``url``, ``elapsed`` (a ``timedelta`` from sending the request
    to the module's result URC, as requests measures up to the headers) and
    ``padded_by`` (bytes of X-Padding added to dodge the 719 bug, else 0) are
    known at once; ``headers`` and ``reason`` come with the body from the
    module's head (``modem.http.response_headers``).
    """

    def __init__(
        self,
        http: HTTP,
        url: str,
        status_code: int,
        content_length: int | None,
        *,
        with_head: bool,
        caller_head: bool | None = None,
        wait_time: int = 60,
        padded_by: int = 0,
        elapsed: timedelta | None = None,
        on_progress: Progress | None = None,
    ) -> None:
        self._http = http
        self.url = url
        self.status_code = status_code
        self.content_length = content_length
        self.padded_by = padded_by
        self.elapsed = elapsed if elapsed is not None else timedelta(0)
        self.reason = ""
        self._with_head = with_head
        # Whether the caller (not lpwa) had responseheader on: save() then
        # stores the head too, as the module writes it.
        self._caller_head = with_head if caller_head is None else caller_head
        self._wait_time = wait_time
        self._on_progress = on_progress
        self._headers: Headers | None = None if with_head else Headers()
        self._content: bytes | None = None
        self._raw: RawBody | None = None
        self._leftover = b""
        self._consumed = False
        self._body_started = False
        self._finished = False
        self._lease: Lease | None = None
        self._restore: dict[str, int] = {}

    # -- holding and giving back the module ------------------------------------------

    def _hold(self) -> contextlib.AbstractContextManager[Any]:
        """Run commands as the holder of this response's lease (if it has one)."""
        lease = self._lease
        if lease is None or lease.released:
            return contextlib.nullcontext()
        return lease

    def _finish(self, *, failed: bool = False) -> None:
        """The body is done with: close the raw reader, put back QHTTPCFG, release.

        Runs module commands, so only from a caller's thread, never from __del__.
        """
        if self._finished:
            return
        self._finished = True
        raw, self._raw = self._raw, None
        try:
            if raw is not None:
                try:
                    raw.close()
                except LpwaError:
                    if not failed:
                        raise
                finally:
                    left = raw.leftover()
                    if left is not None:
                        self._http._abandon(*left)
            self._http._restore_config(self._restore)
        finally:
            self._restore = {}
            lease, self._lease = self._lease, None
            if lease is not None:
                lease.release()

    def close(self) -> None:
        """Discard the rest of the body and give the module back (idempotent)."""
        if self._finished:
            return
        self._consumed = True
        with self._hold():
            self._finish()

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # Garbage collection may run in any thread, inside any lock: no AT
        # command here. What the body left on the module is removed, and the
        # QHTTPCFG values put back, by the next HTTP procedure; the lease is freed.
        if getattr(self, "_finished", True):
            return
        self._finished = True
        with contextlib.suppress(Exception):
            raw = self._raw
            left = raw.leftover() if raw is not None else None
            if left is not None:
                self._http._abandon(*left)
            if self._restore:
                self._http._restore_later(self._restore)
        lease = self._lease
        if lease is not None:
            lease.release()

    # -- the body -------------------------------------------------------------------

    def _pull(self) -> bytes | None:
        """The next raw chunk (head and body bytes), None at the end."""
        if self._finished:
            return None
        if self._raw is None:
            if self._consumed:
                raise ProtocolError("the response body was already read or stored")
            self._consumed = True
        with self._hold():
            try:
                if self._raw is None:
                    self._raw = self._http._open_body(self)
                piece = self._raw.next()
            except BaseException:
                with contextlib.suppress(LpwaError):
                    self._finish(failed=True)
                raise
            if piece is None:
                self._finish()
            return piece

    def _read_head(self) -> None:
        """Read until the blank line that ends the status line and headers."""
        buf = b""
        while True:
            chunk = self._pull()
            if chunk is None:
                break
            buf += chunk
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                try:
                    self._set_head(buf[:end])
                except LpwaError:
                    # A head we cannot trust: give the module back at once.
                    with contextlib.suppress(LpwaError):
                        self.close()
                    raise
                self._leftover = buf[end + 4 :]
                return
            if len(buf) > MAX_HEAD:
                break
        with contextlib.suppress(LpwaError):
            self.close()
        raise ProtocolError("the module sent no complete HTTP header block")

    def _set_head(self, head: bytes) -> None:
        status, reason, pairs = parse_head(head)
        if status != self.status_code:
            raise ProtocolError(f"status line says {status}, the URC said {self.status_code}")
        self.reason = reason
        self._headers = Headers(pairs)

    @property
    def headers(self) -> Headers:
        """The response headers (empty when the module sent none)."""
        if self._headers is None:
            if self._consumed:
                return Headers()
            self._read_head()
        assert self._headers is not None
        return self._headers

    def iter_content(
        self, chunk_size: int | None = None, decode_unicode: bool = False
    ) -> Iterator[Any]:
        """The body in pieces as they arrive (of ``chunk_size`` bytes if given).

        ``decode_unicode=True`` yields str decoded with :attr:`encoding`. Raises
        the module's HTTPError if the read breaks (e.g. 717): a short body is
        never passed off as a whole one.
        """
        size = _chunk_size(chunk_size, allow_none=True)
        pieces = self._pieces(size)
        if not decode_unicode:
            return pieces
        return self._decoded(pieces)

    def _decoded(self, pieces: Iterator[bytes]) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder(self.encoding)("replace")
        for piece in pieces:
            text = decoder.decode(piece)
            if text:
                yield text
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail

    def _pieces(self, chunk_size: int | None) -> Iterator[bytes]:
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

    def iter_lines(
        self,
        chunk_size: int = 512,
        decode_unicode: bool = False,
        delimiter: bytes | None = None,
    ) -> Iterator[Any]:
        """The body line by line, without line ends (``\\r\\n``, ``\\n`` or ``\\r``),
        as requests gives them; or split on ``delimiter``. A line end split across
        two pieces is still one line end."""
        size = _chunk_size(chunk_size, allow_none=False)
        if delimiter is not None and (not isinstance(delimiter, bytes) or not delimiter):
            raise ParameterError("delimiter must be non-empty bytes")
        lines = self._lines(self._pieces(size), delimiter)
        if not decode_unicode:
            return lines
        encoding = self.encoding
        return (line.decode(encoding, "replace") for line in lines)

    @staticmethod
    def _lines(pieces: Iterator[bytes], delimiter: bytes | None) -> Iterator[bytes]:
        buf = b""
        for piece in pieces:
            buf += piece
            if delimiter is not None:
                *done, buf = buf.split(delimiter)
                yield from done
                continue
            parts = buf.splitlines(keepends=True)
            buf = b""
            # A last part without its line end, or ending "\r" (maybe half of
            # "\r\n"), waits for the next piece.
            if parts and (parts[-1].endswith(b"\r") or not parts[-1].endswith(b"\n")):
                buf = parts.pop()
            for part in parts:
                yield part.rstrip(b"\r\n") if part.endswith(b"\r\n") else part[:-1]
        if buf:
            if delimiter is None and buf.endswith(b"\r"):
                buf = buf[:-1]
            yield buf

    def _body_pieces(self) -> Iterator[bytes]:
        if self._body_started:
            raise ProtocolError("the response body was already read (iterate it once)")
        self._body_started = True
        received = 0
        total = self.content_length
        if self._leftover:
            piece, self._leftover = self._leftover, b""
            received += len(piece)
            if self._on_progress:
                self._on_progress(received, total)
            yield piece
        while True:
            pulled = self._pull()
            if pulled is None:
                break
            if not pulled:
                continue
            received += len(pulled)
            if self._on_progress:
                self._on_progress(received, total)
            yield pulled
        if total is not None and received != total:
            raise ProtocolError(f"body has {received} bytes, Content-Length said {total}")

    @property
    def content(self) -> bytes:
        """The whole body (read from the module on first access)."""
        if self._content is None:
            self._content = b"".join(self._pieces(None))
        return self._content

    @property
    def encoding(self) -> str:
        """The charset of Content-Type (if Python knows it), else UTF-8."""
        ctype = self.headers.get("Content-Type", "")
        for param in ctype.split(";")[1:]:
            key, _, value = param.strip().partition("=")
            if key.lower() == "charset" and value:
                name = value.strip().strip('"')
                with contextlib.suppress(LookupError):
                    return codecs.lookup(name).name
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

    @property
    def is_redirect(self) -> bool:
        """A 3xx with a Location (the module follows no redirect itself)."""
        return 300 <= self.status_code < 400 and "Location" in self.headers

    def raise_for_status(self) -> None:
        """Raise HTTPResponseError for a 4xx or 5xx status."""
        if not self.ok:
            raise HTTPResponseError(self.status_code, self.reason, self.url)

    def save(self, filename: str, *, wait_time: int | None = None) -> None:
        """Store the body in a UFS file instead of reading it (AT+QHTTPREADFILE).

        The file holds the body only, unless the caller turned response headers on
        (``modem.http.config(responseheader=1)``): then it holds the status line
        and headers first, as the module writes them. ``wait_time`` (1-65535 s,
        default the request's) is the longest silence between two packets, not a
        limit on the whole transfer. ``headers`` are available afterwards. Raises
        UFSFullError when the UFS has no room (checked first when the length is
        known).
        """
        check_file_name(filename)
        wait = self._wait_time if wait_time is None else self._http._check_wait(wait_time)
        if self._consumed or self._finished:
            raise ProtocolError("the response body was already read or stored")
        self._consumed = True
        with self._hold():
            try:
                self._http._save(self, filename, wait)
            except BaseException:
                with contextlib.suppress(LpwaError):
                    self._finish(failed=True)
                raise
            self._finish()
        if self._headers is None:
            self._headers = Headers()

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}] {redact.url(self.url)}>"

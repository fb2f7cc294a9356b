"""The requests-like ``Response`` of ``modem.http``, one class for both shells.

A Response knows the status, length and ``elapsed`` from the ``+QHTTPGET``/
``+QHTTPPOST`` URC at once; the body is read inside the request's procedure, or,
with ``stream=True``, when first asked for — in the sync shell by ``content``,
``text``, ``json()``, ``iter_content()``, ``iter_lines()``, ``save()``; in the
asyncio shell by ``await aread()``, ``aiter_content()``, ``aiter_lines()``,
``await asave()``. A streamed response holds the module (a *lease*) until its
body is read to the end, it is closed (``close()``/``aclose()``, the end of
``with``/``async with``) or it is garbage collected; meanwhile another procedure
waits a bounded time or gets ModemBusy. With ``responseheader=1`` the module sends
the status line and headers before the body, and they are parsed from there.

The reading itself is :class:`~lpwa.http.reader.BodyReader`'s procedures; this
class only runs them in the shell that made the response.
"""

from __future__ import annotations

import codecs
import contextlib
import json as _json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from lpwa import redact
from lpwa.errors import HTTPResponseError, ParameterError, ParameterTypeError
from lpwa.http.body import check_file_name
from lpwa.http.reader import BodyReader, Headers, Progress, Reslicer
from lpwa.http.results import parse_head

if TYPE_CHECKING:
    from lpwa.procedure import Proc

__all__ = ["Headers", "Progress", "Response", "parse_head"]


def _chunk_size(value: object, *, allow_none: bool) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterTypeError(f"chunk_size must be a positive int, not {value!r}")
    if value < 1:
        raise ParameterError(f"chunk_size must be at least 1, not {value}")
    return value


def _delimiter(delimiter: object) -> bytes | None:
    if delimiter is not None and (not isinstance(delimiter, bytes) or not delimiter):
        raise ParameterError("delimiter must be non-empty bytes")
    return delimiter


class LineSplitter:
    """Splits body pieces into lines without their ends (``\\r\\n``, ``\\n`` or
    ``\\r``), as requests gives them, or on ``delimiter``. A line end split
    across two pieces is still one line end."""

    def __init__(self, delimiter: bytes | None) -> None:
        self._delimiter = delimiter
        self._buf = b""

    def feed(self, piece: bytes) -> list[bytes]:
        """The lines ``piece`` completes."""
        buf = self._buf + piece
        if self._delimiter is not None:
            *done, self._buf = buf.split(self._delimiter)
            return done
        parts = buf.splitlines(keepends=True)
        self._buf = b""
        # A last part without its line end, or ending "\r" (maybe half of
        # "\r\n"), waits for the next piece.
        if parts and (parts[-1].endswith(b"\r") or not parts[-1].endswith(b"\n")):
            self._buf = parts.pop()
        return [p.rstrip(b"\r\n") if p.endswith(b"\r\n") else p[:-1] for p in parts]

    def rest(self) -> list[bytes]:
        """The last line, if the body does not end with a line end."""
        buf, self._buf = self._buf, b""
        if self._delimiter is None and buf.endswith(b"\r"):
            buf = buf[:-1]
        return [buf] if buf else []


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
        shell: Any,
        body: BodyReader,
        url: str,
        *,
        asynchronous: bool = False,
        padded_by: int = 0,
        elapsed: timedelta | None = None,
    ) -> None:
        self._shell = shell
        self._asynchronous = asynchronous
        self._body = body
        self.url = url
        self.status_code = body.status_code
        self.content_length = body.content_length
        self.padded_by = padded_by
        self.elapsed = elapsed if elapsed is not None else timedelta(0)
        self._content: bytes | None = None

    # -- running the body's procedures in this response's shell ----------------------

    def _check_shell(self, *, asynchronous: bool) -> None:
        """A body method of the other shell is a caller's mistake, said before
        anything is read."""
        if self._asynchronous == asynchronous:
            return
        if self._asynchronous:
            raise ParameterError(
                "this response came from the asyncio shell: read its body with "
                "`await response.aread()` or `async for … in response.aiter_content()`, "
                "close it with `await response.aclose()`"
            )
        raise ParameterError(
            "this response came from the sync shell: read its body with "
            "`response.content` or `response.iter_content()`, close it with `close()`"
        )

    def _run(self, proc: Proc[Any]) -> Any:
        try:
            self._check_shell(asynchronous=False)
        except ParameterError:
            proc.close()
            raise
        # As the holder of a streamed response's lease, from any thread.
        return self._shell.run(proc, self._body.lease)

    async def _arun(self, proc: Proc[Any]) -> Any:
        try:
            self._check_shell(asynchronous=True)
        except ParameterError:
            proc.close()
            raise
        return await self._shell.arun(proc, self._body.lease)

    # -- giving back the module -------------------------------------------------------

    def close(self) -> None:
        """Discard the rest of the body and give the module back (idempotent)."""
        if not self._body.finished:
            self._run(self._body.close())

    async def aclose(self) -> None:
        """:meth:`close` in the asyncio shell."""
        if not self._body.finished:
            await self._arun(self._body.close())

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Response:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __del__(self) -> None:
        # Garbage collection may run in any thread, inside any lock: no AT command.
        body = getattr(self, "_body", None)
        if body is not None:
            body.abandon()

    # -- the head -----------------------------------------------------------------------

    @property
    def reason(self) -> str:
        """The status line's reason phrase (with the head; else empty)."""
        return self._body.reason

    @property
    def headers(self) -> Headers:
        """The response headers (empty when the module sent none).

        A streamed response of the asyncio shell has them once its body is
        being read (the head comes first on the module's stream), or after
        ``await response.aread_headers()``.
        """
        body = self._body
        if body.headers is None:
            if body.consumed:
                return Headers()
            self._run(body.read_head())
        assert body.headers is not None
        return body.headers

    # -- the body, sync ----------------------------------------------------------------

    def iter_content(
        self, chunk_size: int | None = None, decode_unicode: bool = False
    ) -> Iterator[Any]:
        """The body in pieces as they arrive (of ``chunk_size`` bytes if given).

        ``decode_unicode=True`` yields str decoded with :attr:`encoding`. Raises
        the module's HTTPError if the read breaks (e.g. 717): a short body is
        never passed off as a whole one.
        """
        pieces = self._pieces(_chunk_size(chunk_size, allow_none=True))
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
            yield from _slices(self._content, chunk_size)
            return
        self._check_shell(asynchronous=False)
        body = self._body
        body.begin()
        cut = Reslicer(chunk_size)
        while (piece := self._run(body.next_chunk())) is not None:
            yield from cut.feed(piece)
        yield from cut.rest()

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
        lines = self._lines(self._pieces(size), _delimiter(delimiter))
        if not decode_unicode:
            return lines
        encoding = self.encoding
        return (line.decode(encoding, "replace") for line in lines)

    @staticmethod
    def _lines(pieces: Iterator[bytes], delimiter: bytes | None) -> Iterator[bytes]:
        split = LineSplitter(delimiter)
        for piece in pieces:
            yield from split.feed(piece)
        yield from split.rest()

    @property
    def content(self) -> bytes:
        """The whole body (read from the module on first access)."""
        if self._content is None:
            self._content = self._run(self._body.read_all())
        return self._content

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
        self._run(self._save(filename, wait_time))

    def _save(self, filename: str, wait_time: int | None) -> Proc[None]:
        from lpwa.http.client import check_wait

        check_file_name(filename)
        wait = self._body.wait_time if wait_time is None else check_wait(wait_time)
        yield from self._body.save(filename, wait)

    # -- the body, asyncio ------------------------------------------------------------

    async def aread(self) -> bytes:
        """The whole body, read on first call (then :attr:`content` holds it)."""
        if self._content is None:
            self._content = await self._arun(self._body.read_all())
        return self._content

    def aiter_content(
        self, chunk_size: int | None = None, decode_unicode: bool = False
    ) -> AsyncIterator[Any]:
        """:meth:`iter_content` in the asyncio shell: one procedure per piece, so
        other work on the module waits only while a piece is read. Arguments
        are checked at the call, as :meth:`iter_content` checks them."""
        pieces = self._apieces(_chunk_size(chunk_size, allow_none=True))
        return self._adecoded(pieces) if decode_unicode else pieces

    async def _apieces(self, size: int | None) -> AsyncIterator[bytes]:
        if self._content is not None:
            for piece in _slices(self._content, size):
                yield piece
            return
        self._check_shell(asynchronous=True)
        body = self._body
        body.begin()
        cut = Reslicer(size)
        while (piece := await self._arun(body.next_chunk())) is not None:
            for out in cut.feed(piece):
                yield out
        for out in cut.rest():
            yield out

    async def _adecoded(self, pieces: AsyncIterator[bytes]) -> AsyncIterator[str]:
        decoder = codecs.getincrementaldecoder(self.encoding)("replace")
        async for piece in pieces:
            if text := decoder.decode(piece):
                yield text
        if tail := decoder.decode(b"", final=True):
            yield tail

    def aiter_lines(
        self,
        chunk_size: int = 512,
        decode_unicode: bool = False,
        delimiter: bytes | None = None,
    ) -> AsyncIterator[Any]:
        """:meth:`iter_lines` in the asyncio shell (arguments checked at the call)."""
        lines = self._alines(
            self._apieces(_chunk_size(chunk_size, allow_none=False)), _delimiter(delimiter)
        )
        return self._adecoded_lines(lines) if decode_unicode else lines

    @staticmethod
    async def _alines(
        pieces: AsyncIterator[bytes], delimiter: bytes | None
    ) -> AsyncIterator[bytes]:
        split = LineSplitter(delimiter)
        async for piece in pieces:
            for line in split.feed(piece):
                yield line
        for line in split.rest():
            yield line

    async def _adecoded_lines(self, lines: AsyncIterator[bytes]) -> AsyncIterator[str]:
        encoding = self.encoding
        async for line in lines:
            yield line.decode(encoding, "replace")

    async def aread_headers(self) -> Headers:
        """:attr:`headers` in the asyncio shell: a streamed response's head is
        read from the module first if its body was not started yet."""
        body = self._body
        if body.headers is None and not body.consumed:
            await self._arun(body.read_head())
        return self.headers

    async def asave(self, filename: str, *, wait_time: int | None = None) -> None:
        """:meth:`save` in the asyncio shell."""
        await self._arun(self._save(filename, wait_time))

    # -- derived ------------------------------------------------------------------------

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

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}] {redact.url(self.url)}>"


def _slices(content: bytes, size: int | None) -> Iterator[bytes]:
    step = size or len(content) or 1
    for i in range(0, len(content), step):
        yield content[i : i + step]

"""A response body as procedures: the sans-I/O half of :class:`~lpwa.http.Response`.

:class:`BodyReader` holds what reading a body involves, once for both shells:
opening it (by length, or through a UFS file), the status line and headers the
module sends first when ``responseheader=1``, the Content-Length check, progress,
storing it in a file (``save``), and finishing: closing the raw reader, putting
back the QHTTPCFG values the request changed, releasing the lease of a streamed
response. Each body piece is one procedure (:meth:`BodyReader.next_chunk`), so
the module is free between pieces in the asyncio shell and held by the lease in
the sync one. :class:`Reslicer` cuts pieces to a caller's ``chunk_size``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from lpwa.errors import LpwaError, ProtocolError
from lpwa.http.body import MAX_HEAD
from lpwa.http.results import parse_head
from lpwa.procedure import Proc

if TYPE_CHECKING:
    from collections.abc import Mapping

    from lpwa.http.body import RawBody
    from lpwa.http.client import HTTPProcedures

    _MappingBase = Mapping[str, str]
else:
    from collections.abc import Mapping as _MappingBase

Progress = Callable[[int, "int | None"], None]


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


class BodyReader:
    """The body of one response, read by procedures (see the module doc).

    ``headers`` is None until the module's head was read (``with_head``), and
    an empty :class:`~lpwa.http.Headers` when the module sends none.
    """

    def __init__(
        self,
        procs: HTTPProcedures,
        status_code: int,
        content_length: int | None,
        *,
        with_head: bool,
        caller_head: bool | None = None,
        wait_time: int = 60,
        on_progress: Progress | None = None,
    ) -> None:
        self._procs = procs
        self.status_code = status_code
        self.content_length = content_length
        self.with_head = with_head
        # Whether the caller (not lpwa) had responseheader on: save() then
        # stores the head too, as the module writes it.
        self.caller_head = with_head if caller_head is None else caller_head
        self.wait_time = wait_time
        self.on_progress = on_progress
        self.reason = ""
        self.headers: Headers | None = None if with_head else Headers()
        self.raw: RawBody | None = None
        self.leftover = b""
        self.received = 0
        self.consumed = False
        self.body_started = False
        self.finished = False
        self.lease: Any = None
        """The shell's lease of a streamed response (``release()``), else None."""
        self.restore: dict[str, int] = {}
        """QHTTPCFG values to put back once the body is done with."""

    # -- giving the module back ---------------------------------------------------------

    def finish(self, *, failed: bool = False) -> Proc[None]:
        """The body is done with: close the raw reader, put back QHTTPCFG, release."""
        if self.finished:
            return
        self.finished = True
        raw, self.raw = self.raw, None
        try:
            if raw is not None:
                try:
                    yield from raw.close()
                except LpwaError:
                    if not failed:
                        raise
                finally:
                    left = raw.leftover()
                    if left is not None:
                        self._procs.abandon(*left)
            yield from self._procs.restore_config(self.restore)
        finally:
            self.restore = {}
            self.release()

    def close(self) -> Proc[None]:
        """Discard the rest of the body and give the module back (idempotent)."""
        if self.finished:
            return
        self.consumed = True
        yield from self.finish()

    def release(self) -> None:
        """Release the lease (no I/O; idempotent)."""
        lease, self.lease = self.lease, None
        if lease is not None:
            lease.release()

    def abandon(self) -> None:
        """Dropped unread (garbage collection, any thread): no AT command here.
        What the body left on the module is removed, and the QHTTPCFG values put
        back, by the next HTTP procedure; the lease is freed."""
        if self.finished:
            return
        self.finished = True
        with contextlib.suppress(Exception):
            raw = self.raw
            left = raw.leftover() if raw is not None else None
            if left is not None:
                self._procs.abandon(*left)
            if self.restore:
                self._procs.restore_later(self.restore)
        self.release()

    # -- the body -------------------------------------------------------------------------

    def _pull(self) -> Proc[bytes | None]:
        """The next raw chunk (head and body bytes), None at the end."""
        if self.finished:
            return None
        if self.raw is None:
            if self.consumed:
                raise ProtocolError("the response body was already read or stored")
            self.consumed = True
        try:
            if self.raw is None:
                self.raw = yield from self._procs.open_body(self)
            piece = yield from self.raw.next()
        except BaseException:
            with contextlib.suppress(LpwaError):
                yield from self.finish(failed=True)
            raise
        if piece is None:
            yield from self.finish()
        return piece

    def read_head(self) -> Proc[None]:
        """Read until the blank line that ends the status line and headers."""
        buf = b""
        while True:
            chunk = yield from self._pull()
            if chunk is None:
                break
            buf += chunk
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                try:
                    self.set_head(buf[:end])
                except LpwaError:
                    # A head we cannot trust: give the module back at once.
                    with contextlib.suppress(LpwaError):
                        yield from self.close()
                    raise
                self.leftover = buf[end + 4 :]
                return
            if len(buf) > MAX_HEAD:
                break
        with contextlib.suppress(LpwaError):
            yield from self.close()
        raise ProtocolError("the module sent no complete HTTP header block")

    def set_head(self, head: bytes) -> None:
        """Parse the status line and headers (without the blank line)."""
        status, reason, pairs = parse_head(head)
        if status != self.status_code:
            raise ProtocolError(f"status line says {status}, the URC said {self.status_code}")
        self.reason = reason
        self.headers = Headers(pairs)

    def begin(self) -> None:
        """Start reading the body (once: a second iteration is a caller's mistake)."""
        if self.body_started:
            raise ProtocolError("the response body was already read (iterate it once)")
        self.body_started = True

    def next_chunk(self) -> Proc[bytes | None]:
        """The next piece of the body (the head read first if due), or None at
        its end, where the Content-Length is checked. Progress is reported."""
        if self.headers is None:
            yield from self.read_head()
        if self.leftover:
            piece, self.leftover = self.leftover, b""
        else:
            while True:
                pulled = yield from self._pull()
                if pulled is None:
                    total = self.content_length
                    if total is not None and self.received != total:
                        raise ProtocolError(
                            f"body has {self.received} bytes, Content-Length said {total}"
                        )
                    return None
                if pulled:
                    piece = pulled
                    break
        self.received += len(piece)
        if self.on_progress:
            self.on_progress(self.received, self.content_length)
        return piece

    def read_all(self) -> Proc[bytes]:
        """The whole body (see :meth:`next_chunk`)."""
        self.begin()
        pieces = []
        while (piece := (yield from self.next_chunk())) is not None:
            pieces.append(piece)
        return b"".join(pieces)

    def save(self, filename: str, wait_time: int) -> Proc[None]:
        """Store the body in ``filename`` instead of reading it (see Response.save)."""
        if self.consumed or self.finished:
            raise ProtocolError("the response body was already read or stored")
        self.consumed = True
        try:
            yield from self._procs.save(self, filename, wait_time)
        except BaseException:
            with contextlib.suppress(LpwaError):
                yield from self.finish(failed=True)
            raise
        yield from self.finish()
        if self.headers is None:
            self.headers = Headers()


class Reslicer:
    """Cuts body pieces into ``size``-byte chunks (None: as they come)."""

    def __init__(self, size: int | None) -> None:
        self._size = size
        self._buf = bytearray()

    def feed(self, piece: bytes) -> list[bytes]:
        """The whole chunks ``piece`` completes."""
        if self._size is None:
            return [piece]
        self._buf += piece
        out = []
        while len(self._buf) >= self._size:
            out.append(bytes(self._buf[: self._size]))
            del self._buf[: self._size]
        return out

    def rest(self) -> list[bytes]:
        """What is left at the end (a short last chunk)."""
        rest, self._buf = bytes(self._buf), bytearray()
        return [rest] if rest else []


__all__ = ["BodyReader", "Headers", "Progress", "Reslicer"]

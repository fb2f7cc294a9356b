"""Reading a response body out of the module, framed so that no server can forge it.

Two ways, chosen by what the result URC said (issue 10 item 2):

- Known ``<content_length>``: ``AT+QHTTPREAD`` (:class:`ReadBody`). The tokenizer
  is told the length, reads exactly that many bytes and then requires the exact
  trailer, so anything inside the body, an error line or ``RDY`` included, is body.
- Unknown length (chunked, or a server that closes the connection): a QHTTPREAD
  body could only be framed by searching for its trailer, and a server can put that
  trailer into its body. So the module stores the response in a UFS file
  (``AT+QHTTPREADFILE``, OK at once, ``+QHTTPREADFILE: <err>`` when done) under a
  name no other call uses, and lpwa reads it back with ``AT+QFREAD``, whose
  ``CONNECT <n>`` announces each piece's length (:class:`FileBody`). The file is
  deleted whatever happens; one that an abandoned response leaves behind (garbage
  collection must not run AT commands) is deleted by the next HTTP procedure.

:class:`UFS` holds the file commands with strict parsers (``results``). Everything
here is a procedure (:mod:`lpwa.procedure`): it runs inside the caller's request
procedure, or in one per body piece under a streamed response's lease.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import time
from typing import Any, Union

from lpwa.at.fields import quote
from lpwa.errors import (
    ATTimeout,
    CMEError,
    LpwaError,
    ParameterError,
    ParameterTypeError,
    ProtocolError,
    UFSFullError,
    http_error,
)
from lpwa.http.results import (
    qflds_space,
    qflst_size,
    qfopen_handle,
    qfwrite_count,
    readfile_err,
)
from lpwa.procedure import Expect, Proc, Pull, Stream, Wait, command

log = logging.getLogger("lpwa.http")

# QFREAD/QFWRITE piece: a command round trip per 16 KiB keeps the overhead small
# and the memory bounded.
CHUNK = 16 * 1024
# The slowest transfer worth waiting for, bytes per second: well below any
# LTE-M, NB-IoT or EGPRS link.
FLOOR_RATE = 100.0
# The longest the module takes to answer a file command (FILE AT manual: 300 ms)
# plus slack for a busy host; QFREAD/QFWRITE data phases are bounded by their
# silence instead.
FILE_TIMEOUT = 5.0
FILE_IDLE = 30.0
# "+QHTTPREADFILE: <err>" comes after the whole response is stored; the module
# enforces <wait_time> between packets itself (note 2.7) and reports 727 when it
# runs out. lpwa waits in slices of <wait_time> plus this margin and proves after
# each silent slice that the module is alive (AT).
IDLE_MARGIN = 2.0
# A status line and headers larger than this are not HTTP we can trust.
MAX_HEAD = 64 * 1024
# HTTP note 2.5/2.7: "The max length of the file name is 80 bytes".
MAX_NAME = 80
# 729 "Memory allocation failed": what a module answers when it cannot store.
E_MEMORY = 729


def check_file_name(name: object) -> str:
    """A UFS file name the module takes (1-80 bytes, no quotes or line ends)."""
    if not isinstance(name, str):
        raise ParameterTypeError(f"file name must be a str, not {type(name).__name__}")
    if not 1 <= len(name.encode("utf-8")) <= MAX_NAME:
        raise ParameterError(f"file name must be 1-{MAX_NAME} bytes: {name!r}")
    quote(name)  # refuses quotes and line ends
    return name


def temp_name() -> str:
    """A UFS name no other call (thread, process or host) picks: 64 random bits."""
    return f"lpwa-{secrets.token_hex(8)}.tmp"


# What temp_name() makes, and nothing a user would call a file.
TEMP_NAME = re.compile(r"(?:UFS:)?lpwa-[0-9a-f]{16}\.tmp")


class UFS:
    """The file commands an HTTP procedure needs, as procedures with strict answers."""

    def size(self, name: str) -> Proc[int | None]:
        """The size of ``name`` (AT+QFLST), None if there is no such file."""
        reply = yield from command(f"AT+QFLST={quote(name)}", timeout=FILE_TIMEOUT)
        return qflst_size(reply.lines, name)

    def space(self) -> Proc[tuple[int, int]]:
        """(free, total) bytes of the UFS (AT+QFLDS="UFS")."""
        reply = yield from command('AT+QFLDS="UFS"', timeout=FILE_TIMEOUT)
        line = next((ln for ln in reply.lines if ln.startswith("+QFLDS:")), None)
        if line is None:
            raise ProtocolError(f"AT+QFLDS: no +QFLDS line in {reply.lines!r}")
        return qflds_space(line)

    def require(self, needed: int, what: str) -> Proc[None]:
        """UFSFullError unless ``needed`` bytes are free."""
        free, total = yield from self.space()
        if needed > free:
            raise UFSFullError(
                f"{what}: {needed} bytes needed, {free} of {total} free in the UFS",
                needed=needed,
                free=free,
            )

    def open(self, name: str, mode: int) -> Proc[int]:
        """AT+QFOPEN: the handle (mode 1 creates or truncates, 2 reads only)."""
        reply = yield from command(f"AT+QFOPEN={quote(name)},{mode}", timeout=FILE_TIMEOUT)
        line = next((ln for ln in reply.lines if ln.startswith("+QFOPEN:")), None)
        if line is None:
            raise ProtocolError(f"AT+QFOPEN: no +QFOPEN line in {reply.lines!r}")
        return qfopen_handle(line)

    def read(self, handle: int, length: int) -> Proc[bytes]:
        """Up to ``length`` bytes (AT+QFREAD): ``CONNECT <n>`` announces how many."""
        reply = yield from command(
            f"AT+QFREAD={handle},{length}", timeout=None, idle_timeout=FILE_IDLE
        )
        piece = reply.body or b""
        announced = reply.connect_code
        if announced is None or announced != len(piece) or announced > length:
            raise ProtocolError(
                f"AT+QFREAD announced {announced} bytes and sent {len(piece)} (asked {length})"
            )
        return piece

    def write(self, handle: int, data: bytes) -> Proc[None]:
        """AT+QFWRITE of ``data``; the module's count must match."""
        reply = yield from command(
            f"AT+QFWRITE={handle},{len(data)},{int(FILE_IDLE)}",
            data=data,
            timeout=FILE_IDLE + FILE_TIMEOUT,
        )
        line = next((ln for ln in reply.lines if ln.startswith("+QFWRITE:")), None)
        if line is None:
            raise ProtocolError(f"AT+QFWRITE: no +QFWRITE line in {reply.lines!r}")
        written, _ = qfwrite_count(line)
        if written != len(data):
            raise ProtocolError(f"AT+QFWRITE wrote {written} of {len(data)} bytes")

    def seek(self, handle: int, offset: int) -> Proc[None]:
        """AT+QFSEEK from the start of the file."""
        yield from command(f"AT+QFSEEK={handle},{offset},0", timeout=FILE_TIMEOUT)

    def close(self, handle: int) -> Proc[None]:
        """AT+QFCLOSE."""
        yield from command(f"AT+QFCLOSE={handle}", timeout=FILE_TIMEOUT)

    def stale(self) -> Proc[list[str]]:
        """Temporary files an earlier program left (killed or powered off mid-read)."""
        reply = yield from command('AT+QFLST="*"', timeout=FILE_TIMEOUT)
        names = []
        for line in reply.lines:
            if line.startswith("+QFLST:"):
                name = line.split(":", 1)[1].strip().split(",", 1)[0].strip('"')
                if TEMP_NAME.fullmatch(name):
                    names.append(name.removeprefix("UFS:"))
        return names

    def delete(self, name: str) -> Proc[None]:
        """AT+QFDEL; a file that is not there is not an error."""
        try:
            yield from command(f"AT+QFDEL={quote(name)}", timeout=FILE_TIMEOUT)
        except CMEError:
            if (yield from self.size(name)) is not None:
                raise

    def read_head(self, name: str, size: int) -> Proc[bytes]:
        """The status line and headers at the start of ``name``, with the blank line."""
        handle = yield from self.open(name, 2)
        try:
            buf = b""
            while len(buf) < min(size, MAX_HEAD + 4):
                piece = yield from self.read(handle, min(4096, size - len(buf)))
                if not piece:
                    break
                buf += piece
                end = buf.find(b"\r\n\r\n")
                if end >= 0:
                    return buf[: end + 4]
        finally:
            yield from self.close(handle)
        raise ProtocolError(f"{name}: the module stored no complete HTTP header block")

    def copy(self, source: str, offset: int, size: int, target: str) -> Proc[None]:
        """Copy bytes ``offset``..``size`` of ``source`` into a new ``target``."""
        yield from self.require(size - offset, f"storing {target!r}")
        src = yield from self.open(source, 2)
        try:
            yield from self.seek(src, offset)
            dst = yield from self.open(target, 1)
            try:
                done = offset
                while done < size:
                    piece = yield from self.read(src, min(CHUNK, size - done))
                    if not piece:
                        raise ProtocolError(f"{source}: shorter than its listed {size} bytes")
                    yield from self.write(dst, piece)
                    done += len(piece)
            finally:
                yield from self.close(dst)
        finally:
            yield from self.close(src)

    def store_response(
        self, name: str, wait_time: int, *, expected: int | None = None
    ) -> Proc[int]:
        """AT+QHTTPREADFILE into ``name``; the stored size.

        ``expected`` (the body and head size when known) is checked against the
        free space first, so a response that cannot fit is refused before anything
        is stored. A module that reports an error while the UFS is full, or 729
        (memory allocation failed), raises UFSFullError.
        """
        free, total = yield from self.space()
        if expected is not None and expected > free:
            raise UFSFullError(
                f"storing the response in {name!r}: {expected} bytes needed, "
                f"{free} of {total} free in the UFS",
                needed=expected,
                free=free,
            )
        # The module bounds every silence by <wait_time> and reports 727 itself;
        # lpwa's own bound only guards against a module that never reports: the
        # file cannot outgrow the free space, so storing it at the slowest rate
        # worth waiting for takes at most this long.
        limit = (free + MAX_HEAD) / FLOOR_RATE + wait_time + IDLE_MARGIN
        line = f"AT+QHTTPREADFILE={quote(name)},{wait_time}"
        waiter = yield Expect("+QHTTPREADFILE")
        try:
            yield from command(line, timeout=FILE_TIMEOUT)
            start = time.monotonic()
            while True:
                try:
                    urc = yield Wait(waiter, wait_time + IDLE_MARGIN)
                    break
                except ATTimeout:
                    # Silent for longer than <wait_time>: the transfer may still
                    # be going (the URC comes at its end). Prove the module alive
                    # (a reboot raises ModuleRebooted here) and wait on.
                    yield from command("AT", timeout=FILE_TIMEOUT)
                    if time.monotonic() - start > limit:
                        raise ATTimeout(
                            line, limit, "no +QHTTPREADFILE although the module answers"
                        ) from None
        finally:
            waiter.cancel()
        err = readfile_err(urc.text)
        if err != 0:
            free, total = yield from self.space()
            if err == E_MEMORY or free == 0:
                raise UFSFullError(
                    f"storing the response in {name!r} failed (+QHTTPREADFILE: {err}); "
                    f"{free} of {total} bytes free in the UFS",
                    needed=-1 if expected is None else expected,
                    free=free,
                )
            raise http_error(line, err)
        size = yield from self.size(name)
        if size is None:
            raise ProtocolError(f"{line}: reported success but stored no file")
        return size


class ReadBody:
    """A known-length body over AT+QHTTPREAD: raw chunks (head first if on),
    one :class:`~lpwa.procedure.Pull` each."""

    def __init__(self, wait_time: int, length: int, with_head: bool) -> None:
        self._line = f"AT+QHTTPREAD={wait_time}"
        self._options: dict[str, Any] = {
            "timeout": None,
            # The module reports its own wait_time expiry (HTTP note 2.6), so
            # ours only needs to come later.
            "idle_timeout": wait_time + IDLE_MARGIN,
            "body_length": length,
            "response_header": with_head,
        }
        self._stream: Any = None

    def next(self) -> Proc[bytes | None]:
        """The next chunk, or None at the end (error trailers raise)."""
        if self._stream is None:
            self._stream = yield Stream(self._line, self._options)
        chunk: bytes | None = yield Pull(self._stream)
        if chunk is not None:
            return chunk
        code = self._stream.body_code
        if code not in (0, None):
            raise http_error(self._line, code)
        if not self._stream.body_seen:
            raise ProtocolError(f"{self._line}: the module sent no body")
        return None

    def close(self) -> Proc[None]:
        """Stop early: the channel reads and drops the rest up to the final code."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()
        return
        yield  # a procedure, like FileBody.close

    def leftover(self) -> tuple[str, int | None] | None:
        """Nothing stays on the module after a QHTTPREAD."""
        return None


class FileBody:
    """An unknown-length body through a temporary UFS file (see the module doc)."""

    def __init__(self, ufs: UFS, wait_time: int) -> None:
        self._ufs = ufs
        self._wait_time = wait_time
        self.name = temp_name()
        self._handle: int | None = None
        self._size: int | None = None
        self._done = 0
        self._stored = False
        self._closed = False

    def next(self) -> Proc[bytes | None]:
        """The next piece of the stored response, or None at its end."""
        if self._closed:
            return None
        if self._size is None:
            self._stored = True  # from here on the module may have a file
            self._size = yield from self._ufs.store_response(self.name, self._wait_time)
            self._handle = yield from self._ufs.open(self.name, 2)
        assert self._handle is not None
        if self._done >= self._size:
            return None
        piece = yield from self._ufs.read(self._handle, min(CHUNK, self._size - self._done))
        if not piece:
            raise ProtocolError(f"{self.name}: {self._done} of its {self._size} bytes, then none")
        self._done += len(piece)
        return piece

    def close(self) -> Proc[None]:
        """Close and delete the temporary file. A close or delete the module
        refuses now is only logged: :meth:`leftover` then names the file, and
        the next procedure removes it (a body read in full is not a failure)."""
        if self._closed:
            return
        self._closed = True
        handle, self._handle = self._handle, None
        try:
            if handle is not None:
                yield from self._ufs.close(handle)
            if self._stored:
                yield from self._ufs.delete(self.name)
                self._stored = False
        except LpwaError as exc:
            self._handle = handle
            log.debug(
                "temporary file %s not removed yet (%s); the next request will", self.name, exc
            )

    def leftover(self) -> tuple[str, int | None] | None:
        """The temporary file still on the module (a body dropped unread, or one
        whose delete failed), for the next procedure to remove."""
        if not self._stored:
            return None
        return self.name, self._handle


# Union, not |: the abi3 wheel supports Python 3.9, where | between classes fails.
RawBody = Union[ReadBody, FileBody]


def discard(ufs: UFS, name: str, handle: int | None) -> Proc[None]:
    """Remove a temporary file an abandoned response left (best effort, logged)."""
    if handle is not None:
        with contextlib.suppress(LpwaError):
            yield from ufs.close(handle)
    try:
        yield from ufs.delete(name)
    except LpwaError as exc:
        log.debug("could not delete the temporary file %s: %s", name, exc)

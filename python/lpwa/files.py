"""The module's UFS file system: upload, download, list, delete, and read in pieces.

Over AT+QFUPL, AT+QFDWL, AT+QFLST, AT+QFDEL, AT+QFLDS and AT+QFOPEN/QFREAD/QFCLOSE.
Every transfer is checked against the module's own checksum (:func:`checksum`).
Every argument is checked before anything is sent (``ParameterError``; a wrong
type is a ``ParameterTypeError``, also a ``TypeError``); a malformed answer is a
``ProtocolError``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

from lpwa import answers, validate
from lpwa.errors import CMEError, LpwaError, ParameterError, ProtocolError, UFSFullError
from lpwa.procedure import Api, Awaiting, Blocking, K, Proc, command, procedure

if TYPE_CHECKING:
    from lpwa.at.channel import Reply
    from lpwa.session import Session

# File names longer than this are refused by the module (HTTP note 2.5, 2.7).
MAX_NAME = validate.UFS_MAX_NAME
# QFREAD piece size for read_chunks: large enough to amortise a command's round
# trip, small enough to show progress.
READ_CHUNK = 16 * 1024
# Our own bound on a QFREAD piece: memory for one piece, not a module limit.
MAX_READ_CHUNK = 1 << 20
# FILE AT commands manual error codes meaning "no room": 403 drive full,
# 421 no space, 423 file too large (the simulator answers 403 and 423).
UFS_FULL_CODES = frozenset({403, 421, 423})
# QFUPL's <timeout> (seconds the module waits for the data): 1-65535.
MAX_UPLOAD_TIMEOUT = 65535


class ChecksumError(LpwaError):
    """The module's size or checksum of a transfer differs from ours."""


def checksum(data: bytes) -> str:
    """The QFUPL/QFDWL checksum: XOR of big-endian 16-bit words, lowercase hex.

    An odd last byte is the high byte of a word whose low byte is 0 (design §2):
    ``checksum(b"-----BEGIN CERTIFICATE-----\\r") == "6c53"``.
    """
    data = validate.data("data", data)
    if len(data) % 2:
        data += b"\x00"
    # The XOR of all words equals the XOR of the two halves of the buffer (cut on
    # a word boundary), folded again until one word is left: each fold works in
    # C on a big integer half the size of the last, so the whole is linear.
    value = int.from_bytes(data, "big")
    bits = len(data) * 8
    while bits > 16:
        half = (bits // 32) * 16
        value = (value >> half) ^ (value & ((1 << half) - 1))
        bits -= half
    return format(value, "x")


@dataclass(frozen=True)
class FileInfo:
    """One entry of AT+QFLST: the file's name and size in bytes."""

    name: str
    size: int


# -- the module's answers (pure; ProtocolError for anything malformed) -----------


def parse_transfer(reply: Reply, name: str) -> tuple[int, str]:
    """``+QFUPL: <size>,<checksum>`` / ``+QFDWL: <size>,<checksum>`` → (size, checksum)."""
    size_text, ck_text = answers.fields(reply, name, 2)[:2]
    size = answers.number(reply.command, f"{name} size", size_text)
    return size, answers.hex_word(reply.command, f"{name} checksum", ck_text)


def parse_qflst(reply: Reply) -> list[FileInfo]:
    """Every ``+QFLST: "<name>",<size>`` line."""
    out = []
    for f in reply.all_fields("+QFLST"):
        if len(f) != 2 or not f[0]:
            raise ProtocolError(f"{reply.command!r}: malformed +QFLST answer {f!r}")
        out.append(FileInfo(f[0], answers.number(reply.command, "+QFLST size", f[1])))
    return out


def parse_qflds(reply: Reply) -> tuple[int, int]:
    """``+QFLDS: <free_size>,<total_size>`` → (free, total)."""
    free_text, total_text = answers.fields(reply, "+QFLDS", 2)[:2]
    free = answers.number(reply.command, "+QFLDS free size", free_text)
    total = answers.number(reply.command, "+QFLDS total size", total_text)
    if free > total:
        raise ProtocolError(f"{reply.command!r}: free size {free} exceeds total size {total}")
    return free, total


def parse_qfopen(reply: Reply) -> int:
    """``+QFOPEN: <filehandle>`` → the handle."""
    handle_text = answers.fields(reply, "+QFOPEN")[0]
    return answers.number(reply.command, "+QFOPEN file handle", handle_text)


def _base(name: str) -> str:
    """A UFS name without its optional ``UFS:`` prefix (how QFLST may print it)."""
    return name[4:] if name[:4].upper() == "UFS:" else name


def _pattern(pattern: object) -> str:
    """A QFLST pattern: printable ASCII, ``*`` and ``?`` allowed, quoted."""
    return validate.at_string("pattern", pattern, min_len=1, max_len=MAX_NAME + 4)


class FilesProcedures:
    """The module's user file system (UFS), as procedures (driven by
    :class:`Files` and the asyncio shell's ``AsyncFiles``)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def upload(self, name: str, data: bytes, *, timeout: int = 60) -> Proc[FileInfo]:
        """Store ``data`` as ``name`` (AT+QFUPL), replacing any file of that name,
        and verify size and checksum.

        The module refuses AT+QFUPL of an existing name (``+CME ERROR: 407``), so
        an existing file is deleted first (AT+QFDEL), after checking that the new
        content fits in the space the UFS has plus what the old file frees: a
        ``UFSFullError`` is raised before anything is deleted or written. The
        FILE AT commands manual is not among our source documents, so this uses
        only the commands the notes show (QFUPL, QFDEL, QFLST, QFLDS) rather than
        a temporary name and a rename; the consequence is a short window in which
        neither the old nor the new file exists (a failed upload leaves none).

        ``data`` must be bytes-like and non-empty; ``timeout`` (1-65535 s) is how
        long the module waits for the data. The whole is one procedure: no other
        thread's command runs between the check, the delete and the upload.
        """
        quoted = validate.ufs_name(name)
        payload = validate.data("data", data)
        if not payload:
            raise ParameterError(f"upload of {name!r}: data is empty (QFUPL needs 1 byte or more)")
        wait = validate.integer("timeout", timeout, 1, MAX_UPLOAD_TIMEOUT)
        old = yield from self._size(name)
        free, _total = yield from self.space()
        room = free + (old or 0)
        if len(payload) > room:
            raise UFSFullError(
                f"upload of {name!r}: {len(payload)} bytes do not fit, the UFS has "
                f"{room} bytes free" + (" counting the file it replaces" if old else ""),
                needed=len(payload),
                free=room,
            )
        if old is not None:
            yield from command(f"AT+QFDEL={quoted}")
        line = f"AT+QFUPL={quoted},{len(payload)},{wait}"
        try:
            # The module waits up to <timeout> for the data, then answers.
            reply = yield from command(line, data=payload, timeout=wait + 10)
        except CMEError as exc:
            if exc.code in UFS_FULL_CODES:
                raise UFSFullError(
                    f"upload of {name!r}: the module has no room ({exc})",
                    needed=len(payload),
                    free=room,
                ) from exc
            raise
        size, ck = parse_transfer(reply, "+QFUPL")
        expected = checksum(payload)
        if size != len(payload) or ck != expected:
            raise ChecksumError(
                f"upload of {name!r}: module stored {size} bytes, checksum {ck}; "
                f"sent {len(payload)} bytes, checksum {expected}"
            )
        return FileInfo(name, len(payload))

    def _size(self, name: str) -> Proc[int | None]:
        """The size of ``name`` when it exists (AT+QFLST=<name>), else None."""
        wanted = _base(name)
        found = yield from self.list(name)
        return next((f.size for f in found if _base(f.name) == wanted), None)

    def download(self, name: str) -> Proc[bytes]:
        """The content of ``name`` (AT+QFDWL), verified against the module's checksum."""
        line = f"AT+QFDWL={validate.ufs_name(name)}"
        reply = yield from command(line, timeout=None, idle_timeout=30)
        body = reply.body or b""
        size, ck = parse_transfer(reply, "+QFDWL")
        if size != len(body) or ck != checksum(body):
            raise ChecksumError(
                f"download of {name!r}: module sent {size} bytes, checksum {ck}; "
                f"received {len(body)} bytes, checksum {checksum(body)}"
            )
        return body

    def list(self, pattern: str = "*") -> Proc[list[FileInfo]]:
        """The files matching ``pattern`` (AT+QFLST; ``*`` and ``?`` are wildcards)."""
        line = f"AT+QFLST={_pattern(pattern)}"
        return parse_qflst((yield from command(line)))

    def exists(self, name: str) -> Proc[bool]:
        """Whether a file called ``name`` is in the UFS."""
        validate.ufs_name(name)
        return (yield from self._size(name)) is not None

    def delete(self, name: str) -> Proc[None]:
        """Delete ``name`` (AT+QFDEL); ``"*"`` deletes every file."""
        if isinstance(name, str) and _base(name) == "*":
            quoted = f'"{name}"'
        else:
            quoted = validate.ufs_name(name)
        yield from command(f"AT+QFDEL={quoted}")

    def space(self) -> Proc[tuple[int, int]]:
        """(free, total) bytes of the UFS (AT+QFLDS="UFS")."""
        return parse_qflds((yield from command('AT+QFLDS="UFS"')))


class ChunkReader:
    """Reads a file piece by piece (AT+QFOPEN, AT+QFREAD, AT+QFCLOSE): each
    piece is one procedure, so that memory stays bounded by ``chunk_size`` and
    the module is free between pieces."""

    def __init__(self, name: str, chunk_size: int) -> None:
        self._quoted = validate.ufs_name(name)
        self._size = validate.integer("chunk_size", chunk_size, 1, MAX_READ_CHUNK)
        self._handle: int | None = None
        self.done = False

    def next_piece(self) -> Proc[bytes | None]:
        """The next piece; None (and the file closed) at its end. An error
        closes the file too."""
        if self.done:
            return None
        try:
            if self._handle is None:
                # Mode 2: open an existing file read-only (FILE AT commands manual).
                self._handle = parse_qfopen((yield from command(f"AT+QFOPEN={self._quoted},2")))
            read = f"AT+QFREAD={self._handle},{self._size}"
            reply = yield from command(read, timeout=None, idle_timeout=30)
            piece = reply.body or b""
            if reply.connect_code is not None and reply.connect_code != len(piece):
                raise ProtocolError(
                    f"QFREAD announced {reply.connect_code} bytes, sent {len(piece)}"
                )
            if len(piece) > self._size:
                raise ProtocolError(f"QFREAD sent {len(piece)} bytes, asked for {self._size}")
        except BaseException:
            yield from self.close()
            raise
        if len(piece) < self._size:
            yield from self.close()
        return piece or None

    def close(self) -> Proc[None]:
        """Close the file (once; nothing when it was never opened)."""
        self.done = True
        handle, self._handle = self._handle, None
        if handle is not None:
            yield from command(f"AT+QFCLOSE={handle}")


class Files(Api[FilesProcedures, K]):
    """The module's user file system (UFS): ``modem.files``, ``AsyncModem.files``."""

    upload = procedure(FilesProcedures.upload)
    download = procedure(FilesProcedures.download)
    list = procedure(FilesProcedures.list)
    exists = procedure(FilesProcedures.exists)
    delete = procedure(FilesProcedures.delete)
    space = procedure(FilesProcedures.space)

    @overload
    def read_chunks(
        self: Files[Blocking], name: str, chunk_size: int = READ_CHUNK
    ) -> Iterator[bytes]: ...
    @overload
    def read_chunks(
        self: Files[Awaiting], name: str, chunk_size: int = READ_CHUNK
    ) -> AsyncIterator[bytes]: ...
    def read_chunks(self, name: str, chunk_size: int = READ_CHUNK) -> Any:
        """Read a large file piece by piece (AT+QFOPEN, AT+QFREAD, AT+QFCLOSE):
        an iterator (``async for`` in the asyncio shell).

        Unlike :meth:`download`, memory stays bounded by ``chunk_size``
        (1-1048576). Arguments are checked at the call, before the first piece
        is asked for.
        """
        reader = ChunkReader(name, chunk_size)
        return self._shell.pieces(reader.next_piece, reader.close)

"""The module's UFS file system: upload, download, list, delete, and read in pieces.

Over AT+QFUPL, AT+QFDWL, AT+QFLST, AT+QFDEL, AT+QFLDS and AT+QFOPEN/QFREAD/QFCLOSE.
Every transfer is checked against the module's own checksum (:func:`checksum`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lpwa.at.fields import quote
from lpwa.errors import LpwaError, ParameterError, ProtocolError

if TYPE_CHECKING:
    from lpwa.modem import Modem

# File names longer than this are refused by the module (HTTP note 2.5, 2.7).
MAX_NAME = 80
# QFREAD piece size for read_chunks: large enough to amortise a command's round
# trip, small enough to show progress.
READ_CHUNK = 16 * 1024


class ChecksumError(LpwaError):
    """The module's size or checksum of a transfer differs from ours."""


def checksum(data: bytes) -> str:
    """The QFUPL/QFDWL checksum: XOR of big-endian 16-bit words, lowercase hex.

    An odd last byte is the high byte of a word whose low byte is 0 (design §2):
    ``checksum(b"-----BEGIN CERTIFICATE-----\\r") == "6c53"``.
    """
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


def _check_name(name: str) -> str:
    if not name or len(name) > MAX_NAME:
        raise ParameterError(f"file name must be 1-{MAX_NAME} characters: {name!r}")
    return quote(name)


class Files:
    """``modem.files``: the module's user file system (UFS)."""

    def __init__(self, modem: Modem) -> None:
        self._modem = modem

    def upload(self, name: str, data: bytes, *, timeout: int = 60) -> FileInfo:
        """Store ``data`` as ``name`` (AT+QFUPL) and verify size and checksum."""
        if not 1 <= timeout <= 65535:
            raise ParameterError(f"timeout must be 1-65535 s: {timeout}")
        reply = self._modem.command(
            f"AT+QFUPL={_check_name(name)},{len(data)},{timeout}",
            data=data,
            # The module waits up to <timeout> for the data, then answers.
            timeout=timeout + 10,
        )
        size, ck = reply.fields("+QFUPL")[:2]
        expected = checksum(data)
        if int(size) != len(data) or ck.lower() != expected:
            raise ChecksumError(
                f"upload of {name!r}: module stored {size} bytes, checksum {ck}; "
                f"sent {len(data)} bytes, checksum {expected}"
            )
        return FileInfo(name, len(data))

    def download(self, name: str) -> bytes:
        """The content of ``name`` (AT+QFDWL), verified against the module's checksum."""
        reply = self._modem.command(f"AT+QFDWL={_check_name(name)}", timeout=None, idle_timeout=30)
        body = reply.body or b""
        size, ck = reply.fields("+QFDWL")[:2]
        if int(size) != len(body) or ck.lower() != checksum(body):
            raise ChecksumError(
                f"download of {name!r}: module sent {size} bytes, checksum {ck}; "
                f"received {len(body)} bytes, checksum {checksum(body)}"
            )
        return body

    def list(self, pattern: str = "*") -> list[FileInfo]:
        """The files matching ``pattern`` (AT+QFLST)."""
        reply = self._modem.command(f"AT+QFLST={quote(pattern)}")
        return [FileInfo(f[0], int(f[1])) for f in reply.all_fields("+QFLST")]

    def exists(self, name: str) -> bool:
        """Whether a file called ``name`` is in the UFS."""
        return any(f.name == name for f in self.list(name))

    def delete(self, name: str) -> None:
        """Delete ``name`` (AT+QFDEL); ``"*"`` deletes every file."""
        self._modem.command(f"AT+QFDEL={_check_name(name)}")

    def space(self) -> tuple[int, int]:
        """(free, total) bytes of the UFS (AT+QFLDS="UFS")."""
        free, total = self._modem.command('AT+QFLDS="UFS"').fields("+QFLDS")[:2]
        return int(free), int(total)

    def read_chunks(self, name: str, chunk_size: int = READ_CHUNK) -> Iterator[bytes]:
        """Read a large file piece by piece (AT+QFOPEN, AT+QFREAD, AT+QFCLOSE).

        Unlike :meth:`download`, memory stays bounded by ``chunk_size``.
        """
        if chunk_size < 1:
            raise ParameterError("chunk_size must be positive")
        # Mode 2: open an existing file read-only (FILE AT commands manual).
        handle = self._modem.command(f"AT+QFOPEN={_check_name(name)},2").fields("+QFOPEN")[0]
        try:
            while True:
                reply = self._modem.command(
                    f"AT+QFREAD={handle},{chunk_size}", timeout=None, idle_timeout=30
                )
                piece = reply.body or b""
                if reply.connect_code is not None and reply.connect_code != len(piece):
                    raise ProtocolError(
                        f"QFREAD announced {reply.connect_code} bytes, sent {len(piece)}"
                    )
                if not piece:
                    return
                yield piece
                if len(piece) < chunk_size:
                    return
        finally:
            self._modem.command(f"AT+QFCLOSE={handle}")

"""Block1/Block2 option values (RFC 7959 section 2.2).

This module owns the NUM/M/SZX value of a Block option and its uint encoding. It
knows nothing of messages.

Building is strict: ``Block(num, more, szx)`` refuses NUM beyond 20 bits and the
reserved SZX 7. Decoding is lenient and flagged: ``Block.decode`` accepts any bytes
a peer sent and returns a value whose ``is_valid`` is False when SZX is 7 or NUM
does not fit 20 bits (a server answers such a request with 4.00 Bad Request,
RFC 7959 section 2.2), so reading a received message never raises.
"""

from __future__ import annotations

from typing import Any

from lpwa.errors import ParameterError

MAX_NUM = (1 << 20) - 1
"""NUM is at most 20 bits in the 3-byte option value (RFC 7959 section 2.2)."""

RESERVED_SZX = 7
"""SZX 7 is reserved and MUST NOT be sent (RFC 7959 section 2.2)."""


class Block:
    """A Block1/Block2 value: block number ``num``, ``more`` flag and size exponent ``szx``.

    ``size`` is ``2 ** (szx + 4)`` (16 to 1024 bytes) and ``offset`` is
    ``num * size``, the position of the block in the whole body.
    """

    __slots__ = ("more", "num", "szx")

    num: int
    more: bool
    szx: int

    def __init__(self, num: int, more: bool, szx: int) -> None:
        if not isinstance(num, int) or not 0 <= num <= MAX_NUM:
            raise ParameterError(f"block NUM must be 0..{MAX_NUM} (20 bits), got {num!r}")
        if not isinstance(szx, int) or not 0 <= szx <= 6:
            raise ParameterError(
                f"block SZX must be 0..6 (7 is reserved, RFC 7959 2.2), got {szx!r}"
            )
        _set(self, "num", num)
        _set(self, "more", bool(more))
        _set(self, "szx", szx)

    @classmethod
    def from_size(cls, num: int, more: bool, size: int) -> Block:
        """The value for a block size in bytes (a power of two, 16 to 1024)."""
        if size not in _SZX_BY_SIZE:
            raise ParameterError(f"block size must be a power of two 16..1024, got {size!r}")
        return cls(num, more, _SZX_BY_SIZE[size])

    @classmethod
    def decode(cls, data: bytes) -> Block:
        """The value of a received option; never raises (see ``is_valid``)."""
        value = int.from_bytes(data, "big")
        block = object.__new__(cls)
        _set(block, "num", value >> 4)
        _set(block, "more", bool(value & 0x08))
        _set(block, "szx", value & 0x07)
        return block

    def encode(self) -> bytes:
        """The option value: NUM, M and SZX as a minimal uint (0 to 3 bytes)."""
        value = (self.num << 4) | (0x08 if self.more else 0) | self.szx
        return value.to_bytes((value.bit_length() + 7) >> 3, "big")

    @property
    def size(self) -> int:
        """The block size in bytes, ``2 ** (szx + 4)``."""
        return 1 << (self.szx + 4)

    @property
    def offset(self) -> int:
        """The byte offset of this block in the body, ``num * size``."""
        return self.num * self.size

    @property
    def is_valid(self) -> bool:
        """False for a received value with the reserved SZX 7 or a NUM over 20 bits."""
        return self.szx != RESERVED_SZX and self.num <= MAX_NUM

    def next(self, more: bool = True) -> Block:
        """The value for the following block of the same size."""
        return Block(self.num + 1, more, self.szx)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Block is immutable (cannot set {name!r})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Block):
            return NotImplemented
        return (self.num, self.more, self.szx) == (other.num, other.more, other.szx)

    def __hash__(self) -> int:
        return hash((Block, self.num, self.more, self.szx))

    def __repr__(self) -> str:
        return f"Block(num={self.num}, more={self.more}, szx={self.szx})"

    def __str__(self) -> str:
        # The customary "NUM/M/SIZE" notation of RFC 7959's examples.
        return f"{self.num}/{int(self.more)}/{self.size}"


_set = object.__setattr__
_SZX_BY_SIZE = {1 << (szx + 4): szx for szx in range(7)}

"""The RFC 7252 section 3 message format: bytes to the six fields and back.

This module owns the byte layout only (header, token, option deltas/lengths with
their 13/14 extended forms, payload marker) and the format errors of sections 3 and
4.1. It works on plain 6-tuples ``(type, code, mid, token, options, payload)``;
``message.Message`` is such a tuple. Both directions are single passes written for
speed: the common case (nibbles below 13) stays in the loop, everything else goes
to small helpers.
"""

from __future__ import annotations

import struct
from typing import Any, Dict, List, Tuple, Union

from lpwa.coap.codes import CODES, TYPES, Type
from lpwa.coap.options import LENGTH_BOUNDS, OPTIONS, REPEATABLE
from lpwa.errors import MessageFormatError, ParameterError

VERSION = 1
"""The only protocol version (RFC 7252 section 3: Ver MUST be 1)."""

PAYLOAD_MARKER = 0xFF
"""The byte that ends the options when a payload follows (RFC 7252 section 3)."""

MAX_TOKEN_LENGTH = 8
"""TKL 9-15 are reserved (RFC 7252 section 3)."""

MAX_OPTION_LENGTH = 65804
"""The longest value the 14 form can carry: 269 + 0xFFFF (RFC 7252 section 3.1)."""

_tuple_new = tuple.__new__
_HEADER = struct.Struct("!BBH").pack
_BYTE = [bytes((i,)) for i in range(256)]
_MARKER = b"\xff"
# number -> (min length, max length, repeatable) for every registered option.
_LIMITS: Dict[int, Tuple[int, int, bool]] = {
    n: (lo, hi, n in REPEATABLE) for n, (lo, hi) in LENGTH_BOUNDS.items()
}


def decode_fields(cls: Any, data: Union[bytes, bytearray, memoryview]) -> Any:
    """The message in one datagram: its six fields as a ``cls`` (``tuple`` or a subclass).

    Raises ``MessageFormatError`` on any format error and nothing else, whatever the
    bytes; ``TypeError`` only when ``data`` is not bytes-like.
    """
    if type(data) is not bytes:
        if not isinstance(data, (bytearray, memoryview)):
            raise TypeError(f"decode needs bytes, not {type(data).__name__}")
        data = bytes(data)
    end = len(data)
    if end < 4:
        raise MessageFormatError(f"{end} bytes, shorter than the 4-byte header")
    first = data[0]
    mtype = TYPES[(first >> 4) & 3]
    mid = (data[2] << 8) | data[3]
    code = data[1]
    pos = 4 + (first & 0x0F)
    if first & 0xC0 != 0x40 or pos > 12 or pos > end or (code == 0 and end != 4):
        _header_error(first, code, end, mid, mtype)
    token = data[4:pos]
    options: List[Tuple[int, bytes]] = []
    append = options.append
    payload = b""
    number = 0
    while pos < end:
        byte = data[pos]
        pos += 1
        if byte < 0xD0 and byte & 0x0F < 13:
            number += byte >> 4
            stop = pos + (byte & 0x0F)
        elif byte == PAYLOAD_MARKER:
            if pos == end:
                # Section 3: a marker followed by a zero-length payload is an error.
                raise MessageFormatError(
                    "payload marker with an empty payload", mid=mid, type=mtype
                )
            payload = data[pos:]
            break
        else:
            number, pos, length = _extended(data, pos, end, byte, number, mid, mtype)
            stop = pos + length
        if stop > end:
            raise MessageFormatError(
                f"option {number} value truncated ({end - pos} of {stop - pos} bytes)",
                mid=mid,
                type=mtype,
            )
        append((number, data[pos:stop]))
        pos = stop
    # Numbers only grow, so checking the last one covers them all (section 3.1: 16 bits).
    if number > 0xFFFF:
        raise MessageFormatError(f"option number {number} beyond 65535", mid=mid, type=mtype)
    return _tuple_new(cls, (mtype, CODES[code], mid, token, tuple(options), payload))


def _header_error(first: int, code: int, end: int, mid: int, mtype: Type) -> None:
    if first >> 6 != VERSION:
        raise MessageFormatError(f"version {first >> 6}, not 1", mid=mid, type=mtype)
    tkl = first & 0x0F
    if tkl > MAX_TOKEN_LENGTH:
        # Section 3: TKL 9-15 MUST be processed as a message format error.
        raise MessageFormatError(f"token length {tkl} is reserved", mid=mid, type=mtype)
    if code == 0:
        # Section 4.1: an Empty message is exactly the 4-byte header.
        raise MessageFormatError("Empty message (0.00) with content", mid=mid, type=mtype)
    raise MessageFormatError(f"token shorter than TKL {tkl}", mid=mid, type=mtype)


def _extended(
    data: bytes, pos: int, end: int, byte: int, number: int, mid: int, mtype: Type
) -> Tuple[int, int, int]:
    """Read the extended delta and length that follow option header ``byte``.

    Returns (option number, position of the value, value length).
    """
    values = []
    for nibble, what in ((byte >> 4, "delta"), (byte & 0x0F, "length")):
        if nibble < 13:
            values.append(nibble)
        elif nibble == 13:
            if pos >= end:
                raise MessageFormatError(f"truncated extended option {what}", mid=mid, type=mtype)
            values.append(data[pos] + 13)
            pos += 1
        elif nibble == 14:
            if pos + 2 > end:
                raise MessageFormatError(f"truncated extended option {what}", mid=mid, type=mtype)
            values.append(((data[pos] << 8) | data[pos + 1]) + 269)
            pos += 2
        else:
            # Section 3.1: nibble 15 is reserved except in the payload marker 0xFF.
            raise MessageFormatError(f"option {what} nibble 15", mid=mid, type=mtype)
    return number + values[0], pos, values[1]


def encode_fields(fields: Tuple[Any, ...]) -> bytes:
    """The datagram for six fields; raises ``ParameterError`` if it would break RFC 7252.

    ``options`` must already be in ascending order (``Message`` guarantees it).
    """
    mtype, code, mid, token, options, payload = fields
    if code == 0 and (token or options or payload):
        raise ParameterError("an Empty message (0.00) has no token, options or payload")
    parts = [_HEADER(0x40 | (mtype << 4) | len(token), code, mid), token]
    append = parts.append
    limits_of = _LIMITS.get
    last = 0
    for number, value in options:
        length = len(value)
        limits = limits_of(number)
        if limits is not None:
            low, high, repeatable = limits
            if length < low or length > high or (number == last and not repeatable):
                _option_error(number, length, low, high)
        delta = number - last
        last = number
        if delta < 13 and length < 13:
            append(_BYTE[(delta << 4) | length])
        else:
            if length > MAX_OPTION_LENGTH:
                raise ParameterError(
                    f"option {number} value is {length} bytes, beyond {MAX_OPTION_LENGTH}"
                )
            append(_BYTE[(_nibble(delta) << 4) | _nibble(length)])
            append(_extension(delta))
            append(_extension(length))
        append(value)
    if payload:
        append(_MARKER)
        append(payload)
    return b"".join(parts)


def _option_error(number: int, length: int, low: int, high: int) -> None:
    name = OPTIONS[number].name
    if low <= length <= high:
        # RFC 7252 section 5.4.5: a non-repeatable option MUST NOT be included twice.
        raise ParameterError(f"{name} must not repeat")
    raise ParameterError(f"{name} value is {length} bytes, must be {low}..{high}")


def _nibble(value: int) -> int:
    # RFC 7252 section 3.1: 13 means one extended byte (value - 13), 14 two (value - 269).
    return value if value < 13 else 13 if value < 269 else 14


def _extension(value: int) -> bytes:
    if value < 13:
        return b""
    if value < 269:
        return _BYTE[value - 13]
    return (value - 269).to_bytes(2, "big")

"""The CoAP option registry (RFC 7252 sections 3.2, 5.4 and 5.10; RFC 7641, 7959, 7967).

This module owns what is known about each option number: its name, value format,
length bounds and whether it may repeat, plus the properties RFC 7252 section 5.4.6
derives from the number's bits (critical, unsafe, NoCacheKey), the uint value format
(section 3.2) and the lengths the BG96's ``AT+QCOAPOPTION`` accepts (the CoAP note,
Table 2). It does not touch messages or bytes on the wire.

The note's Table 2 lists 15 options, each with exactly RFC 7252 Table 4's format and
length; the note does not list Observe, Block1/Block2, Size2 or No-Response, so their
``at_min_length``/``at_max_length`` are None (``AT_OPTION_LENGTHS`` omits them).
"""

from __future__ import annotations

import enum
from typing import Dict, FrozenSet, Mapping, NamedTuple, Tuple

from lpwa.errors import ParameterError


class OptionNumber(enum.IntEnum):
    """The registered option numbers this library knows (RFC 7252 Table 4 and extensions)."""

    IF_MATCH = 1
    URI_HOST = 3
    ETAG = 4
    IF_NONE_MATCH = 5
    OBSERVE = 6
    URI_PORT = 7
    LOCATION_PATH = 8
    URI_PATH = 11
    CONTENT_FORMAT = 12
    MAX_AGE = 14
    URI_QUERY = 15
    ACCEPT = 17
    LOCATION_QUERY = 20
    BLOCK2 = 23
    BLOCK1 = 27
    SIZE2 = 28
    PROXY_URI = 35
    PROXY_SCHEME = 39
    SIZE1 = 60
    NO_RESPONSE = 258


class OptionFormat(enum.Enum):
    """Option value formats (RFC 7252 section 3.2)."""

    EMPTY = "empty"
    """A zero-length value."""
    OPAQUE = "opaque"
    """Uninterpreted bytes."""
    UINT = "uint"
    """A non-negative integer in network byte order, in as few bytes as possible."""
    STRING = "string"
    """UTF-8 text in Net-Unicode form (RFC 5198)."""


def is_critical(number: int) -> bool:
    """True when bit 0 is set: a recipient must understand the option (RFC 7252 5.4.6)."""
    return number & 0x01 == 0x01


def is_unsafe(number: int) -> bool:
    """True when bit 1 is set: a proxy must not forward it unless it understands it."""
    return number & 0x02 == 0x02


def is_no_cache_key(number: int) -> bool:
    """True when bits 1-4 are 1110: the option is not part of the cache key (5.4.6)."""
    return number & 0x1E == 0x1C


class OptionDef(NamedTuple):
    """One row of the registry.

    ``min_length``/``max_length`` are the RFCs' bounds on the value length in bytes;
    ``at_min_length``/``at_max_length`` are the note's Table 2 bounds for
    ``AT+QCOAPOPTION`` (None when the note does not list the option).
    """

    number: int
    name: str
    format: OptionFormat
    min_length: int
    max_length: int
    repeatable: bool
    reference: str
    at_min_length: int | None = None
    at_max_length: int | None = None

    @property
    def critical(self) -> bool:
        """Derived from the number (RFC 7252 section 5.4.6)."""
        return is_critical(self.number)

    @property
    def unsafe(self) -> bool:
        """Derived from the number (RFC 7252 section 5.4.6)."""
        return is_unsafe(self.number)

    @property
    def no_cache_key(self) -> bool:
        """Derived from the number (RFC 7252 section 5.4.6)."""
        return is_no_cache_key(self.number)

    @property
    def elective(self) -> bool:
        """Not critical: a recipient that does not understand it ignores it."""
        return not is_critical(self.number)


_E, _O, _U, _S = OptionFormat.EMPTY, OptionFormat.OPAQUE, OptionFormat.UINT, OptionFormat.STRING

# (number, name, format, min, max, repeatable, reference, in the note's Table 2?)
_ROWS: Tuple[Tuple[int, str, OptionFormat, int, int, bool, str, bool], ...] = (
    (1, "If-Match", _O, 0, 8, True, "RFC 7252", True),
    (3, "Uri-Host", _S, 1, 255, False, "RFC 7252", True),
    (4, "ETag", _O, 1, 8, True, "RFC 7252", True),
    (5, "If-None-Match", _E, 0, 0, False, "RFC 7252", True),
    (6, "Observe", _U, 0, 3, False, "RFC 7641", False),
    (7, "Uri-Port", _U, 0, 2, False, "RFC 7252", True),
    (8, "Location-Path", _S, 0, 255, True, "RFC 7252", True),
    (11, "Uri-Path", _S, 0, 255, True, "RFC 7252", True),
    (12, "Content-Format", _U, 0, 2, False, "RFC 7252", True),
    (14, "Max-Age", _U, 0, 4, False, "RFC 7252", True),
    (15, "Uri-Query", _S, 0, 255, True, "RFC 7252", True),
    (17, "Accept", _U, 0, 2, False, "RFC 7252", True),
    (20, "Location-Query", _S, 0, 255, True, "RFC 7252", True),
    (23, "Block2", _U, 0, 3, False, "RFC 7959", False),
    (27, "Block1", _U, 0, 3, False, "RFC 7959", False),
    (28, "Size2", _U, 0, 4, False, "RFC 7959", False),
    (35, "Proxy-Uri", _S, 1, 1034, False, "RFC 7252", True),
    (39, "Proxy-Scheme", _S, 1, 255, False, "RFC 7252", True),
    (60, "Size1", _U, 0, 4, False, "RFC 7252", True),
    (258, "No-Response", _U, 0, 1, False, "RFC 7967", False),
)

OPTIONS: Mapping[int, OptionDef] = {
    number: OptionDef(
        number,
        name,
        fmt,
        lo,
        hi,
        repeatable,
        ref,
        lo if in_note else None,
        hi if in_note else None,
    )
    for number, name, fmt, lo, hi, repeatable, ref, in_note in _ROWS
}
"""The registry: option number -> ``OptionDef``."""

OPTIONS_BY_NAME: Mapping[str, OptionDef] = {d.name: d for d in OPTIONS.values()}
"""The registry by the RFC's option name (``"Uri-Path"``)."""

AT_OPTION_LENGTHS: Mapping[int, Tuple[int, int]] = {
    d.number: (d.min_length, d.max_length) for d in OPTIONS.values() if d.at_max_length is not None
}
"""The note's Table 2: ``<opt_number>`` -> (min, max) value length accepted by AT+QCOAPOPTION."""

LENGTH_BOUNDS: Dict[int, Tuple[int, int]] = {
    d.number: (d.min_length, d.max_length) for d in OPTIONS.values()
}
"""Option number -> (min, max) value length for every known option (RFC bounds)."""

REPEATABLE: FrozenSet[int] = frozenset(d.number for d in OPTIONS.values() if d.repeatable)
"""Numbers of the options that may occur more than once."""

OBSERVE_REGISTER = 0
"""Observe value of a GET that registers an observation (RFC 7641 section 2)."""

OBSERVE_DEREGISTER = 1
"""Observe value of a GET that cancels an observation (RFC 7641 section 3.6)."""


class NoResponse(enum.IntFlag):
    """No-Response option bits: the response classes a client is not interested in
    (RFC 7967 section 2.1)."""

    SUPPRESS_2XX = 2
    SUPPRESS_4XX = 8
    SUPPRESS_5XX = 16


MAX_OPTION_NUMBER = 0xFFFF
"""Option numbers are 16-bit (RFC 7252 section 3.1)."""


def option_name(number: int) -> str:
    """The registered name, or ``"Option <n>"`` for a number this library does not know."""
    d = OPTIONS.get(number)
    return d.name if d is not None else f"Option {number}"


def encode_uint(value: int, max_length: int = 8) -> bytes:
    """A uint option value in the fewest bytes: 0 is the empty value (RFC 7252 3.2).

    Raises ``ParameterError`` for a negative value or one that needs more than
    ``max_length`` bytes.
    """
    if not isinstance(value, int) or isinstance(value, bool):
        raise ParameterError(f"uint option value must be an int, not {type(value).__name__}")
    if value < 0:
        raise ParameterError(f"uint option value must not be negative: {value}")
    length = (value.bit_length() + 7) >> 3
    if length > max_length:
        raise ParameterError(f"uint option value {value} needs {length} bytes (max {max_length})")
    return value.to_bytes(length, "big")


def decode_uint(data: bytes) -> int:
    """The integer in a uint option value; leading zero bytes are accepted (lenient)."""
    return int.from_bytes(data, "big")

"""CoAP message types and codes (RFC 7252 sections 3 and 12.1; the BG96 CoAP note, Table 3).

This module owns the two header enums. ``int(code)`` is the note's ``<code_value>``
(``c * 32 + dd``) and ``str(code)`` its ``<code>`` text (``"c.dd"``). Every 8-bit code
has a member: the registered ones by name, the others as pseudo-members created on
first use (``Code(0xFF)`` is ``CODE_7_31`` and prints ``7.31``), so a decoder never
fails on an unassigned code. It does no I/O and knows nothing of options.
"""

from __future__ import annotations

import enum
from typing import Tuple, TypeVar

E = TypeVar("E", bound=enum.IntEnum)


def pseudo_member(cls: type[E], value: int, name: str) -> E:
    """A member for a number the registry does not name, made once and kept, so
    that every value of the field still decodes to its enum (``_missing_``)."""
    member = int.__new__(cls, value)
    member._name_ = name
    member._value_ = value
    return cls._value2member_map_.setdefault(value, member)  # type: ignore[return-value]


class Type(enum.IntEnum):
    """The 2-bit message type T (RFC 7252 section 3; the note's ``<type>``)."""

    CON = 0
    """Confirmable: retransmitted until acknowledged."""
    NON = 1
    """Non-confirmable."""
    ACK = 2
    """Acknowledgement of a Confirmable message (may carry a piggybacked response)."""
    RST = 3
    """Reset: the Confirmable/Non-confirmable message could not be processed."""

    def __str__(self) -> str:
        return self.name

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


class Code(enum.IntEnum):
    """The 8-bit Code field, class (3 bits) and detail (5 bits): ``c.dd``.

    Members are the IANA "CoAP Method Codes", "CoAP Response Codes" and "CoAP
    Signaling Codes" registries (RFC 7252, 7959, 8132, 8323, 8516, 8768, 9175 and
    9177). Unassigned values are pseudo-members named ``CODE_<c>_<dd>``.
    """

    EMPTY = 0
    """0.00 Empty message (RFC 7252 section 4.1)."""
    GET = 1
    """0.01 GET."""
    POST = 2
    """0.02 POST."""
    PUT = 3
    """0.03 PUT."""
    DELETE = 4
    """0.04 DELETE."""
    FETCH = 5
    """0.05 FETCH (RFC 8132)."""
    PATCH = 6
    """0.06 PATCH (RFC 8132)."""
    IPATCH = 7
    """0.07 iPATCH (RFC 8132)."""
    iPATCH = 7
    """0.07 iPATCH, spelled as in RFC 8132 (an alias of ``IPATCH``)."""
    CREATED = 65
    """2.01 Created."""
    DELETED = 66
    """2.02 Deleted."""
    VALID = 67
    """2.03 Valid."""
    CHANGED = 68
    """2.04 Changed."""
    CONTENT = 69
    """2.05 Content."""
    CONTINUE = 95
    """2.31 Continue (RFC 7959 section 2.9.1)."""
    BAD_REQUEST = 128
    """4.00 Bad Request."""
    UNAUTHORIZED = 129
    """4.01 Unauthorized."""
    BAD_OPTION = 130
    """4.02 Bad Option: an unrecognised or malformed critical option."""
    FORBIDDEN = 131
    """4.03 Forbidden."""
    NOT_FOUND = 132
    """4.04 Not Found."""
    METHOD_NOT_ALLOWED = 133
    """4.05 Method Not Allowed."""
    NOT_ACCEPTABLE = 134
    """4.06 Not Acceptable."""
    REQUEST_ENTITY_INCOMPLETE = 136
    """4.08 Request Entity Incomplete (RFC 7959 section 2.9.2)."""
    CONFLICT = 137
    """4.09 Conflict (RFC 8132)."""
    PRECONDITION_FAILED = 140
    """4.12 Precondition Failed."""
    REQUEST_ENTITY_TOO_LARGE = 141
    """4.13 Request Entity Too Large."""
    UNSUPPORTED_CONTENT_FORMAT = 143
    """4.15 Unsupported Content-Format."""
    UNPROCESSABLE_ENTITY = 150
    """4.22 Unprocessable Entity (RFC 8132)."""
    TOO_MANY_REQUESTS = 157
    """4.29 Too Many Requests (RFC 8516)."""
    INTERNAL_SERVER_ERROR = 160
    """5.00 Internal Server Error."""
    NOT_IMPLEMENTED = 161
    """5.01 Not Implemented."""
    BAD_GATEWAY = 162
    """5.02 Bad Gateway."""
    SERVICE_UNAVAILABLE = 163
    """5.03 Service Unavailable."""
    GATEWAY_TIMEOUT = 164
    """5.04 Gateway Timeout."""
    PROXYING_NOT_SUPPORTED = 165
    """5.05 Proxying Not Supported."""
    HOP_LIMIT_REACHED = 168
    """5.08 Hop Limit Reached (RFC 8768)."""
    CSM = 225
    """7.01 Capabilities and Settings Message (RFC 8323, reliable transports only)."""
    PING = 226
    """7.02 Ping (RFC 8323)."""
    PONG = 227
    """7.03 Pong (RFC 8323)."""
    RELEASE = 228
    """7.04 Release (RFC 8323)."""
    ABORT = 229
    """7.05 Abort (RFC 8323)."""

    @classmethod
    def _missing_(cls, value: object) -> Code | None:
        # Unassigned 8-bit codes become pseudo-members so that any header decodes
        # (RFC 7252 section 12.1 leaves most of the space unassigned).
        if type(value) is not int or not 0 <= value <= 0xFF:
            return None
        return pseudo_member(cls, value, f"CODE_{value >> 5}_{value & 0x1F:02d}")

    @classmethod
    def from_string(cls, text: str) -> Code:
        """The code for the ``c.dd`` text of the note (``"2.05"`` gives ``CONTENT``).

        Raises ``ValueError`` unless ``c`` is one digit 0-7 and ``dd`` two digits 00-31.
        """
        class_, dot, detail = text.strip().partition(".")
        if (
            dot != "."
            or len(class_) != 1
            or len(detail) != 2
            or not (class_ + detail).isdigit()
            or not (class_ + detail).isascii()
        ):
            raise ValueError(f"not a CoAP code 'c.dd': {text!r}")
        c, dd = int(class_), int(detail)
        if c > 7 or dd > 31:
            raise ValueError(f"CoAP code out of range (c 0-7, dd 00-31): {text!r}")
        return cls(c * 32 + dd)

    @property
    def class_(self) -> int:
        """The 3-bit class ``c``: 0 request, 2 success, 4 client error, 5 server error."""
        return self._value_ >> 5

    @property
    def detail(self) -> int:
        """The 5-bit detail ``dd``."""
        return self._value_ & 0x1F

    @property
    def dotted(self) -> str:
        """The ``c.dd`` text (the same as ``str(code)``)."""
        return f"{self._value_ >> 5}.{self._value_ & 0x1F:02d}"

    def is_request(self) -> bool:
        """True for a method code (0.01-0.31)."""
        return 1 <= self._value_ < 32

    def is_response(self) -> bool:
        """True for a response code (classes 2 to 5)."""
        return 64 <= self._value_ < 192

    def is_successful(self) -> bool:
        """True for a success response code (class 2)."""
        return 64 <= self._value_ < 96

    def is_error(self) -> bool:
        """True for a client or server error response code (classes 4 and 5)."""
        return 128 <= self._value_ < 192

    def is_signaling(self) -> bool:
        """True for a signaling code (class 7, RFC 8323)."""
        return self._value_ >= 224

    def __str__(self) -> str:
        return f"{self._value_ >> 5}.{self._value_ & 0x1F:02d}"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


# Every code value, so that decoding indexes a tuple instead of calling the enum.
CODES: Tuple[Code, ...] = tuple(Code(value) for value in range(256))
"""``CODES[code_value]`` is the member (or pseudo-member) for each 8-bit code."""

TYPES: Tuple[Type, ...] = (Type.CON, Type.NON, Type.ACK, Type.RST)
"""``TYPES[t]`` is the member for each 2-bit type."""

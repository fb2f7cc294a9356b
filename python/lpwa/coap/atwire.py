"""How CoAP messages cross the AT link of a BG96 (AT+QCOAP*), both directions.

The one place where the CoAP note (``spec/004_*``) leaves the bytes open and we
decide. The simulator prints with these functions; the client parses more than
they print (``parse_recv``), because a real module may print otherwise.

Decisions, and what they rest on:

* ``+QCOAPRECV: <clientID>,<msgID>,<c.dd>,<TKL>,<token>,<opt_count>[,<opt_value>…],
  <payload_length>`` (note 3.4.1). ``<token>`` is uppercase hex of the token bytes,
  as the note's example prints it (``6,D204D52E814B``), empty when TKL is 0. The
  note says only that an ``<opt_value>`` is "option value, including the option
  number"; we print each as ONE field ``<number>:<HEX>``: the option number, a
  colon, the raw value bytes in uppercase hex (empty for a zero-length value).
  That is lossless for opaque values (ETag), has no commas or quotes to escape,
  and mirrors the token. The payload length is the last field and the payload's
  raw bytes follow the line's CRLF.
* Reading, we are tolerant where the note is silent: a value is hex (like the
  token) whether printed ``12:32``, ``"12:0032"``, ``12:`` or as the pair
  ``12,"32"``; ``<opt_count>`` picks the layout when it agrees with the number of
  fields; ``<code>`` may be ``c.dd`` or the ``<code_value>``. Option text that
  cannot be read is kept raw (``ReceivedMessage.unparsed_options``), never a
  failed request; the fields that identify the message (client, msgID, code,
  token, payload length) are strict, and anything malformed there is a
  ``ProtocolError``, never another exception.
* The URC carries no message type; a response whose msgID is that of our CON
  request was piggybacked on the ACK (RFC 7252 5.2.1), any other (the answer to
  a NON, a separate response, a notification) is reported as NON unless the
  caller knows better.
* ``AT+QCOAPSEND=…,<payload_length>``: the length is always given, so the payload
  is binary-safe (Ctrl-Z and Esc are data); without it (note 3.3.6) Ctrl-Z ends
  the input and Esc cancels it, which a payload containing them would break.
* ``AT+QCOAPOPTION`` values (note 3.3.5, Table 2): string options as a quoted
  string (the note's example ``11,"19"``), uint options as a decimal number
  (``12,40``), opaque options as a quoted uppercase hex string, empty options
  (If-None-Match) as ``""``. A quoted string has no escapes and the command line
  is ASCII, so a string value must be printable ASCII without ``"``; anything
  else is refused before sending (the note gives no way to carry it).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from lpwa.coap._typed import RawOption
from lpwa.coap.codes import Code, Type
from lpwa.coap.message import Message
from lpwa.coap.options import (
    AT_OPTION_LENGTHS,
    OPTIONS,
    OptionFormat,
    decode_uint,
    encode_uint,
    option_name,
)
from lpwa.errors import ParameterError, ProtocolError

log = logging.getLogger("lpwa.coap")

RECV = "+QCOAPRECV"
ACK = "+QCOAPACK"
ACK_AS_IN_EXAMPLES = "+COAPACK"  # the note's examples (5.1, 5.2) spell it so
IND = "+QCOAPIND"
OPEN = "+QCOAPOPEN"
CLOSE = "+QCOAPCLOSE"

MAX_PAYLOAD = 1024  # note 3.3.6
OPTION_INDEXES = range(8)  # note 3.3.5: <opt_index> 0-7
CLIENT_IDS = range(6)  # note 3.3.1: <clientID> 0-5
# Note Table 3: the <code_value>s AT+QCOAPSEND takes (and the only ones).
TABLE_3 = frozenset(
    {0, 1, 2, 3, 4, 65, 66, 67, 68, 69, 128, 129, 130, 131, 132, 133, 134, 140, 141, 143}
    | set(range(160, 166))
)


def format_code(code: int) -> str:
    """``c.dd`` as the URC prints it."""
    return f"{code >> 5}.{code & 0x1F:02d}"


def parse_code(text: str) -> Code:
    """``"4.04"`` → Code.NOT_FOUND (unknown codes too)."""
    cls, dot, detail = text.partition(".")
    digits = "0123456789"
    if not (dot and cls and detail and len(cls) + len(detail) <= 4) or not all(
        ch in digits for ch in cls + detail
    ):
        raise ProtocolError(f"bad CoAP code {text[:40]!r}")
    c, dd = int(cls), int(detail)
    if not (0 <= c <= 7 and 0 <= dd <= 31):
        raise ProtocolError(f"bad CoAP code {text!r}")
    return Code(c * 32 + dd)


def format_recv_urc(client_id: int, message: Message) -> tuple[bytes, bytes]:
    """The ``+QCOAPRECV`` line (without CRLFs) and the payload that follows it."""
    fields = [
        str(client_id),
        str(message.mid),
        format_code(message.code),
        str(len(message.token)),
        message.token.hex().upper(),
        str(len(message.options)),
        *(f"{number}:{value.hex().upper()}" for number, value in message.options),
        str(len(message.payload)),
    ]
    return f"{RECV}: {','.join(fields)}".encode("ascii"), message.payload


class ReceivedMessage(Message):
    """A Message as the module reported it, with what lpwa learnt on the way.

    Equal to the plain ``Message`` with the same six fields.
    """

    unparsed_options: tuple[str, ...]
    """Option text of the ``+QCOAPRECV`` line that could not be read (as printed)."""
    complete: bool
    """False for a partial resource (Block2 with more blocks, see ``CoAPIncomplete``)."""

    @classmethod
    def make(
        cls,
        type: Type | int,
        code: Code | int,
        mid: int,
        token: bytes,
        options: Iterable[RawOption],
        payload: bytes,
        unparsed_options: tuple[str, ...] = (),
        *,
        complete: bool = True,
    ) -> ReceivedMessage:
        """Build one; ProtocolError when the fields cannot make a message."""
        try:
            message = cls(type, code, mid, token, options, payload)
        except ParameterError as exc:
            raise ProtocolError(f"{RECV}: {exc}") from None
        message.unparsed_options = unparsed_options
        message.complete = complete
        return message

    def with_complete(self, complete: bool) -> ReceivedMessage:
        """The same message marked complete or not."""
        mtype, code, mid, token, options, payload = self
        return ReceivedMessage.make(
            mtype, code, mid, token, options, payload, self.unparsed_options, complete=complete
        )


@dataclass(frozen=True)
class Received:
    """A parsed ``+QCOAPRECV``: which client got which message."""

    client_id: int
    message: ReceivedMessage


_NUMBER_HEX = re.compile(r"(\d{1,5}):([0-9A-Fa-f]*)")
_HEX = re.compile(r"[0-9A-Fa-f]*")


@dataclass(frozen=True)
class _Field:
    """One comma-separated field as printed: its text without quotes, and whether quoted."""

    text: str
    quoted: bool

    @property
    def printed(self) -> str:
        return f'"{self.text}"' if self.quoted else self.text


def _split(text: str) -> list[_Field]:
    """Split at commas outside double quotes; never raises (an open quote runs to the end)."""
    fields: list[_Field] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
            current.append(ch)
        elif ch == "," and not quoted:
            fields.append(_field("".join(current)))
            current = []
        else:
            current.append(ch)
    fields.append(_field("".join(current)))
    return fields


def _field(raw: str) -> _Field:
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return _Field(raw[1:-1], True)
    return _Field(raw, False)


def uint(text: str, lo: int, hi: int, what: str) -> int:
    """A decimal field within ``lo..hi`` (ASCII digits, optional minus); ProtocolError else."""
    digits = text[1:] if text.startswith("-") else text
    if not digits or len(digits) > 12 or not all("0" <= ch <= "9" for ch in digits):
        raise ProtocolError(f"{what} must be a number, not {text[:40]!r}")
    value = int(text)
    if not lo <= value <= hi:
        raise ProtocolError(f"{what} must be {lo}-{hi}, not {value}")
    return value


def _code(text: str) -> Code:
    if "." in text:
        return parse_code(text)
    return Code(uint(text, 0, 255, "CoAP code"))  # a module that prints <code_value>


def _single(field: _Field) -> RawOption | None:
    """``12:32``, ``"12:0032"``, ``12:`` (option number, colon, value in hex)."""
    match = _NUMBER_HEX.fullmatch(field.text)
    if match is None or len(match[2]) % 2 or int(match[1]) > 0xFFFF:
        return None
    return int(match[1]), bytes.fromhex(match[2])


def _pair(number: _Field, value: _Field) -> RawOption | None:
    """``12,"32"`` or ``12,32`` (option number, then the value in hex)."""
    text = number.text
    if number.quoted or not text.isascii() or not text.isdigit() or len(text) > 5:
        return None
    if int(text) > 0xFFFF or len(value.text) % 2 or not _HEX.fullmatch(value.text):
        return None
    return int(text), bytes.fromhex(value.text)


def _options(count: int | None, region: list[_Field]) -> tuple[list[RawOption], list[str]]:
    """The options the module printed, and the text of those it could not be read from.

    ``<opt_count>`` decides the layout when it is consistent with the number of
    fields: one field per option (``<number>:<hex>``), or two (``<number>,<hex>``).
    Otherwise the fields are read one by one if every one of them is
    ``<number>:<hex>``, else all of the text is kept raw. Nothing here raises.
    """
    options: list[RawOption] = []
    raw: list[str] = []
    if count is not None and count and len(region) == 2 * count:
        for number, value in zip(region[::2], region[1::2]):
            option = _pair(number, value)
            if option is None:
                raw.append(f"{number.printed},{value.printed}")
            else:
                options.append(option)
        return options, raw
    singles = [_single(f) for f in region]
    if (count is not None and len(region) == count) or all(o is not None for o in singles):
        for field, option in zip(region, singles):
            if option is None:
                raw.append(field.printed)
            else:
                options.append(option)
        return options, raw
    return [], [",".join(f.printed for f in region)]


def parse_recv(text: str, payload: bytes, *, type: Type = Type.NON) -> Received:
    """Parse a whole ``+QCOAPRECV: …`` line (quotes as printed) and its payload.

    Strict where the message could not be identified without it (client id,
    message ID, code, token, payload length: ProtocolError); tolerant in the
    options, which are kept raw (``ReceivedMessage.unparsed_options``) when they
    cannot be read, so that option formatting never fails a request.
    """
    name, colon, rest = text.partition(":")
    if not colon or name.strip() != RECV:
        raise ProtocolError(f"not a {RECV} line: {text[:60]!r}")
    return _parse_recv(_split(rest), payload, type)


def parse_recv_urc(params: list[str], payload: bytes, *, type: Type = Type.NON) -> Received:
    """Parse the fields of ``+QCOAPRECV`` (already split, quotes removed) and its payload."""
    if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
        raise ProtocolError(f"bad {RECV} fields {params!r}")
    return _parse_recv([_Field(p.strip(), False) for p in params], payload, type)


def _parse_recv(fields: list[_Field], payload: bytes, type: Type) -> Received:
    # <clientID>,<msgID>,<code>,<TKL>,<token>,<opt_count>[,<opt_value>...],<payload_length>
    if len(fields) < 6:
        raise ProtocolError(f"{RECV}: {len(fields)} fields, at least 6 expected")
    client_id = uint(fields[0].text, 0, 5, f"{RECV} <clientID>")
    mid = uint(fields[1].text, 0, 0xFFFF, f"{RECV} <msgID>")
    code = _code(fields[2].text)
    tkl = uint(fields[3].text, 0, 8, f"{RECV} <TKL>")
    token_text = fields[4].text
    if len(token_text) != 2 * tkl or not _HEX.fullmatch(token_text):
        raise ProtocolError(f"{RECV}: TKL {tkl} but token {token_text[:40]!r}")
    token = bytes.fromhex(token_text)
    length = uint(fields[-1].text, 0, 1 << 40, f"{RECV} <payload_length>")
    if length != len(payload):
        raise ProtocolError(f"{RECV}: length {length} but {len(payload)} payload bytes")
    options: list[RawOption] = []
    unparsed: list[str] = []
    if len(fields) > 6:  # six fields: no <opt_count> printed at all
        try:
            count: int | None = uint(fields[5].text, 0, 0xFFFF, "<opt_count>")
        except ProtocolError:
            count = None
        options, unparsed = _options(count, fields[6:-1])
        if count is None:
            unparsed.insert(0, fields[5].printed)
    if unparsed:
        log.debug("%s: option text kept raw: %r", RECV, unparsed)
    message = ReceivedMessage.make(type, code, mid, token, options, payload, tuple(unparsed))
    return Received(client_id, message)


@dataclass(frozen=True)
class Delivery:
    """``+QCOAPACK: <clientID>,<type>,<msgID>,<result>`` (note 3.4.2)."""

    client_id: int
    type: Type
    mid: int
    result: int


@dataclass(frozen=True)
class Retransmission:
    """``+QCOAPIND: <clientID>,<type>,<msgID>,<retry_times>,<result>`` (note 3.4.3)."""

    client_id: int
    type: Type
    mid: int
    retry_times: int
    result: int


def _ints(name: str, params: list[str], what: tuple[str, ...]) -> list[int]:
    if not isinstance(params, list) or len(params) != len(what):
        raise ProtocolError(f"bad {name} fields {params!r}: {len(what)} expected")
    bounds = {
        "<clientID>": (0, 5),
        "<type>": (0, 3),
        "<msgID>": (0, 0xFFFF),
        "<retry_times>": (0, 0xFFFF),
        "<result>": (-0xFFFF, 0),
    }
    out = []
    for field, label in zip(params, what):
        if not isinstance(field, str):
            raise ProtocolError(f"bad {name} fields {params!r}")
        lo, hi = bounds[label]
        out.append(uint(field.strip(), lo, hi, f"{name} {label}"))
    return out


def parse_ack(params: list[str]) -> Delivery:
    """Parse the fields of ``+QCOAPACK`` (or the examples' ``+COAPACK``); ProtocolError."""
    client_id, mtype, mid, result = _ints(
        ACK, params, ("<clientID>", "<type>", "<msgID>", "<result>")
    )
    return Delivery(client_id, Type(mtype), mid, result)


def parse_ind(params: list[str]) -> Retransmission:
    """Parse the fields of ``+QCOAPIND``; ProtocolError when malformed."""
    client_id, mtype, mid, retries, result = _ints(
        IND, params, ("<clientID>", "<type>", "<msgID>", "<retry_times>", "<result>")
    )
    return Retransmission(client_id, Type(mtype), mid, retries, result)


@dataclass(frozen=True)
class SessionResult:
    """``+QCOAPOPEN: <clientID>,<result>`` or ``+QCOAPCLOSE: <clientID>,<result>``."""

    client_id: int
    result: int


def parse_session_result(name: str, params: list[str]) -> SessionResult:
    """Parse the fields of ``+QCOAPOPEN``/``+QCOAPCLOSE`` (3.3.2, 3.3.3); ProtocolError."""
    client_id, result = _ints(name, params, ("<clientID>", "<result>"))
    return SessionResult(client_id, result)


def format_option_value(number: int, value: bytes) -> str:
    """The ``<opt_value>`` text of AT+QCOAPOPTION for a raw option value.

    Refuses options the note's Table 2 does not list and values outside its
    lengths, before anything is sent.
    """
    bounds = AT_OPTION_LENGTHS.get(number)
    if bounds is None:
        listed = ", ".join(f"{n} {option_name(n)}" for n in AT_OPTION_LENGTHS)
        raise ParameterError(
            f"option {number} ({option_name(number)}) is not one the module takes: {listed}"
        )
    lo, hi = bounds
    name = option_name(number)
    if not lo <= len(value) <= hi:
        raise ParameterError(f"{name} value must be {lo}-{hi} bytes, not {len(value)}")
    fmt = OPTIONS[number].format
    if fmt is OptionFormat.UINT:
        return str(decode_uint(value))
    if fmt is OptionFormat.STRING:
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            raise ParameterError(f"{name} value must be UTF-8 text") from None
        if not all(" " <= ch <= "~" and ch != '"' for ch in text):
            raise ParameterError(
                f"{name} value {text!r} cannot be sent over AT: printable ASCII only, no '\"'"
            )
        return f'"{text}"'
    if fmt is OptionFormat.EMPTY:
        return '""'
    return f'"{value.hex().upper()}"'


def parse_option_value(number: int, text: str) -> bytes:
    """The raw option value from an AT+QCOAPOPTION ``<opt_value>`` (quotes removed)."""
    bounds = AT_OPTION_LENGTHS.get(number)
    if bounds is None:
        raise ParameterError(f"option {number} is not in the note's Table 2")
    fmt = OPTIONS[number].format
    try:
        if fmt is OptionFormat.UINT:
            if not (text.isascii() and text.isdigit()):
                raise ParameterError(f"{option_name(number)} takes a decimal number, not {text!r}")
            value = encode_uint(int(text), bounds[1])
        elif fmt is OptionFormat.STRING:
            value = text.encode("utf-8")
        elif fmt is OptionFormat.EMPTY:
            if text:  # If-None-Match carries nothing (Table 2: length 0)
                raise ParameterError(f"{option_name(number)} takes no value, not {text!r}")
            value = b""
        else:
            value = bytes.fromhex(text)
    except ValueError as exc:
        raise ParameterError(f"bad {option_name(number)} value {text!r}: {exc}") from None
    lo, hi = bounds
    if not lo <= len(value) <= hi:
        raise ParameterError(
            f"{option_name(number)} value must be {lo}-{hi} bytes, not {len(value)}"
        )
    return value

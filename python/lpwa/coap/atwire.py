"""How CoAP messages cross the AT link of a BG96 (AT+QCOAP*), both directions.

The one place where the CoAP note (``spec/004_*``) leaves the bytes open and we
decide; the simulator prints with these functions and the client parses with them,
so the two cannot drift apart.

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

from dataclasses import dataclass

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

RECV = "+QCOAPRECV"
ACK = "+QCOAPACK"
ACK_AS_IN_EXAMPLES = "+COAPACK"  # the note's examples (5.1, 5.2) spell it so
IND = "+QCOAPIND"
OPEN = "+QCOAPOPEN"
CLOSE = "+QCOAPCLOSE"

MAX_PAYLOAD = 1024  # note 3.3.6
OPTION_INDEXES = range(8)  # note 3.3.5: <opt_index> 0-7
CLIENT_IDS = range(6)  # note 3.3.1: <clientID> 0-5


def format_code(code: int) -> str:
    """``c.dd`` as the URC prints it."""
    return f"{code >> 5}.{code & 0x1F:02d}"


def parse_code(text: str) -> Code:
    """``"4.04"`` → Code.NOT_FOUND (unknown codes too)."""
    cls, dot, detail = text.partition(".")
    if not dot or not cls.isdigit() or not detail.isdigit():
        raise ProtocolError(f"bad CoAP code {text!r}")
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


@dataclass(frozen=True)
class Received:
    """A parsed ``+QCOAPRECV``: which client got which message."""

    client_id: int
    message: Message


def parse_recv_urc(params: list[str], payload: bytes, *, type: Type = Type.NON) -> Received:
    """Parse the fields of ``+QCOAPRECV`` (after ``+QCOAPRECV:``) and its payload."""
    try:
        client_id, mid = int(params[0]), int(params[1])
        code = parse_code(params[2])
        tkl = int(params[3])
        token = bytes.fromhex(params[4])
        count = int(params[5])
        if len(params) != 7 + count:
            raise ProtocolError(f"{count} options announced, {len(params) - 7} printed")
        options = []
        for text in params[6 : 6 + count]:
            number, colon, value = text.partition(":")
            if not colon:
                raise ProtocolError(f"option {text!r} is not <number>:<hex>")
            options.append((int(number), bytes.fromhex(value)))
        length = int(params[-1])
    except (IndexError, ValueError) as exc:
        raise ProtocolError(f"bad {RECV} fields {params!r}: {exc}") from None
    if tkl != len(token):
        raise ProtocolError(f"{RECV}: TKL {tkl} but a {len(token)}-byte token")
    if length != len(payload):
        raise ProtocolError(f"{RECV}: length {length} but {len(payload)} payload bytes")
    try:
        message = Message(type, code, mid, token, options, payload)
    except ParameterError as exc:
        raise ProtocolError(f"{RECV}: {exc}") from None
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


def parse_ack(params: list[str]) -> Delivery:
    """Parse the fields of ``+QCOAPACK`` (or the examples' ``+COAPACK``)."""
    try:
        client_id, mtype, mid, result = (int(p) for p in params)
        return Delivery(client_id, Type(mtype), mid, result)
    except ValueError as exc:
        raise ProtocolError(f"bad {ACK} fields {params!r}: {exc}") from None


def parse_ind(params: list[str]) -> Retransmission:
    """Parse the fields of ``+QCOAPIND``."""
    try:
        client_id, mtype, mid, retries, result = (int(p) for p in params)
        return Retransmission(client_id, Type(mtype), mid, retries, result)
    except ValueError as exc:
        raise ProtocolError(f"bad {IND} fields {params!r}: {exc}") from None


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
            if not text.isdigit():
                raise ParameterError(f"{option_name(number)} takes a decimal number, not {text!r}")
            value = encode_uint(int(text), bounds[1])
        elif fmt is OptionFormat.STRING:
            value = text.encode("utf-8")
        elif fmt is OptionFormat.EMPTY:
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

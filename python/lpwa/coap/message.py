"""The CoAP message and its wire format (RFC 7252 sections 3 and 4.1).

This module owns ``Message``: a frozen value made of the six header/body fields, one
symmetric pair ``Message.decode(bytes)`` / ``msg.encode()``, and request/response
constructors. Typed option views come from ``_typed.OptionViews``; what is known about
each option number comes from ``options``. It does no I/O.

Option order. ``Message.options`` is a tuple of ``(number, value_bytes)`` sorted by
number when the message is built; the sort is stable, so repeated options keep their
relative order. The wire needs ascending numbers (deltas, RFC 7252 section 3.1) and a
decoded message is already in that order, so ``Message.decode(m.encode()) == m``
for every message ``m`` that encodes, and ``decode(b).encode() == b`` for every
datagram ``b`` whose options are all within the registry's length bounds.

Strictness. ``decode`` raises ``MessageFormatError`` for every section 3/4.1 format
error and nothing else, whatever the bytes; the error carries ``mid`` and ``type``
whenever the 4-byte header was there. It does not judge option semantics: unknown
options, out-of-bounds lengths and repeated non-repeatable options decode, and
``unrecognized_critical()`` reports the critical ones (section 5.4.1). ``encode`` and
the constructors raise ``ParameterError`` for anything that would not be a valid
datagram: a field out of range, a token over 8 bytes, a known option whose length is
out of bounds or that repeats when it may not, an Empty message with content.
"""

from __future__ import annotations

from typing import Any, Iterable, List, Sequence, Tuple, Union

from lpwa.coap._block import Block
from lpwa.coap._typed import OptionViews, PathLike, RawOption, build_options
from lpwa.coap.codes import CODES, TYPES, Code, Type
from lpwa.coap.options import LENGTH_BOUNDS, OPTIONS, REPEATABLE, OptionFormat, option_name
from lpwa.errors import MessageFormatError, ParameterError

BytesLike = Union[bytes, bytearray, memoryview]
"""What ``decode`` and the byte fields accept."""

VERSION = 1
"""The only protocol version (RFC 7252 section 3: Ver MUST be 1)."""

PAYLOAD_MARKER = 0xFF
"""The byte that ends the options when a payload follows (RFC 7252 section 3)."""

MAX_TOKEN_LENGTH = 8
"""TKL 9-15 are reserved (RFC 7252 section 3)."""

MAX_OPTION_LENGTH = 65804
"""The longest value the 14 form can carry: 269 + 0xFFFF (RFC 7252 section 3.1)."""

_set = object.__setattr__
_new = object.__new__
_BOUNDS = LENGTH_BOUNDS
_REPEATABLE = REPEATABLE
_FIELDS = ("type", "code", "mid", "token", "options", "payload")


def _as_bytes(value: object, what: str) -> bytes:
    if type(value) is bytes:
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise ParameterError(f"{what} must be bytes, not {type(value).__name__}")


def _number_key(option: RawOption) -> int:
    return option[0]


class Message(OptionViews):
    """A CoAP message: ``Message(type, code, mid, token=b"", options=(), payload=b"")``.

    ``type`` is a ``Type``, ``code`` a ``Code`` (ints are accepted and converted),
    ``mid`` the 16-bit Message ID, ``token`` 0-8 bytes, ``options`` an iterable of
    ``(number, value_bytes)`` pairs (stored as a tuple sorted by number, repeated
    options in their given order) and ``payload`` bytes. Messages are immutable,
    hashable and compare by value; ``replace()`` makes a changed copy.
    """

    __slots__ = _FIELDS

    type: Type
    code: Code
    mid: int
    token: bytes
    options: Tuple[RawOption, ...]
    payload: bytes

    def __init__(
        self,
        type: Union[Type, int],
        code: Union[Code, int],
        mid: int,
        token: BytesLike = b"",
        options: Iterable[Tuple[int, BytesLike]] = (),
        payload: BytesLike = b"",
    ) -> None:
        if not isinstance(type, int) or not 0 <= type <= 3:
            raise ParameterError(f"message type must be 0..3 (CON/NON/ACK/RST), got {type!r}")
        if not isinstance(code, int) or not 0 <= code <= 0xFF:
            raise ParameterError(f"code must be 0..255 (c*32+dd), got {code!r}")
        if not isinstance(mid, int) or not 0 <= mid <= 0xFFFF:
            raise ParameterError(f"message ID must be 0..65535, got {mid!r}")
        token = _as_bytes(token, "token")
        if len(token) > MAX_TOKEN_LENGTH:
            raise ParameterError(f"token must be 0..8 bytes, got {len(token)}")
        raw: List[RawOption] = []
        for option in options:
            try:
                number, value = option
            except (TypeError, ValueError):
                raise ParameterError(
                    f"an option is a (number, bytes) pair, not {option!r}"
                ) from None
            if not isinstance(number, int) or not 0 <= number <= 0xFFFF:
                raise ParameterError(f"option number must be 0..65535, got {number!r}")
            raw.append((int(number), _as_bytes(value, f"{option_name(number)} value")))
        raw.sort(key=_number_key)  # stable: repeated options keep their order
        _set(self, "type", TYPES[type])
        _set(self, "code", CODES[code])
        _set(self, "mid", int(mid))
        _set(self, "token", token)
        _set(self, "options", tuple(raw))
        _set(self, "payload", _as_bytes(payload, "payload"))

    # -- construction helpers -------------------------------------------------------

    @classmethod
    def request(
        cls,
        code: Union[Code, int],
        uri_path: PathLike | None = None,
        *,
        type: Union[Type, int] = Type.CON,
        mid: int = 0,
        token: BytesLike = b"",
        payload: BytesLike = b"",
        options: Iterable[Tuple[int, BytesLike]] = (),
        uri_host: str | None = None,
        uri_port: int | None = None,
        uri_query: PathLike | None = None,
        content_format: int | None = None,
        accept: int | None = None,
        observe: int | None = None,
        block1: Block | None = None,
        block2: Block | None = None,
        size1: int | None = None,
        size2: int | None = None,
        etag: Union[bytes, Sequence[bytes], None] = None,
        if_match: Sequence[bytes] | None = None,
        if_none_match: bool = False,
        proxy_uri: str | None = None,
        proxy_scheme: str | None = None,
        no_response: int | None = None,
    ) -> Message:
        """A request, its options given by name.

        ``Message.request(Code.GET, "sensors/temp", mid=7, token=b"\\x01", accept=50)``.
        ``uri_path`` ``"a/b"`` (or ``["a", "b"]``) gives two Uri-Path options,
        ``uri_query`` ``"x=1&y"`` two Uri-Query options; ``options`` adds raw pairs.
        """
        typed = build_options(
            uri_host=uri_host,
            uri_port=uri_port,
            uri_path=uri_path,
            uri_query=uri_query,
            content_format=content_format,
            accept=accept,
            observe=observe,
            block1=block1,
            block2=block2,
            size1=size1,
            size2=size2,
            etag=etag,
            if_match=if_match,
            if_none_match=if_none_match,
            proxy_uri=proxy_uri,
            proxy_scheme=proxy_scheme,
            no_response=no_response,
        )
        return cls(type, code, mid, token, [*typed, *options], payload)

    @classmethod
    def response(
        cls,
        request: Message,
        code: Union[Code, int],
        *,
        type: Union[Type, int] = Type.ACK,
        mid: int | None = None,
        payload: BytesLike = b"",
        options: Iterable[Tuple[int, BytesLike]] = (),
        content_format: int | None = None,
        max_age: int | None = None,
        etag: bytes | None = None,
        location_path: PathLike | None = None,
        location_query: PathLike | None = None,
        observe: int | None = None,
        block1: Block | None = None,
        block2: Block | None = None,
        size1: int | None = None,
        size2: int | None = None,
    ) -> Message:
        """A response to ``request`` carrying its token (RFC 7252 section 5.3.2).

        By default it is piggybacked in an ACK with the request's Message ID
        (section 5.2.1); for a separate CON/NON response pass ``type`` and a new
        ``mid``.
        """
        if mid is None:
            if type != Type.ACK:
                raise ParameterError("a separate (CON/NON) response needs its own mid")
            mid = request.mid
        typed = build_options(
            content_format=content_format,
            max_age=max_age,
            etag=etag,
            location_path=location_path,
            location_query=location_query,
            observe=observe,
            block1=block1,
            block2=block2,
            size1=size1,
            size2=size2,
        )
        return cls(type, code, mid, request.token, [*typed, *options], payload)

    @classmethod
    def empty_ack(cls, message: Message) -> Message:
        """The Empty ACK that acknowledges ``message`` (RFC 7252 section 4.2)."""
        return cls(Type.ACK, Code.EMPTY, message.mid)

    @classmethod
    def reset(cls, message_or_mid: Union[Message, int]) -> Message:
        """The Empty RST that rejects a message, or the message with this mid (4.2)."""
        mid = message_or_mid if isinstance(message_or_mid, int) else message_or_mid.mid
        return cls(Type.RST, Code.EMPTY, mid)

    @classmethod
    def ping(cls, mid: int) -> Message:
        """A CoAP ping: an Empty CON, answered by RST (RFC 7252 section 4.3)."""
        return cls(Type.CON, Code.EMPTY, mid)

    def replace(self, **changes: Any) -> Message:
        """A copy with some of the six fields changed (validated like the constructor)."""
        unknown = set(changes) - set(_FIELDS)
        if unknown:
            raise ParameterError(f"Message has no field(s) {sorted(unknown)}")
        fields = {name: getattr(self, name) for name in _FIELDS}
        fields.update(changes)
        return Message(**fields)

    # -- wire format ----------------------------------------------------------------

    @classmethod
    def decode(cls, data: BytesLike) -> Message:
        """The message in one datagram; raises ``MessageFormatError`` for any format error.

        Raises ``TypeError`` only when ``data`` is not bytes-like.
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
        if first >> 6 != VERSION:
            raise MessageFormatError(f"version {first >> 6}, not 1", mid=mid, type=mtype)
        tkl = first & 0x0F
        code = data[1]
        if tkl > MAX_TOKEN_LENGTH:
            # RFC 7252 section 3: TKL 9-15 MUST be processed as a format error.
            raise MessageFormatError(f"token length {tkl} is reserved", mid=mid, type=mtype)
        pos = 4 + tkl
        if code == 0 and end != 4:
            # Section 4.1: an Empty message is exactly the 4-byte header.
            raise MessageFormatError("Empty message (0.00) with content", mid=mid, type=mtype)
        if pos > end:
            raise MessageFormatError(f"token shorter than TKL {tkl}", mid=mid, type=mtype)
        token = data[4:pos]
        options: List[RawOption] = []
        append = options.append
        payload = b""
        number = 0
        while pos < end:
            byte = data[pos]
            pos += 1
            if byte == PAYLOAD_MARKER:
                if pos == end:
                    # Section 3: a marker followed by a zero-length payload is an error.
                    raise MessageFormatError(
                        "payload marker with an empty payload", mid=mid, type=mtype
                    )
                payload = data[pos:]
                break
            delta = byte >> 4
            length = byte & 0x0F
            if delta > 12:
                if delta == 13:
                    if pos >= end:
                        raise MessageFormatError(
                            "truncated extended option delta", mid=mid, type=mtype
                        )
                    delta = data[pos] + 13
                    pos += 1
                elif delta == 14:
                    if pos + 2 > end:
                        raise MessageFormatError(
                            "truncated extended option delta", mid=mid, type=mtype
                        )
                    delta = ((data[pos] << 8) | data[pos + 1]) + 269
                    pos += 2
                else:
                    # Section 3.1: nibble 15 outside the payload marker is reserved.
                    raise MessageFormatError("option delta nibble 15", mid=mid, type=mtype)
            if length > 12:
                if length == 13:
                    if pos >= end:
                        raise MessageFormatError(
                            "truncated extended option length", mid=mid, type=mtype
                        )
                    length = data[pos] + 13
                    pos += 1
                elif length == 14:
                    if pos + 2 > end:
                        raise MessageFormatError(
                            "truncated extended option length", mid=mid, type=mtype
                        )
                    length = ((data[pos] << 8) | data[pos + 1]) + 269
                    pos += 2
                else:
                    raise MessageFormatError("option length nibble 15", mid=mid, type=mtype)
            number += delta
            if number > 0xFFFF:
                raise MessageFormatError(
                    f"option number {number} beyond 65535", mid=mid, type=mtype
                )
            stop = pos + length
            if stop > end:
                raise MessageFormatError(
                    f"option {number} value truncated ({end - pos} of {length} bytes)",
                    mid=mid,
                    type=mtype,
                )
            append((number, data[pos:stop]))
            pos = stop
        message = _new(cls)
        _set(message, "type", mtype)
        _set(message, "code", CODES[code])
        _set(message, "mid", mid)
        _set(message, "token", token)
        _set(message, "options", tuple(options))
        _set(message, "payload", payload)
        return message

    def encode(self) -> bytes:
        """The datagram; raises ``ParameterError`` if it would break RFC 7252."""
        token = self.token
        options = self.options
        payload = self.payload
        mid = self.mid
        if self.code == 0 and (token or options or payload):
            raise ParameterError("an Empty message (0.00) has no token, options or payload")
        out = bytearray((0x40 | (self.type << 4) | len(token), self.code, mid >> 8, mid & 0xFF))
        out += token
        last = 0
        bounds_of = _BOUNDS.get
        for number, value in options:
            length = len(value)
            bounds = bounds_of(number)
            if bounds is not None:
                if not bounds[0] <= length <= bounds[1]:
                    raise ParameterError(
                        f"{OPTIONS[number].name} value is {length} bytes, "
                        f"must be {bounds[0]}..{bounds[1]}"
                    )
                if number == last and number not in _REPEATABLE:
                    raise ParameterError(f"{OPTIONS[number].name} must not repeat")
            delta = number - last
            last = number
            if delta < 13 and length < 13:
                out.append((delta << 4) | length)
            else:
                if length > MAX_OPTION_LENGTH:
                    raise ParameterError(
                        f"option {number} value is {length} bytes, beyond {MAX_OPTION_LENGTH}"
                    )
                out.append((_nibble(delta) << 4) | _nibble(length))
                _extend(out, delta)
                _extend(out, length)
            out += value
        if payload:
            out.append(PAYLOAD_MARKER)
            out += payload
        return bytes(out)

    # -- value semantics ------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Message is immutable (use replace() to change {name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Message is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return (
            self.mid == other.mid
            and self.type == other.type
            and self.code == other.code
            and self.token == other.token
            and self.options == other.options
            and self.payload == other.payload
        )

    def __hash__(self) -> int:
        return hash((self.type, self.code, self.mid, self.token, self.options, self.payload))

    def __reduce__(self) -> Tuple[Any, ...]:
        return (Message, (self.type, self.code, self.mid, self.token, self.options, self.payload))

    def __repr__(self) -> str:
        code = self.code
        if code.name.startswith("CODE_"):
            label = str(code)
        elif code < 32:
            label = code.name
        else:
            label = f"{code} {code.name}"
        text = [f"<Message {self.type.name}", label]
        text.append(f"mid={self.mid}")
        if self.token:
            text.append(f"token={self.token.hex()}")
        path = self.uri_path
        query = self.uri_query
        if path or query:
            text.append("/" + "/".join(path) + ("?" + "&".join(query) if query else ""))
        for number, value in self.options:
            if number in (11, 15):
                continue
            text.append(_describe(number, value))
        if self.payload:
            text.append(f"payload={len(self.payload)}B")
        return " ".join(text) + ">"


def _nibble(value: int) -> int:
    # RFC 7252 section 3.1: 13 means one extended byte (value - 13), 14 two (value - 269).
    return value if value < 13 else 13 if value < 269 else 14


def _extend(out: bytearray, value: int) -> None:
    if value >= 269:
        value -= 269
        out.append(value >> 8)
        out.append(value & 0xFF)
    elif value >= 13:
        out.append(value - 13)


def _describe(number: int, value: bytes) -> str:
    definition = OPTIONS.get(number)
    if definition is None:
        return f"Option{number}:{value.hex()}"
    name = definition.name
    fmt = definition.format
    if number in (23, 27):
        return f"{name}:{Block.decode(value)}"
    if fmt is OptionFormat.UINT:
        return f"{name}:{int.from_bytes(value, 'big')}"
    if fmt is OptionFormat.STRING:
        return f"{name}:{value.decode('utf-8', 'replace')}"
    if fmt is OptionFormat.EMPTY:
        return name
    return f"{name}:{value.hex()}"

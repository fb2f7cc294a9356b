"""The CoAP message and its wire format (RFC 7252 sections 3 and 4.1).

This module owns ``Message``: an immutable tuple of the six header/body fields, one
symmetric pair ``Message.decode(bytes)`` / ``msg.encode()``, and request/response
constructors. Typed option views come from ``_typed.OptionViews``; what is known about
each option number comes from ``options``. It does no I/O.

Option order. ``Message.options`` is a tuple of ``(number, value_bytes)`` sorted by
number when the message is built; the sort is stable, so repeated options keep their
relative order. The wire needs ascending numbers (deltas, RFC 7252 section 3.1) and a
decoded message is already in that order, so ``Message.decode(m.encode()) == m``
for every message ``m`` that encodes, and ``decode(b).encode() == b`` for every
datagram ``b`` whose known options are within the registry's length bounds and do not
repeat when they may not (the wire format has exactly one encoding per message).

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

from operator import itemgetter
from typing import TYPE_CHECKING, Any, Iterable, List, Sequence, Tuple, Union

from lpwa.coap._block import Block
from lpwa.coap._typed import OptionViews, PathLike, RawOption, build_options
from lpwa.coap._wire import (
    MAX_TOKEN_LENGTH,
    decode_fields,
    encode_fields,
)
from lpwa.coap.codes import CODES, TYPES, Code, Type
from lpwa.coap.options import LENGTH_BOUNDS, OPTIONS, REPEATABLE, OptionFormat, option_name
from lpwa.errors import ParameterError

BytesLike = Union[bytes, bytearray, memoryview]
"""What ``decode`` and the byte fields accept."""

_tuple_new = tuple.__new__
_tuple_eq = tuple.__eq__
_field = itemgetter
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


class Message(OptionViews, Tuple[Any, ...]):
    """A CoAP message: ``Message(type, code, mid, token=b"", options=(), payload=b"")``.

    ``type`` is a ``Type``, ``code`` a ``Code`` (ints are accepted and converted),
    ``mid`` the 16-bit Message ID, ``token`` 0-8 bytes, ``options`` an iterable of
    ``(number, value_bytes)`` pairs (stored as a tuple sorted by number, repeated
    options in their given order) and ``payload`` bytes.

    Like a named tuple, a message is an immutable tuple of those six fields (so
    ``mtype, code, mid, token, options, payload = msg`` works); it is hashable and
    equal only to another ``Message`` with the same fields. ``replace()`` makes a
    changed copy.
    """

    __slots__ = ()

    if TYPE_CHECKING:

        @property
        def type(self) -> Type: ...
        @property
        def code(self) -> Code: ...
        @property
        def mid(self) -> int: ...
        @property
        def token(self) -> bytes: ...
        @property
        def options(self) -> Tuple[RawOption, ...]: ...
        @property
        def payload(self) -> bytes: ...

    else:
        type = property(_field(0), doc="The message type T (``Type``).")
        code = property(_field(1), doc="The Code field (``Code``): ``int()`` is c*32+dd.")
        mid = property(_field(2), doc="The 16-bit Message ID.")
        token = property(_field(3), doc="The token, 0 to 8 bytes.")
        options = property(
            _field(4), doc="The options: a tuple of (number, value bytes), ascending by number."
        )
        payload = property(_field(5), doc="The payload bytes (empty when there is none).")

    def __new__(
        cls,
        type: Union[Type, int],
        code: Union[Code, int],
        mid: int,
        token: BytesLike = b"",
        options: Iterable[Tuple[int, BytesLike]] = (),
        payload: BytesLike = b"",
    ) -> Message:
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
        fields = (
            TYPES[type],
            CODES[code],
            int(mid),
            token,
            tuple(raw),
            _as_bytes(payload, "payload"),
        )
        return _tuple_new(cls, fields)

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

    if TYPE_CHECKING:

        @classmethod
        def decode(cls, data: BytesLike) -> Message:
            """The message in one datagram; raises ``MessageFormatError`` on a format error.

            Nothing else escapes, whatever the bytes; ``TypeError`` is raised only when
            ``data`` is not bytes-like.
            """
            ...

    else:
        decode = classmethod(decode_fields)

    if TYPE_CHECKING:

        def encode(self) -> bytes:
            """The datagram; raises ``ParameterError`` if it would break RFC 7252."""
            ...

    else:
        encode = encode_fields

    # -- value semantics ------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return _tuple_eq(self, other)

    def __ne__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return not _tuple_eq(self, other)

    __hash__ = tuple.__hash__

    def __reduce__(self) -> Tuple[Any, ...]:
        return (Message, tuple(self))

    def __getnewargs__(self) -> Tuple[Any, ...]:
        return tuple(self)

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

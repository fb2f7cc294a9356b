"""Typed option values: read-only views over raw options, and the keyword builder.

This module owns the translation between a message's raw ``(number, bytes)`` options
and Python values (str, int, bytes, ``Block``). It does not parse or write the wire
format (``message.py`` does).

Reading follows RFC 7252 section 5.4: a value whose length is outside the registry's
bounds is treated like an unrecognised option (section 5.4.3), so its view reads as
absent; for a non-repeatable option only the first occurrence counts (section 5.4.5).
Views never raise: uint values accept leading zero bytes, string values with invalid
UTF-8 are decoded with U+FFFD replacement characters (the exact bytes stay in
``Message.options``), and Block values are decoded leniently (``Block.is_valid``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, List, Sequence, Tuple, Union

from lpwa.coap._block import Block
from lpwa.coap.formats import ContentFormat
from lpwa.coap.options import LENGTH_BOUNDS, OPTIONS, REPEATABLE, encode_uint
from lpwa.errors import ParameterError

RawOption = Tuple[int, bytes]
"""One option as on the wire: (option number, value bytes)."""

_IF_MATCH = 1
_URI_HOST = 3
_ETAG = 4
_IF_NONE_MATCH = 5
_OBSERVE = 6
_URI_PORT = 7
_LOCATION_PATH = 8
_URI_PATH = 11
_CONTENT_FORMAT = 12
_MAX_AGE = 14
_URI_QUERY = 15
_ACCEPT = 17
_LOCATION_QUERY = 20
_BLOCK2 = 23
_BLOCK1 = 27
_SIZE2 = 28
_PROXY_URI = 35
_PROXY_SCHEME = 39
_SIZE1 = 60
_NO_RESPONSE = 258


def _in_bounds(number: int, value: bytes) -> bool:
    lo, hi = LENGTH_BOUNDS[number]
    return lo <= len(value) <= hi


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace")


class OptionViews:
    """Read-only typed properties over ``self.options`` (mixed into ``Message``)."""

    __slots__ = ()

    if TYPE_CHECKING:

        @property
        def options(self) -> Tuple[RawOption, ...]: ...

    def option_values(self, number: int) -> List[bytes]:
        """The raw values of every occurrence of option ``number``, in order."""
        return [value for n, value in self.options if n == number]

    def _first(self, number: int) -> bytes | None:
        # First occurrence only (RFC 7252 5.4.5); a value out of the length bounds
        # is treated like an unrecognised option (5.4.3), i.e. as absent here.
        for n, value in self.options:
            if n == number:
                return value if _in_bounds(number, value) else None
            if n > number:
                break
        return None

    def _all(self, number: int) -> List[bytes]:
        return [v for n, v in self.options if n == number and _in_bounds(number, v)]

    def _uint(self, number: int) -> int | None:
        value = self._first(number)
        return None if value is None else int.from_bytes(value, "big")

    def _string(self, number: int) -> str | None:
        value = self._first(number)
        return None if value is None else _text(value)

    @property
    def if_match(self) -> List[bytes]:
        """If-Match (1) values; an empty value matches any representation."""
        return self._all(_IF_MATCH)

    @property
    def uri_host(self) -> str | None:
        """Uri-Host (3)."""
        return self._string(_URI_HOST)

    @property
    def etag(self) -> bytes | None:
        """The first ETag (4), as carried by a response."""
        return self._first(_ETAG)

    @property
    def etags(self) -> List[bytes]:
        """Every ETag (4), as a request may carry several."""
        return self._all(_ETAG)

    @property
    def if_none_match(self) -> bool:
        """True when If-None-Match (5) is present."""
        return self._first(_IF_NONE_MATCH) is not None

    @property
    def observe(self) -> int | None:
        """Observe (6, RFC 7641): 0 register / 1 deregister in a request, a sequence number
        in a notification."""
        return self._uint(_OBSERVE)

    @property
    def uri_port(self) -> int | None:
        """Uri-Port (7)."""
        return self._uint(_URI_PORT)

    @property
    def location_path(self) -> List[str]:
        """Location-Path (8) segments."""
        return [_text(v) for v in self._all(_LOCATION_PATH)]

    @property
    def uri_path(self) -> List[str]:
        """Uri-Path (11) segments (``["a", "b"]`` for ``/a/b``)."""
        return [_text(v) for v in self._all(_URI_PATH)]

    @property
    def content_format(self) -> ContentFormat | None:
        """Content-Format (12)."""
        value = self._uint(_CONTENT_FORMAT)
        return None if value is None else ContentFormat(value)

    @property
    def max_age(self) -> int | None:
        """Max-Age (14) in seconds when present (RFC 7252 5.10.5: 60 when absent)."""
        return self._uint(_MAX_AGE)

    @property
    def uri_query(self) -> List[str]:
        """Uri-Query (15) arguments (``["a=1", "b"]``)."""
        return [_text(v) for v in self._all(_URI_QUERY)]

    @property
    def accept(self) -> ContentFormat | None:
        """Accept (17)."""
        value = self._uint(_ACCEPT)
        return None if value is None else ContentFormat(value)

    @property
    def location_query(self) -> List[str]:
        """Location-Query (20) arguments."""
        return [_text(v) for v in self._all(_LOCATION_QUERY)]

    @property
    def block2(self) -> Block | None:
        """Block2 (23, RFC 7959), decoded leniently (check ``is_valid``)."""
        value = self._first(_BLOCK2)
        return None if value is None else Block.decode(value)

    @property
    def block1(self) -> Block | None:
        """Block1 (27, RFC 7959), decoded leniently (check ``is_valid``)."""
        value = self._first(_BLOCK1)
        return None if value is None else Block.decode(value)

    @property
    def size2(self) -> int | None:
        """Size2 (28, RFC 7959): the size of the resource representation."""
        return self._uint(_SIZE2)

    @property
    def proxy_uri(self) -> str | None:
        """Proxy-Uri (35)."""
        return self._string(_PROXY_URI)

    @property
    def proxy_scheme(self) -> str | None:
        """Proxy-Scheme (39)."""
        return self._string(_PROXY_SCHEME)

    @property
    def size1(self) -> int | None:
        """Size1 (60): the size of the request body."""
        return self._uint(_SIZE1)

    @property
    def no_response(self) -> int | None:
        """No-Response (258, RFC 7967): the bitmask of response classes not wanted."""
        return self._uint(_NO_RESPONSE)

    def unrecognized_critical(self) -> List[int]:
        """Numbers of critical options this library cannot process (ascending, unique).

        A critical option is unrecognised when its number is not in the registry,
        when its value length is out of bounds (RFC 7252 5.4.3) or when it repeats a
        non-repeatable option (5.4.5). A server answers a CON/NON request that has
        any with 4.02 Bad Option; a client rejects such a response (5.4.1).
        """
        found: List[int] = []
        previous = -1
        for number, value in self.options:
            if number & 1 and (number not in found):
                bounds = LENGTH_BOUNDS.get(number)
                if (
                    bounds is None
                    or not bounds[0] <= len(value) <= bounds[1]
                    or (number == previous and number not in REPEATABLE)
                ):
                    found.append(number)
            previous = number
        return found


# -- building -----------------------------------------------------------------------

PathLike = Union[str, Sequence[str]]
"""A path as ``"a/b"`` (split on "/", a leading "/" ignored) or as segments."""


def _strings(number: int, values: Iterable[str]) -> List[RawOption]:
    out = []
    for value in values:
        if not isinstance(value, str):
            raise ParameterError(f"{OPTIONS[number].name} value must be str, not {value!r}")
        out.append((number, value.encode("utf-8")))
    return out


def _segments(path: PathLike) -> List[str]:
    if isinstance(path, str):
        path = path[1:] if path.startswith("/") else path
        return path.split("/") if path else []
    return list(path)


def _queries(query: PathLike) -> List[str]:
    if isinstance(query, str):
        query = query[1:] if query.startswith("?") else query
        return query.split("&") if query else []
    return list(query)


def _uint_option(number: int, value: int) -> RawOption:
    return (number, encode_uint(value, OPTIONS[number].max_length))


def build_options(
    *,
    if_match: Sequence[bytes] | None = None,
    uri_host: str | None = None,
    etag: Union[bytes, Sequence[bytes], None] = None,
    if_none_match: bool = False,
    observe: int | None = None,
    uri_port: int | None = None,
    location_path: PathLike | None = None,
    uri_path: PathLike | None = None,
    content_format: int | None = None,
    max_age: int | None = None,
    uri_query: PathLike | None = None,
    accept: int | None = None,
    location_query: PathLike | None = None,
    block2: Block | None = None,
    block1: Block | None = None,
    size2: int | None = None,
    proxy_uri: str | None = None,
    proxy_scheme: str | None = None,
    size1: int | None = None,
    no_response: int | None = None,
) -> List[RawOption]:
    """Raw options, ascending by number, from typed values (None/False/empty = absent).

    Paths are split on "/" and queries on "&" when given as one string; segments are
    taken literally (no percent-decoding). uints are encoded minimally. Raises
    ``ParameterError`` for a value of the wrong type or too long for its option.
    """
    out: List[RawOption] = []
    if if_match:
        out.extend((_IF_MATCH, bytes(v)) for v in if_match)
    if uri_host is not None:
        out.extend(_strings(_URI_HOST, [uri_host]))
    if etag is not None:
        tags = [etag] if isinstance(etag, (bytes, bytearray)) else list(etag)
        out.extend((_ETAG, bytes(v)) for v in tags)
    if if_none_match:
        out.append((_IF_NONE_MATCH, b""))
    if observe is not None:
        out.append(_uint_option(_OBSERVE, observe))
    if uri_port is not None:
        out.append(_uint_option(_URI_PORT, uri_port))
    if location_path is not None:
        out.extend(_strings(_LOCATION_PATH, _segments(location_path)))
    if uri_path is not None:
        out.extend(_strings(_URI_PATH, _segments(uri_path)))
    if content_format is not None:
        out.append(_uint_option(_CONTENT_FORMAT, content_format))
    if max_age is not None:
        out.append(_uint_option(_MAX_AGE, max_age))
    if uri_query is not None:
        out.extend(_strings(_URI_QUERY, _queries(uri_query)))
    if accept is not None:
        out.append(_uint_option(_ACCEPT, accept))
    if location_query is not None:
        out.extend(_strings(_LOCATION_QUERY, _queries(location_query)))
    for number, block in ((_BLOCK2, block2), (_BLOCK1, block1)):
        if block is not None:
            if not isinstance(block, Block):
                raise ParameterError(f"{OPTIONS[number].name} must be a Block, not {block!r}")
            out.append((number, block.encode()))
    if size2 is not None:
        out.append(_uint_option(_SIZE2, size2))
    if proxy_uri is not None:
        out.extend(_strings(_PROXY_URI, [proxy_uri]))
    if proxy_scheme is not None:
        out.extend(_strings(_PROXY_SCHEME, [proxy_scheme]))
    if size1 is not None:
        out.append(_uint_option(_SIZE1, size1))
    if no_response is not None:
        out.append(_uint_option(_NO_RESPONSE, no_response))
    return out

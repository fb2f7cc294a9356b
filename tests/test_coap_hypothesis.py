"""lpwa.coap under hypothesis: round trips, decoder fuzzing, aiocoap as a differential oracle."""

from __future__ import annotations

import contextlib
from typing import Any, List, Tuple

import aiocoap
import pytest
from aiocoap.numbers.optionnumbers import OptionNumber as TheirOptionNumber
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lpwa.coap import OPTIONS, Code, Message, MessageFormatError, OptionFormat, Type
from lpwa.errors import ParameterError

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Numbers aiocoap interprets (typed values that it re-encodes its own way): an "unknown"
# option in these tests avoids them so that both sides treat it as opaque bytes.
AIOCOAP_KNOWN = frozenset(int(n) for n in TheirOptionNumber)
UNKNOWN_NUMBERS = st.integers(0, 0xFFFF).filter(
    lambda n: n not in OPTIONS and n not in AIOCOAP_KNOWN
)


@st.composite
def known_option(draw: Any, number: int) -> Tuple[int, bytes]:
    """A canonical value for a registered option: in bounds, minimal uint, valid UTF-8."""
    d = OPTIONS[number]
    if d.format is OptionFormat.EMPTY:
        return (number, b"")
    if d.format is OptionFormat.UINT:
        value = draw(st.integers(0, (1 << (8 * d.max_length)) - 1))
        if number in (23, 27):  # Block: SZX 7 is reserved (RFC 7959 2.2)
            value = value & ~0x07 | draw(st.integers(0, 6))
        return (number, value.to_bytes((value.bit_length() + 7) // 8, "big"))
    if d.format is OptionFormat.STRING:
        text = draw(st.text(min_size=d.min_length, max_size=min(d.max_length, 40)))
        raw = text.encode()
        if not d.min_length <= len(raw) <= d.max_length:
            raw = raw[: d.max_length].decode("utf-8", "ignore").encode() or b"x"
        return (number, raw)
    return (number, draw(st.binary(min_size=d.min_length, max_size=d.max_length)))


@st.composite
def option_lists(draw: Any) -> List[Tuple[int, bytes]]:
    options: List[Tuple[int, bytes]] = []
    used: set[int] = set()
    for _ in range(draw(st.integers(0, 6))):
        if draw(st.booleans()):
            number = draw(st.sampled_from(sorted(OPTIONS)))
            if number in used and not OPTIONS[number].repeatable:
                continue
            used.add(number)
            options.append(draw(known_option(number)))
        else:
            length = draw(st.sampled_from([0, 1, 12, 13, 14, 268, 269, 300]))
            options.append(
                (draw(UNKNOWN_NUMBERS), draw(st.binary(min_size=length, max_size=length)))
            )
    return options


@st.composite
def messages(draw: Any) -> Message:
    """Any message that encodes: canonical options in any input order."""
    mtype = draw(st.sampled_from(list(Type)))
    code = draw(st.integers(0, 255))
    mid = draw(st.integers(0, 0xFFFF))
    if code == 0:
        return Message(mtype, code, mid)
    options = draw(option_lists())
    options = draw(st.permutations(options))
    return Message(
        mtype,
        code,
        mid,
        draw(st.binary(max_size=8)),
        options,
        draw(st.binary(max_size=40)),
    )


def _independent_encode(
    mtype: int, code: int, mid: int, token: bytes, options: List[Tuple[int, bytes]], payload: bytes
) -> bytes:
    """A plain reading of RFC 7252 section 3, written separately from lpwa's encoder."""

    def field(v: int) -> Tuple[int, bytes]:
        if v < 13:
            return v, b""
        if v < 269:
            return 13, bytes([v - 13])
        return 14, (v - 269).to_bytes(2, "big")

    out = bytes([0x40 | mtype << 4 | len(token), code]) + mid.to_bytes(2, "big") + token
    last = 0
    for number, value in sorted(options, key=lambda o: o[0]):
        dn, dx = field(number - last)
        ln, lx = field(len(value))
        out += bytes([dn << 4 | ln]) + dx + lx + value
        last = number
    return out + (b"\xff" + payload if payload else b"")


# -- round trips ------------------------------------------------------------------


@FAST
@given(messages())
def test_decode_of_encode_is_the_message(msg: Message) -> None:
    assert Message.decode(msg.encode()) == msg


@FAST
@given(messages())
def test_encoding_matches_an_independent_reading_of_section_3(msg: Message) -> None:
    expected = _independent_encode(
        msg.type, msg.code, msg.mid, msg.token, list(msg.options), msg.payload
    )
    assert msg.encode() == expected


@FAST
@given(messages())
def test_encode_of_decode_is_the_canonical_bytes(msg: Message) -> None:
    wire = _independent_encode(
        msg.type, msg.code, msg.mid, msg.token, list(msg.options), msg.payload
    )
    assert Message.decode(wire).encode() == wire


# -- fuzzing ----------------------------------------------------------------------


VIEWS = [
    *("if_match", "uri_host", "etag", "etags", "if_none_match", "observe", "uri_port"),
    *("location_path", "uri_path", "content_format", "max_age", "uri_query", "accept"),
    *("location_query", "block2", "block1", "size2", "proxy_uri", "proxy_scheme"),
    *("size1", "no_response"),
]


def _check_decode_never_escapes(data: bytes) -> None:
    try:
        msg = Message.decode(data)
    except MessageFormatError as err:
        if len(data) >= 4:
            assert err.mid == (data[2] << 8) | data[3]
            assert err.type == (data[0] >> 4) & 3
        else:
            assert err.mid is None and err.type is None
        return
    # A decoded message never breaks its views, its repr or its re-encoding.
    for name in VIEWS:
        getattr(msg, name)
    repr(msg)
    msg.unrecognized_critical()
    # A known option out of bounds or repeated decodes, but we refuse to send it.
    with contextlib.suppress(ParameterError):
        assert msg.encode() == data


@FUZZ
@given(st.binary(max_size=48))
def test_random_bytes_raise_only_message_format_error(data: bytes) -> None:
    _check_decode_never_escapes(data)


@FUZZ
@given(st.binary(min_size=4, max_size=40).map(lambda b: bytes([0x40 | (b[0] & 0x3F)]) + b[1:]))
def test_random_bytes_with_a_valid_version_raise_only_message_format_error(data: bytes) -> None:
    _check_decode_never_escapes(data)


@st.composite
def mutated(draw: Any) -> bytes:
    data = bytearray(draw(messages()).encode())
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if op == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.integers(0, 255))
        elif op == "insert":
            data.insert(draw(st.integers(0, len(data))), draw(st.integers(0, 255)))
        elif op == "delete" and data:
            del data[draw(st.integers(0, len(data) - 1))]
        elif op == "truncate":
            del data[draw(st.integers(0, len(data))) :]
    return bytes(data)


@FUZZ
@given(mutated())
def test_mutated_messages_raise_only_message_format_error(data: bytes) -> None:
    _check_decode_never_escapes(data)


# -- differential against aiocoap ---------------------------------------------------


def _their_options(msg: aiocoap.Message) -> List[Tuple[int, bytes]]:
    return [(int(o.number), o.encode()) for o in msg.opt.option_list()]


@FAST
@given(messages())
def test_aiocoap_decodes_lpwa_messages_to_the_same_fields(msg: Message) -> None:
    theirs = aiocoap.Message.decode(msg.encode())
    assert int(theirs.mtype) == msg.type
    assert int(theirs.code) == msg.code
    assert theirs.mid == msg.mid
    assert theirs.token == msg.token
    assert _their_options(theirs) == list(msg.options)
    assert theirs.payload == msg.payload


@FAST
@given(messages())
def test_lpwa_decodes_aiocoap_messages_to_the_same_fields(msg: Message) -> None:
    theirs = aiocoap.Message(code=aiocoap.Code(int(msg.code)), payload=msg.payload)
    theirs.mtype = aiocoap.Type(int(msg.type))
    theirs.mid = msg.mid
    theirs.token = msg.token
    for number, value in msg.options:
        theirs.opt.add_option(TheirOptionNumber(number).create_option(decode=value))
    ours = Message.decode(theirs.encode())
    assert ours == msg


@pytest.mark.parametrize("code", [Code.CONTENT, Code.NOT_FOUND, Code.CONTINUE, Code(0xFF)])
def test_aiocoap_agrees_on_code_classes(code: Code) -> None:
    theirs = aiocoap.Code(int(code))
    assert theirs.is_request() == code.is_request()
    assert theirs.is_response() == code.is_response()
    assert theirs.is_successful() == code.is_successful()
    assert theirs.dotted == str(code)

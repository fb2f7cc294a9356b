"""Whatever a real module prints in ``+QCOAPRECV``, the client reads the message.

The note (3.4.1) says only that an ``<opt_value>`` is "option value, including the
option number"; lpwa's simulator prints ``<number>:<HEX>``, so no simulator test
can catch a module that prints otherwise. These lines are written by hand, go
through the real Rust tokenizer (which frames the payload by the LAST field) and
then through ``atwire.parse_recv``. A real 2.05 almost always carries
Content-Format: here 50 (application/json, 0x32) in four plausible printings.

The fuzz tests feed every CoAP result/URC parser arbitrary fields: each either
returns or raises ``ProtocolError``, never another exception (issue 10 item 12).
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpwa.at.fields import response_fields
from lpwa.coap import Code, Type, atwire
from lpwa.errors import ProtocolError
from lpwa.tokenizer import Tokenizer

PAYLOAD = b'{"t":21.5}\r\nOK\r\n'  # JSON, then bytes that look like an AT answer


def through_tokenizer(line: bytes, payload: bytes) -> tuple[str, bytes]:
    """The URC text and payload the AT channel gets for these wire bytes."""
    events = Tokenizer().feed(b"\r\n" + line + b"\r\n" + payload + b"\r\n+QCOAPCLOSE: 0,0\r\n")
    urcs = [e for e in events if e.kind == "urc"]
    assert [bytes(e.data).split(b":")[0] for e in urcs] == [b"+QCOAPRECV", b"+QCOAPCLOSE"]
    return bytes(urcs[0].data).decode(), bytes(urcs[0].payload or b"")


@pytest.mark.parametrize(
    ("options", "count", "value"),
    [
        ("12:32", 1, b"\x32"),  # lpwa's own printing
        ('12,"32"', 1, b"\x32"),  # number and quoted hex value as two fields
        ('"12:0032"', 1, b"\x00\x32"),  # one quoted field, a 2-byte (non-minimal) uint
        ("12:", 1, b""),  # an empty value: Content-Format 0 (text/plain)
    ],
    ids=["colon-hex", "pair-quoted", "quoted-colon-4-digits", "empty"],
)
def test_plausible_option_printings_are_read(options: str, count: int, value: bytes) -> None:
    line = f"+QCOAPRECV: 0,4660,2.05,2,ABCD,{count},{options},{len(PAYLOAD)}".encode()
    text, payload = through_tokenizer(line, PAYLOAD)

    message = atwire.parse_recv(text, payload, type=Type.ACK).message

    assert (message.mid, message.code, message.token) == (4660, Code.CONTENT, b"\xab\xcd")
    assert message.options == ((12, value),)
    assert message.content_format == int.from_bytes(value, "big")
    assert message.payload == PAYLOAD
    assert message.unparsed_options == ()


def test_two_options_as_pairs_follow_opt_count() -> None:
    text = '+QCOAPRECV: 0,1,2.05,0,,2,12,"32",14,3C,3'
    message = atwire.parse_recv(text, b"abc").message

    assert message.options == ((12, b"\x32"), (14, b"\x3c"))


@pytest.mark.parametrize(
    ("options", "count", "kept"),
    [
        ("zz:!!", 1, ("zz:!!",)),
        ('12,"application/json"', 1, ('12,"application/json"',)),
        ('"a,b",12:32', 2, ('"a,b"',)),
        ("12:3", 1, ("12:3",)),  # odd number of hex digits
        ("99999:00", 1, ("99999:00",)),  # no such option number
        ("12:32,14:3C,\x01garbage", 7, ("12:32,14:3C,\x01garbage",)),  # count inconsistent
        ("12:32", "x", ("x",)),  # <opt_count> itself unreadable
    ],
    ids=["garbage", "text-value", "quoted-comma", "odd-hex", "number", "count", "bad-count"],
)
def test_unreadable_option_text_is_kept_raw_and_never_fails(
    options: str, count: object, kept: tuple[str, ...], caplog: pytest.LogCaptureFixture
) -> None:
    text = f"+QCOAPRECV: 0,1,2.05,0,,{count},{options},4"

    with caplog.at_level("DEBUG", "lpwa.coap"):
        message = atwire.parse_recv(text, b"body").message

    assert message.payload == b"body"
    assert message.code == Code.CONTENT
    assert message.unparsed_options[: len(kept)] == kept
    assert "kept raw" in caplog.text


def test_wrong_count_with_self_describing_fields_is_read() -> None:
    message = atwire.parse_recv("+QCOAPRECV: 0,1,2.05,0,,3,12:32,14:3C,1", b"x").message

    assert message.options == ((12, b"\x32"), (14, b"\x3c"))
    assert message.unparsed_options == ()


def test_a_module_that_prints_no_opt_count_is_read() -> None:
    message = atwire.parse_recv("+QCOAPRECV: 0,1,2.05,0,,2", b"ok").message

    assert (message.options, message.payload) == ((), b"ok")


def test_code_printed_as_code_value_is_read() -> None:
    assert atwire.parse_recv("+QCOAPRECV: 0,1,69,0,,0,0", b"").message.code == Code.CONTENT


def test_payload_length_is_the_last_field_even_after_commas_in_options() -> None:
    line = b'+QCOAPRECV: 0,9,2.05,0,,1,"8,a,b",5'
    text, payload = through_tokenizer(line, b"a,b,c")

    message = atwire.parse_recv(text, payload).message
    assert message.payload == b"a,b,c"
    assert message.unparsed_options == ('"8,a,b"',)


def test_quote_stripped_fields_parse_like_the_line() -> None:
    text = '+QCOAPRECV: 0,1,2.05,1,7F,1,"12:0032",0'
    fields = response_fields(text, atwire.RECV)

    assert atwire.parse_recv_urc(fields, b"") == atwire.parse_recv(text, b"")


# -- fuzz: every parser returns or raises ProtocolError ------------------------------------

FIELD = st.text(
    alphabet=st.sampled_from('0123456789abcdefABCDEF:.,"- x\u0661\u00b2\x00'), max_size=12
)
FIELDS = st.lists(FIELD, max_size=12)


@settings(max_examples=400, deadline=None)
@given(fields=FIELDS, payload=st.binary(max_size=8))
def test_fuzz_parse_recv(fields: list[str], payload: bytes) -> None:
    text = atwire.RECV + ": " + ",".join(fields)
    for parse in (
        lambda: atwire.parse_recv(text, payload),
        lambda: atwire.parse_recv_urc(fields, payload),
        lambda: atwire.parse_recv(text, payload, type=Type.ACK),
    ):
        try:
            received = parse()
        except ProtocolError:
            continue
        assert 0 <= received.client_id <= 5
        assert received.message.payload == payload


@settings(max_examples=300, deadline=None)
@given(
    fields=st.lists(st.integers(min_value=-(10**30), max_value=10**30).map(str), max_size=6)
    | FIELDS,
    payload=st.binary(max_size=4),
)
def test_fuzz_parse_recv_with_huge_numbers(fields: list[str], payload: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        atwire.parse_recv_urc(fields, payload)


@settings(max_examples=300, deadline=None)
@given(
    fields=st.lists(st.integers(min_value=-(10**30), max_value=10**30).map(str), max_size=6)
    | FIELDS
)
def test_fuzz_ack_ind_open_close(fields: list[str]) -> None:
    for parse in (
        lambda: atwire.parse_ack(fields),
        lambda: atwire.parse_ind(fields),
        lambda: atwire.parse_session_result(atwire.OPEN, fields),
        lambda: atwire.parse_session_result(atwire.CLOSE, fields),
    ):
        with contextlib.suppress(ProtocolError):
            parse()


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=10))
def test_fuzz_parse_code(text: str) -> None:
    try:
        code = atwire.parse_code(text)
    except ProtocolError:
        return
    assert atwire.format_code(code) == text or int(code) == int(text.split(".")[0]) * 32 + int(
        text.split(".")[1]
    )


@pytest.mark.parametrize(
    ("parse", "fields"),
    [
        (lambda f: atwire.parse_session_result(atwire.OPEN, f), ["0"]),
        (lambda f: atwire.parse_session_result(atwire.OPEN, f), ["0", "abc"]),
        (lambda f: atwire.parse_session_result(atwire.OPEN, f), ["0", "9" * 25]),
        (lambda f: atwire.parse_session_result(atwire.CLOSE, f), []),
        (atwire.parse_ack, ["0", "7", "1", "0"]),
        (atwire.parse_ack, ["0", "0", "65536", "0"]),
        (atwire.parse_ind, ["0", "0", "1", "x", "0"]),
        (atwire.parse_ind, ["0", "0", "1", "1"]),
    ],
    ids=[
        "open-1-field",
        "open-abc",
        "open-25-digits",
        "close-none",
        "ack-type",
        "ack-mid",
        "ind-retry",
        "ind-short",
    ],
)
def test_malformed_result_urcs_are_protocol_errors(parse, fields: list[str]) -> None:
    with pytest.raises(ProtocolError):
        parse(fields)

"""``lpwa.coap.atwire``: the AT text of CoAP messages (CoAP note 3.3.5, 3.4), bytes in
and out, no module involved."""

from __future__ import annotations

import pytest

from lpwa.at.fields import response_fields
from lpwa.coap import Code, Message, Type, atwire
from lpwa.errors import ParameterError, ProtocolError


def recv_fields(line: str) -> list[str]:
    """The fields of a ``+QCOAPRECV:`` line as the AT channel splits them."""
    return response_fields(line, atwire.RECV)


# -- +QCOAPRECV ---------------------------------------------------------------------------


def test_recv_urc_of_the_note_example_5_1_parses() -> None:
    fields = recv_fields("+QCOAPRECV: 0,1234,4.04,6,D204D52E814B,0,9")

    received = atwire.parse_recv_urc(fields, b"Not Found")

    assert received.client_id == 0
    assert received.message == Message(
        Type.NON, Code.NOT_FOUND, 1234, bytes.fromhex("D204D52E814B"), (), b"Not Found"
    )


def test_recv_urc_prints_each_option_as_number_colon_uppercase_hex() -> None:
    message = Message(
        Type.ACK,
        Code.CONTENT,
        7,
        b"\xab",
        [(1, b""), (8, b"a,b"), (12, b"\x32"), (23, b"\x0e")],
        b"\r\n\x00",
    )

    line, payload = atwire.format_recv_urc(3, message)

    assert line == b"+QCOAPRECV: 3,7,2.05,1,AB,4,1:,8:612C62,12:32,23:0E,3"
    assert payload == b"\r\n\x00"


def test_recv_urc_without_token_options_or_payload() -> None:
    message = Message(Type.NON, Code.DELETED, 65535, b"", (), b"")

    line, payload = atwire.format_recv_urc(5, message)

    assert line == b"+QCOAPRECV: 5,65535,2.02,0,,0,0"
    assert payload == b""
    assert atwire.parse_recv_urc(recv_fields(line.decode()), payload).message == message


def test_recv_urc_round_trips_through_the_channel_field_split() -> None:
    message = Message(
        Type.ACK,
        Code.CHANGED,
        4660,
        bytes(range(8)),
        [(4, b"\xc0\xff\xee"), (8, b"with space"), (14, b"\x3c")],
        b"\r\nOK\r\n\x1a\x1b",
    )
    line, payload = atwire.format_recv_urc(2, message)

    received = atwire.parse_recv_urc(recv_fields(line.decode()), payload, type=Type.ACK)

    assert received == atwire.Received(2, message)


def test_recv_urc_with_an_unknown_code_still_parses() -> None:
    fields = recv_fields("+QCOAPRECV: 1,1,7.31,0,,0,0")

    assert int(atwire.parse_recv_urc(fields, b"").message.code) == 7 * 32 + 31


@pytest.mark.parametrize(
    ("line", "payload", "why"),
    [
        ("+QCOAPRECV: 0,1,2.05,2,AB,0,0", b"", "TKL 2 but token 'AB'"),
        ("+QCOAPRECV: 0,1,2.05,0,,0,3", b"ab", "length 3 but 2 payload bytes"),
        ("+QCOAPRECV: 0,1,2.05,1,XY,0,0", b"", "TKL 1 but token 'XY'"),
        ("+QCOAPRECV: 0,1,2.05", b"", "3 fields, at least 6"),
        ("+QCOAPRECV: 0,1,256,0,,0,0", b"", "CoAP code must be 0-255"),
        ("+QCOAPRECV: 0,1,8.00,0,,0,0", b"", "bad CoAP code"),
        ("+QCOAPRECV: 0,1,4.32,0,,0,0", b"", "bad CoAP code"),
        ("+QCOAPRECV: 0,1,\u00b2.05,0,,0,0", b"", "bad CoAP code"),
        ("+QCOAPRECV: 0,70000,2.05,0,,0,0", b"", "msgID> must be 0-65535"),
        ("+QCOAPRECV: 0,1,2.05,9,000102030405060708,0,0", b"", "TKL> must be 0-8"),
        ("+QCOAPRECV: 6,1,2.05,0,,0,0", b"", "clientID> must be 0-5"),
        ("+QCOAPRECV: 0,1,2.05,0,,0,-1", b"", "payload_length> must be"),
        ("+QCOAPRECV: 0,\u0661,2.05,0,,0,0", b"", "msgID> must be a number"),
    ],
    ids=[
        "tkl",
        "length",
        "token-hex",
        "short",
        "code-256",
        "class-8",
        "detail-32",
        "code-superscript",
        "mid",
        "token-9",
        "client-6",
        "length-negative",
        "mid-arabic-digit",
    ],
)
def test_malformed_recv_urc_is_a_protocol_error(line: str, payload: bytes, why: str) -> None:
    with pytest.raises(ProtocolError, match=why):
        atwire.parse_recv_urc(recv_fields(line), payload)
    with pytest.raises(ProtocolError, match=why):
        atwire.parse_recv(line, payload)


def test_code_prints_as_c_dd() -> None:
    assert [atwire.format_code(c) for c in (0, 1, 69, 132, 165, 255)] == [
        "0.00",
        "0.01",
        "2.05",
        "4.04",
        "5.05",
        "7.31",
    ]
    assert atwire.parse_code("5.00") is Code.INTERNAL_SERVER_ERROR


# -- +QCOAPACK and +QCOAPIND ---------------------------------------------------------------


def test_ack_urc_parses_into_a_delivery() -> None:
    fields = response_fields("+QCOAPACK: 0,1,1234,0", atwire.ACK)

    assert atwire.parse_ack(fields) == atwire.Delivery(0, Type.NON, 1234, 0)


def test_ind_urc_parses_into_a_retransmission() -> None:
    fields = response_fields("+QCOAPIND: 4,0,99,3,0", atwire.IND)

    assert atwire.parse_ind(fields) == atwire.Retransmission(4, Type.CON, 99, 3, 0)


@pytest.mark.parametrize("fields", [["0", "1", "2"], ["0", "4", "1", "0"], ["0", "x", "1", "0"]])
def test_malformed_ack_urc_is_a_protocol_error(fields: list[str]) -> None:
    with pytest.raises(ProtocolError):
        atwire.parse_ack(fields)


def test_malformed_ind_urc_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        atwire.parse_ind(["0", "0", "1", "1"])


# -- AT+QCOAPOPTION values (Table 2) ---------------------------------------------------------

TABLE_2 = [
    (1, b"\x00\xff", '"00FF"'),  # If-Match, opaque
    (3, b"example.net", '"example.net"'),  # Uri-Host, string
    (4, b"\xc0\xff\xee", '"C0FFEE"'),  # ETag, opaque
    (5, b"", '""'),  # If-None-Match, empty
    (7, b"\x16\x33", "5683"),  # Uri-Port, uint
    (8, b"", '""'),  # Location-Path, string 0-255
    (11, b"19", '"19"'),  # Uri-Path (the note's example)
    (12, b"\x28", "40"),  # Content-Format (the note's example)
    (14, b"", "0"),  # Max-Age
    (15, b"a=1", '"a=1"'),  # Uri-Query
    (17, b"\x32", "50"),  # Accept
    (20, b"x,y", '"x,y"'),  # Location-Query
    (35, b"coap://h/p", '"coap://h/p"'),  # Proxy-Uri
    (39, b"coap", '"coap"'),  # Proxy-Scheme
    (60, b"\x01\x00\x00\x00", "16777216"),  # Size1
]


@pytest.mark.parametrize(("number", "value", "text"), TABLE_2, ids=[str(r[0]) for r in TABLE_2])
def test_option_value_text_per_table_2(number: int, value: bytes, text: str) -> None:
    assert atwire.format_option_value(number, value) == text


@pytest.mark.parametrize(("number", "value", "text"), TABLE_2, ids=[str(r[0]) for r in TABLE_2])
def test_option_value_text_parses_back(number: int, value: bytes, text: str) -> None:
    assert atwire.parse_option_value(number, text.strip('"')) == value


def test_uint_option_value_is_printed_minimal() -> None:
    assert atwire.format_option_value(12, b"\x00\x28") == "40"


@pytest.mark.parametrize("number", [0, 2, 6, 23, 27, 28, 258])
def test_option_not_in_table_2_is_refused(number: int) -> None:
    with pytest.raises(ParameterError, match="not one the module takes"):
        atwire.format_option_value(number, b"")


@pytest.mark.parametrize(
    ("number", "value"),
    [
        (1, b"123456789"),
        (3, b""),
        (4, b""),
        (5, b"x"),
        (7, b"\x01\x00\x00"),
        (11, b"x" * 256),
        (12, b"\x01\x00\x00"),
        (14, b"\x01\x00\x00\x00\x00"),
        (35, b"x" * 1035),
        (39, b""),
    ],
)
def test_option_value_outside_table_2_lengths_is_refused(number: int, value: bytes) -> None:
    with pytest.raises(ParameterError, match="bytes"):
        atwire.format_option_value(number, value)


@pytest.mark.parametrize("value", [b'a"b', b"a\r\nb", b"\x1a", b"\xc3\xa9", b"\xff"])
def test_string_option_that_a_quoted_at_string_cannot_carry_is_refused(value: bytes) -> None:
    with pytest.raises(ParameterError):
        atwire.format_option_value(11, value)


@pytest.mark.parametrize(("number", "text"), [(12, "x"), (12, "-1"), (12, "65536"), (4, "XYZ")])
def test_unparseable_option_value_text_is_refused(number: int, text: str) -> None:
    with pytest.raises(ParameterError):
        atwire.parse_option_value(number, text)

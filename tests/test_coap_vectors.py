"""lpwa.coap wire vectors: exact bytes from RFC 7252/7959 rules and the BG96 CoAP note."""

from __future__ import annotations

import pytest

from lpwa.coap import OBSERVE_REGISTER, Block, Code, ContentFormat, Message, NoResponse, Type

h = bytes.fromhex


def test_header_is_version_type_tkl_code_and_mid() -> None:
    # RFC 7252 section 3: Ver=1 | T | TKL, then Code, then the Message ID big-endian.
    msg = Message(Type.CON, Code.GET, 0x7D34)
    assert msg.encode() == h("40017d34")


def test_rfc7252_figure_4_request_with_token_and_uri_path() -> None:
    # CON [0xbc90] GET /temperature (Token 0x71): option delta 11, length 11.
    msg = Message.request(Code.GET, "temperature", mid=0xBC90, token=b"\x71")
    assert msg.encode() == h("4101bc9071") + b"\xbb" + b"temperature"


def test_rfc7252_figure_4_piggybacked_response_has_marker_and_payload() -> None:
    # ACK [0xbc90] 2.05 Content (Token 0x71) "22.5 C".
    wire = h("6145bc9071ff") + b"22.5 C"
    msg = Message.decode(wire)
    assert (msg.type, msg.code, msg.mid, msg.token) == (Type.ACK, Code.CONTENT, 0xBC90, b"\x71")
    assert msg.payload == b"22.5 C"
    assert msg.encode() == wire


def test_empty_ack_is_exactly_four_bytes() -> None:
    assert Message(Type.ACK, Code.EMPTY, 0x1234).encode() == h("60001234")


def test_reset_echoes_the_mid() -> None:
    con = Message.request(Code.GET, "a", mid=77)
    assert Message.reset(con).encode() == h("7000004d")


def test_ping_is_an_empty_confirmable() -> None:
    assert Message.ping(1).encode() == h("40000001")


def test_note_qcoaprecv_example_not_found() -> None:
    # +QCOAPRECV: 0,1234,4.04,6,D204D52E814B,0,9 / "Not Found" (note section 5.1).
    msg = Message(Type.NON, Code.from_string("4.04"), 1234, h("D204D52E814B"), (), b"Not Found")
    assert msg.encode() == h("568404d2d204d52e814bff") + b"Not Found"
    again = Message.decode(msg.encode())
    assert str(again.code) == "4.04"
    assert int(again.code) == 132
    assert again.mid == 1234
    assert len(again.token) == 6
    assert again.payload == b"Not Found"


def test_note_example_options_uri_path_19_and_link_format() -> None:
    # AT+QCOAPOPTION=0,0,0,11,"19" and =0,0,1,12,40; AT+QCOAPSEND=0,1,2,1,... (NON POST).
    msg = Message.request(
        Code.POST, "19", type=Type.NON, mid=1234, content_format=ContentFormat.LINK_FORMAT
    )
    assert msg.encode() == h("500204d2") + h("b23139") + h("1128")


@pytest.mark.parametrize(
    ("number", "prefix"),
    [
        (12, "c0"),  # largest delta in the nibble itself
        (13, "d000"),  # smallest 13 form: extended byte = delta - 13
        (268, "d0ff"),  # largest 13 form
        (269, "e00000"),  # smallest 14 form: extended 16 bits = delta - 269
        (65535, "e0fef2"),  # largest option number: 65535 - 269 = 0xFEF2
    ],
)
def test_option_delta_extended_forms_at_their_boundaries(number: int, prefix: str) -> None:
    msg = Message(Type.CON, Code.GET, 0, options=[(number, b"")])
    assert msg.encode() == h("40010000" + prefix)
    assert Message.decode(msg.encode()).options == ((number, b""),)


@pytest.mark.parametrize(
    ("length", "prefix"),
    [
        (12, "2c"),
        (13, "2d00"),
        (268, "2dff"),
        (269, "2e0000"),
        (65804, "2effff"),  # the longest value the 14 form can carry: 269 + 0xFFFF
    ],
)
def test_option_length_extended_forms_at_their_boundaries(length: int, prefix: str) -> None:
    value = bytes(range(256)) * (length // 256) + bytes(length % 256)
    msg = Message(Type.CON, Code.GET, 0, options=[(2, value)])
    wire = msg.encode()
    assert wire == h("40010000" + prefix) + value
    assert Message.decode(wire).options == ((2, value),)


def test_delta_and_length_both_extended_order_delta_first() -> None:
    # RFC 7252 section 3.1: extended delta bytes come before extended length bytes.
    msg = Message(Type.CON, Code.GET, 0, options=[(300, b"x" * 20)])
    assert msg.encode() == h("40010000" + "ed" + "001f" + "07") + b"x" * 20


def test_deltas_are_relative_to_the_previous_option() -> None:
    msg = Message(Type.CON, Code.GET, 0, options=[(11, b"a"), (11, b"b"), (60, b"\x01")])
    assert msg.encode() == h("40010000" + "b161" + "0162" + "d12401")


def test_uint_zero_is_the_empty_value() -> None:
    msg = Message.request(Code.GET, mid=0, content_format=0)
    assert msg.encode() == h("40010000c0")


def test_uint_is_encoded_in_the_fewest_bytes() -> None:
    msg = Message.request(Code.GET, mid=0, content_format=ContentFormat.LWM2M_TLV)
    assert msg.encode() == h("40010000c22d16")  # 11542 = 0x2D16


@pytest.mark.parametrize(
    ("block", "value"),
    [
        (Block(0, False, 0), ""),  # NUM 0, M 0, SZX 0 is the zero-length uint
        (Block(0, True, 2), "0a"),
        (Block(1, False, 6), "16"),
        (Block(15, True, 6), "fe"),
        (Block(16, False, 0), "0100"),
        (Block(4095, True, 6), "fffe"),
        (Block(4096, False, 2), "010002"),
        (Block(0xFFFFF, True, 6), "fffffe"),  # NUM at its 20-bit maximum
    ],
)
def test_block_value_encoding(block: Block, value: str) -> None:
    # RFC 7959 section 2.2: NUM << 4 | M << 3 | SZX, as a minimal uint.
    assert block.encode() == h(value)
    assert Block.decode(h(value)) == block


def test_block2_option_in_a_response() -> None:
    request = Message.request(Code.GET, "big", mid=5, token=b"\x01")
    response = Message.response(request, Code.CONTENT, block2=Block(2, True, 6), payload=b"x")
    assert response.encode() == h("61450005" + "01" + "d10a" + "2e" + "ff") + b"x"


def test_observe_register_is_the_empty_uint() -> None:
    # RFC 7641 section 2: 0 registers; as a uint, 0 is the zero-length value.
    msg = Message.request(Code.GET, "obs", mid=1, observe=OBSERVE_REGISTER)
    assert msg.encode() == h("40010001" + "60" + "536f6273")


def test_no_response_option_number_258_uses_the_13_form() -> None:
    suppress = NoResponse.SUPPRESS_2XX | NoResponse.SUPPRESS_4XX | NoResponse.SUPPRESS_5XX
    msg = Message.request(Code.POST, "x", mid=1, no_response=suppress)
    # Uri-Path 11 then 258: delta 247 -> 13 form, 247 - 13 = 0xEA.
    assert msg.encode() == h("40020001" + "b178" + "d1ea1a")

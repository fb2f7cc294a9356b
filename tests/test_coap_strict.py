"""lpwa.coap strictness: every RFC 7252 section 3/4.1 format error, and encode refusals."""

from __future__ import annotations

import pytest

from lpwa.coap import Block, Code, Message, MessageFormatError, Type
from lpwa.errors import LpwaError, ParameterError

h = bytes.fromhex


def reject(wire: bytes) -> MessageFormatError:
    with pytest.raises(MessageFormatError) as info:
        Message.decode(wire)
    return info.value


def test_message_format_error_is_a_value_error_and_an_lpwa_error() -> None:
    err = reject(b"")
    assert isinstance(err, ValueError)
    assert isinstance(err, LpwaError)


@pytest.mark.parametrize("wire", [b"", h("40"), h("4001"), h("400100")])
def test_shorter_than_the_header_has_no_mid(wire: bytes) -> None:
    err = reject(wire)
    assert err.mid is None
    assert err.type is None


@pytest.mark.parametrize("first", [0x00, 0x80, 0xC0])
def test_version_other_than_1_is_rejected_with_mid_and_type(first: int) -> None:
    err = reject(bytes([first | 0x10, 0x01, 0x12, 0x34]))
    assert (err.mid, err.type) == (0x1234, Type.NON)


@pytest.mark.parametrize("tkl", range(9, 16))
def test_reserved_token_lengths_9_to_15_are_rejected(tkl: int) -> None:
    err = reject(bytes([0x40 | tkl, 0x01, 0x00, 0x07]) + bytes(15))
    assert (err.mid, err.type) == (7, Type.CON)


def test_token_shorter_than_tkl_is_rejected() -> None:
    err = reject(h("4401000a" + "aabbcc"))
    assert (err.mid, err.type) == (10, Type.CON)


def test_payload_marker_with_empty_payload_is_rejected() -> None:
    err = reject(h("60450001ff"))
    assert (err.mid, err.type) == (1, Type.ACK)


def test_payload_marker_after_options_with_empty_payload_is_rejected() -> None:
    reject(h("40010001" + "b161" + "ff"))


@pytest.mark.parametrize("byte", ["f0", "f1", "fe"])
def test_delta_nibble_15_outside_the_marker_is_rejected(byte: str) -> None:
    err = reject(h("40010002" + byte + "00"))
    assert (err.mid, err.type) == (2, Type.CON)


@pytest.mark.parametrize("byte", ["0f", "bf", "df"])
def test_length_nibble_15_is_rejected(byte: str) -> None:
    reject(h("40010002" + byte + "0000"))


def test_truncated_one_byte_extended_delta_is_rejected() -> None:
    reject(h("40010003d0"))


@pytest.mark.parametrize("tail", ["e0", "e000"])
def test_truncated_two_byte_extended_delta_is_rejected(tail: str) -> None:
    reject(h("40010003" + tail))


def test_truncated_one_byte_extended_length_is_rejected() -> None:
    reject(h("400100030d"))


@pytest.mark.parametrize("tail", ["0e", "0e01"])
def test_truncated_two_byte_extended_length_is_rejected(tail: str) -> None:
    reject(h("40010003" + tail))


def test_truncated_option_value_is_rejected() -> None:
    err = reject(h("40010004" + "b5" + "6162"))
    assert "truncated" in err.reason
    assert err.mid == 4


def test_truncated_extended_length_value_is_rejected() -> None:
    reject(h("40010004" + "bd01") + b"x" * 13)


@pytest.mark.parametrize(
    "wire",
    [
        "40000001aa",  # Empty with a trailing byte
        "41000001aa",  # Empty with a token
        "40000001b161",  # Empty with an option
        "60000001ff78",  # Empty ACK with a payload
    ],
)
def test_empty_message_with_any_content_is_rejected(wire: str) -> None:
    # RFC 7252 section 4.1: an Empty message is exactly the 4-byte header.
    err = reject(h(wire))
    assert err.mid == 1


def test_option_number_past_65535_is_rejected() -> None:
    # 65535 via the 14 form, then one more delta of 1.
    err = reject(h("40010005" + "e0fef2" + "10"))
    assert "65535" in err.reason
    assert err.mid == 5


def test_largest_delta_from_zero_is_rejected() -> None:
    reject(h("40010005" + "e0ffff"))  # delta 65804


def test_every_error_message_names_the_mid_and_type() -> None:
    err = reject(h("7001abcd" + "f0"))
    assert "mid=43981" in str(err)
    assert err.type == Type.RST


def test_unknown_critical_option_still_decodes() -> None:
    msg = Message.decode(h("40010001" + "d10c") + b"\x00")  # option 25, 1 byte
    assert msg.options == ((25, b"\x00"),)
    assert msg.unrecognized_critical() == [25]


def test_unknown_elective_option_is_not_reported() -> None:
    msg = Message(Type.CON, Code.GET, 1, options=[(2, b"x"), (258, b"")])
    assert msg.unrecognized_critical() == []


def test_critical_option_with_length_out_of_bounds_is_unrecognized() -> None:
    # RFC 7252 section 5.4.3: treat like an unrecognised option. Uri-Host is 1..255.
    msg = Message.decode(h("40010001" + "30"))
    assert msg.unrecognized_critical() == [3]
    assert msg.uri_host is None


def test_repeated_non_repeatable_critical_option_is_unrecognized() -> None:
    # RFC 7252 section 5.4.5: the supernumerary occurrence is unrecognised.
    msg = Message.decode(h("40010001" + "7116" + "0117"))  # Uri-Port twice
    assert msg.unrecognized_critical() == [7]
    assert msg.uri_port == 0x16


def test_repeated_repeatable_option_is_fine() -> None:
    msg = Message.request(Code.GET, "a/b/c", mid=1)
    assert msg.unrecognized_critical() == []


# -- encode refusals -------------------------------------------------------------------


@pytest.mark.parametrize("mid", [-1, 65536])
def test_mid_outside_16_bits_is_refused(mid: int) -> None:
    with pytest.raises(ParameterError, match="message ID"):
        Message(Type.CON, Code.GET, mid)


def test_token_over_8_bytes_is_refused() -> None:
    with pytest.raises(ParameterError, match="token"):
        Message(Type.CON, Code.GET, 1, bytes(9))


@pytest.mark.parametrize("number", [-1, 65536])
def test_option_number_outside_16_bits_is_refused(number: int) -> None:
    with pytest.raises(ParameterError, match="option number"):
        Message(Type.CON, Code.GET, 1, options=[(number, b"")])


@pytest.mark.parametrize(
    "kwargs", [{"token": b"\x01"}, {"options": [(11, b"a")]}, {"payload": b"x"}]
)
def test_empty_message_with_content_is_refused(kwargs: dict[str, object]) -> None:
    msg = Message(Type.CON, Code.EMPTY, 1, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="Empty"):
        msg.encode()


@pytest.mark.parametrize(
    ("number", "length"),
    [(3, 0), (3, 256), (4, 0), (4, 9), (1, 9), (5, 1), (7, 3), (12, 3), (14, 5), (6, 4)],
)
def test_known_option_length_out_of_bounds_is_refused(number: int, length: int) -> None:
    msg = Message(Type.CON, Code.GET, 1, options=[(number, b"\x01" * length)])
    with pytest.raises(ParameterError, match="bytes, must be"):
        msg.encode()


def test_proxy_uri_may_be_1034_bytes_but_not_1035() -> None:
    Message(Type.CON, Code.GET, 1, options=[(35, b"u" * 1034)]).encode()
    with pytest.raises(ParameterError):
        Message(Type.CON, Code.GET, 1, options=[(35, b"u" * 1035)]).encode()


def test_repeating_a_non_repeatable_option_is_refused() -> None:
    msg = Message(Type.CON, Code.GET, 1, options=[(12, b""), (12, b"\x32")])
    with pytest.raises(ParameterError, match="must not repeat"):
        msg.encode()


def test_value_longer_than_the_14_form_is_refused() -> None:
    msg = Message(Type.CON, Code.GET, 1, options=[(2, bytes(65805))])
    with pytest.raises(ParameterError, match="65804"):
        msg.encode()


@pytest.mark.parametrize("szx", [7, -1, 8])
def test_block_szx_7_is_refused_when_building(szx: int) -> None:
    with pytest.raises(ParameterError, match="SZX"):
        Block(0, False, szx)


def test_block_num_over_20_bits_is_refused_when_building() -> None:
    with pytest.raises(ParameterError, match="NUM"):
        Block(1 << 20, False, 0)


def test_uint_too_long_for_its_option_is_refused() -> None:
    with pytest.raises(ParameterError, match="bytes"):
        Message.request(Code.GET, content_format=65536)


def test_negative_uint_is_refused() -> None:
    with pytest.raises(ParameterError, match="negative"):
        Message.request(Code.PUT, size1=-1)


def test_non_bytes_payload_is_refused() -> None:
    with pytest.raises(ParameterError, match="payload"):
        Message(Type.CON, Code.POST, 1, payload="text")  # type: ignore[arg-type]


@pytest.mark.parametrize(("mtype", "code"), [(4, 1), (0, 256), (-1, 1), (0, -1)])
def test_type_and_code_outside_their_fields_are_refused(mtype: int, code: int) -> None:
    with pytest.raises(ParameterError):
        Message(mtype, code, 1)


def test_decode_refuses_non_bytes_with_type_error() -> None:
    with pytest.raises(TypeError):
        Message.decode("40010001")  # type: ignore[arg-type]

"""lpwa.coap Message: typed views, construction helpers, ordering, value semantics, repr."""

from __future__ import annotations

import pickle

import pytest

from lpwa.coap import Block, Code, ContentFormat, Message, Type
from lpwa.errors import ParameterError

h = bytes.fromhex


def test_defaults_are_no_token_no_options_no_payload() -> None:
    msg = Message(Type.CON, Code.GET, 1)
    assert (msg.token, msg.options, msg.payload) == (b"", (), b"")


def test_ints_are_converted_to_type_and_code() -> None:
    msg = Message(0, 69, 1)
    assert msg.type is Type.CON
    assert msg.code is Code.CONTENT


def test_options_are_sorted_by_number_keeping_repeats_in_order() -> None:
    msg = Message(Type.CON, Code.GET, 1, options=[(15, b"q"), (11, b"b"), (3, b"h"), (11, b"a")])
    assert msg.options == ((3, b"h"), (11, b"b"), (11, b"a"), (15, b"q"))


def test_decode_of_encode_is_identity_for_unsorted_input() -> None:
    msg = Message(Type.NON, Code.POST, 9, b"t", [(60, b"\x10"), (11, b"x"), (11, b"y")], b"p")
    assert Message.decode(msg.encode()) == msg


def test_bytearray_and_memoryview_fields_become_bytes() -> None:
    msg = Message(Type.CON, Code.PUT, 1, bytearray(b"t"), [(11, memoryview(b"a"))], bytearray(b"p"))
    assert type(msg.token) is bytes
    assert type(msg.options[0][1]) is bytes
    assert type(msg.payload) is bytes


def test_decode_accepts_bytearray_and_memoryview() -> None:
    wire = h("4101bc9071bb") + b"temperature"
    assert Message.decode(bytearray(wire)) == Message.decode(memoryview(wire))


def test_message_is_immutable() -> None:
    msg = Message(Type.CON, Code.GET, 1)
    with pytest.raises(AttributeError):
        msg.mid = 2  # type: ignore[misc]


def test_replace_makes_a_validated_copy() -> None:
    msg = Message(Type.CON, Code.GET, 1)
    assert msg.replace(mid=2).mid == 2
    with pytest.raises(ParameterError):
        msg.replace(mid=70000)
    with pytest.raises(ParameterError):
        msg.replace(colour="red")


def test_equal_messages_hash_equal() -> None:
    a = Message.request(Code.GET, "a/b", mid=3)
    b = Message.decode(a.encode())
    assert a == b and hash(a) == hash(b)
    assert a != a.replace(mid=4)


def test_message_pickles() -> None:
    msg = Message.request(Code.GET, "a", mid=3, token=b"\x01")
    assert pickle.loads(pickle.dumps(msg)) == msg


def test_repr_reads_like_the_request_line() -> None:
    msg = Message.request(Code.GET, "a/b", mid=1, token=b"\xd2\x04")
    assert repr(msg) == "<Message CON GET mid=1 token=d204 /a/b>"


def test_repr_of_a_response_shows_code_options_and_payload_size() -> None:
    req = Message.request(Code.GET, "a", mid=1)
    msg = Message.response(
        req, Code.CONTENT, content_format=50, block2=Block(0, True, 2), payload=b"{}"
    )
    assert (
        repr(msg) == "<Message ACK 2.05 CONTENT mid=1 Content-Format:50 Block2:0/1/64 payload=2B>"
    )


def test_repr_of_an_unknown_code() -> None:
    assert repr(Message(Type.NON, 0xFF, 1)) == "<Message NON 7.31 mid=1>"


def test_request_splits_path_and_query() -> None:
    msg = Message.request(Code.GET, "/sensors/temp", uri_query="unit=C&fast", mid=1)
    assert msg.uri_path == ["sensors", "temp"]
    assert msg.uri_query == ["unit=C", "fast"]


def test_request_takes_segments_literally() -> None:
    msg = Message.request(Code.GET, ["a/b", ""], mid=1)
    assert msg.options == ((11, b"a/b"), (11, b""))


def test_request_keywords_fill_every_view() -> None:
    msg = Message.request(
        Code.FETCH,
        "x",
        mid=1,
        uri_host="example.com",
        uri_port=5683,
        content_format=ContentFormat.CBOR,
        accept=ContentFormat.SENML_JSON,
        observe=0,
        block1=Block(1, True, 4),
        block2=Block(0, False, 6),
        size1=1000,
        size2=2000,
        etag=b"\x01\x02",
        if_match=[b"", b"\x09"],
        if_none_match=True,
        proxy_uri="coap://p/x",
        proxy_scheme="coap",
        no_response=26,
    )
    assert msg.uri_host == "example.com"
    assert msg.uri_port == 5683
    assert msg.content_format is ContentFormat.CBOR
    assert msg.accept is ContentFormat.SENML_JSON
    assert msg.observe == 0
    assert msg.block1 == Block(1, True, 4)
    assert msg.block2 == Block(0, False, 6)
    assert (msg.size1, msg.size2) == (1000, 2000)
    assert msg.etag == b"\x01\x02"
    assert msg.if_match == [b"", b"\x09"]
    assert msg.if_none_match is True
    assert (msg.proxy_uri, msg.proxy_scheme) == ("coap://p/x", "coap")
    assert msg.no_response == 26
    assert Message.decode(msg.encode()) == msg


def test_response_keywords_fill_location_and_max_age() -> None:
    req = Message.request(Code.POST, "r", mid=1, token=b"\x05")
    msg = Message.response(
        req, Code.CREATED, location_path="r/7", location_query="v=1", max_age=30, etag=b"\x01"
    )
    assert (msg.type, msg.mid, msg.token) == (Type.ACK, 1, b"\x05")
    assert msg.location_path == ["r", "7"]
    assert msg.location_query == ["v=1"]
    assert msg.max_age == 30
    assert msg.etags == [b"\x01"]


def test_separate_response_needs_its_own_mid() -> None:
    req = Message.request(Code.GET, "r", mid=1, token=b"\x05")
    with pytest.raises(ParameterError):
        Message.response(req, Code.CONTENT, type=Type.CON)
    assert Message.response(req, Code.CONTENT, type=Type.CON, mid=9).token == b"\x05"


def test_empty_ack_acknowledges_the_mid() -> None:
    req = Message.request(Code.GET, "r", mid=41, token=b"\x05")
    assert Message.empty_ack(req) == Message(Type.ACK, Code.EMPTY, 41)


def test_absent_options_read_as_none_or_empty() -> None:
    msg = Message(Type.CON, Code.GET, 1)
    assert msg.uri_path == [] and msg.if_match == [] and msg.etags == []
    assert msg.content_format is None and msg.observe is None and msg.block2 is None
    assert msg.if_none_match is False


def test_uint_view_accepts_leading_zero_bytes() -> None:
    msg = Message.decode(h("40010001" + "c20032"))
    assert msg.content_format is ContentFormat.JSON


def test_uint_view_of_an_out_of_bounds_value_reads_as_absent() -> None:
    # RFC 7252 section 5.4.3: a 3-byte Content-Format is treated as unrecognised.
    msg = Message.decode(h("40010001" + "c3000032"))
    assert msg.content_format is None
    assert msg.option_values(12) == [b"\x00\x00\x32"]


def test_non_repeatable_view_uses_the_first_occurrence() -> None:
    msg = Message.decode(h("40010001" + "c132" + "013c"))
    assert msg.content_format is ContentFormat.JSON


def test_invalid_utf8_in_a_string_view_becomes_replacement_characters() -> None:
    msg = Message.decode(h("40010001" + "b2ff61"))
    assert msg.uri_path == ["\ufffda"]
    assert msg.options == ((11, b"\xffa"),)


def test_unregistered_content_format_view() -> None:
    msg = Message.request(Code.GET, mid=1, content_format=12345)
    assert int(msg.content_format) == 12345  # type: ignore[arg-type]


def test_block_size_and_offset() -> None:
    block = Block(3, True, 2)
    assert (block.size, block.offset) == (64, 192)
    assert block.next() == Block(4, True, 2)
    assert Block.from_size(0, False, 1024) == Block(0, False, 6)


def test_block_from_size_refuses_other_sizes() -> None:
    with pytest.raises(ParameterError):
        Block.from_size(0, False, 2048)


def test_received_block_with_szx_7_is_flagged_not_raised() -> None:
    # RFC 7959 section 2.2: SZX 7 is reserved; a server answers 4.00.
    msg = Message.decode(h("40010001" + "d10a0f"))
    assert msg.block2 is not None
    assert msg.block2.szx == 7
    assert not msg.block2.is_valid


def test_block_is_immutable_and_hashable() -> None:
    block = Block(1, False, 0)
    with pytest.raises(AttributeError):
        block.num = 2  # type: ignore[misc]
    assert {block, Block(1, False, 0)} == {block}

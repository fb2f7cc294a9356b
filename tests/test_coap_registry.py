"""lpwa.coap registries: Type, Code, options (RFC 7252 Table 4, note Table 2), Content-Formats."""

from __future__ import annotations

import pytest

from lpwa.coap import (
    AT_OPTION_LENGTHS,
    OPTIONS,
    OPTIONS_BY_NAME,
    Code,
    ContentFormat,
    OptionFormat,
    OptionNumber,
    Type,
    decode_uint,
    encode_uint,
    is_critical,
    is_no_cache_key,
    is_unsafe,
    option_name,
)

# -- Type and Code ----------------------------------------------------------------


def test_type_values_are_the_notes_type_parameter() -> None:
    assert [int(t) for t in (Type.CON, Type.NON, Type.ACK, Type.RST)] == [0, 1, 2, 3]


# The note's Table 3, <code_value> and <code>.
NOTE_TABLE_3 = {
    0: "0.00", 1: "0.01", 2: "0.02", 3: "0.03", 4: "0.04",
    65: "2.01", 66: "2.02", 67: "2.03", 68: "2.04", 69: "2.05",
    128: "4.00", 129: "4.01", 130: "4.02", 131: "4.03", 132: "4.04", 133: "4.05",
    134: "4.06", 140: "4.12", 141: "4.13", 143: "4.15",
    160: "5.00", 161: "5.01", 162: "5.02", 163: "5.03", 164: "5.04", 165: "5.05",
}  # fmt: skip


@pytest.mark.parametrize(("value", "text"), sorted(NOTE_TABLE_3.items()))
def test_note_table_3_code_values_and_texts(value: int, text: str) -> None:
    code = Code.from_string(text)
    assert int(code) == value
    assert str(code) == text
    assert not code.name.startswith("CODE_")


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (Code.FETCH, "0.05"),
        (Code.PATCH, "0.06"),
        (Code.IPATCH, "0.07"),
        (Code.CONTINUE, "2.31"),
        (Code.REQUEST_ENTITY_INCOMPLETE, "4.08"),
        (Code.CONFLICT, "4.09"),
        (Code.UNPROCESSABLE_ENTITY, "4.22"),
        (Code.TOO_MANY_REQUESTS, "4.29"),
        (Code.HOP_LIMIT_REACHED, "5.08"),
        (Code.CSM, "7.01"),
    ],
)
def test_registered_codes_beyond_the_note(code: Code, text: str) -> None:
    assert str(code) == text


def test_content_is_69() -> None:
    assert int(Code.CONTENT) == 69
    assert f"{Code.CONTENT}" == "2.05"


def test_ipatch_spelling_is_an_alias() -> None:
    assert Code.iPATCH is Code.IPATCH


def test_unknown_code_is_a_pseudo_member_printing_c_dd() -> None:
    code = Code(0xFF)
    assert str(code) == "7.31"
    assert int(code) == 255
    assert (code.class_, code.detail) == (7, 31)
    assert Code(0xFF) is code
    assert code not in list(Code)


def test_code_class_and_detail() -> None:
    assert (Code.NOT_FOUND.class_, Code.NOT_FOUND.detail) == (4, 4)


def test_code_classification() -> None:
    assert Code.GET.is_request() and not Code.GET.is_response()
    assert Code.CONTENT.is_response() and Code.CONTENT.is_successful()
    assert Code.NOT_FOUND.is_response() and not Code.NOT_FOUND.is_successful()
    assert Code.NOT_FOUND.is_error()
    assert not Code.EMPTY.is_request() and not Code.EMPTY.is_response()
    assert Code.PING.is_signaling()


@pytest.mark.parametrize(
    "text", ["2.5", "8.00", "2.32", "x.yy", "205", "2.05.1", "\u0662.\u0660\u0665"]
)
def test_from_string_rejects_malformed_text(text: str) -> None:
    with pytest.raises(ValueError):
        Code.from_string(text)


def test_code_above_255_is_not_a_code() -> None:
    with pytest.raises(ValueError):
        Code(256)


# -- options ----------------------------------------------------------------------

# RFC 7252 Table 4 (= the note's Table 2): number, name, format, min, max.
RFC7252_TABLE_4 = [
    (1, "If-Match", "opaque", 0, 8),
    (3, "Uri-Host", "string", 1, 255),
    (4, "ETag", "opaque", 1, 8),
    (5, "If-None-Match", "empty", 0, 0),
    (7, "Uri-Port", "uint", 0, 2),
    (8, "Location-Path", "string", 0, 255),
    (11, "Uri-Path", "string", 0, 255),
    (12, "Content-Format", "uint", 0, 2),
    (14, "Max-Age", "uint", 0, 4),
    (15, "Uri-Query", "string", 0, 255),
    (17, "Accept", "uint", 0, 2),
    (20, "Location-Query", "string", 0, 255),
    (35, "Proxy-Uri", "string", 1, 1034),
    (39, "Proxy-Scheme", "string", 1, 255),
    (60, "Size1", "uint", 0, 4),
]


@pytest.mark.parametrize(("number", "name", "fmt", "lo", "hi"), RFC7252_TABLE_4)
def test_rfc7252_table_4_rows(number: int, name: str, fmt: str, lo: int, hi: int) -> None:
    d = OPTIONS[number]
    assert (d.name, d.format.value, d.min_length, d.max_length) == (name, fmt, lo, hi)
    assert OPTIONS_BY_NAME[name] is d


@pytest.mark.parametrize(("number", "name", "fmt", "lo", "hi"), RFC7252_TABLE_4)
def test_note_table_2_lengths_are_exposed_for_qcoapoption(
    number: int, name: str, fmt: str, lo: int, hi: int
) -> None:
    assert AT_OPTION_LENGTHS[number] == (lo, hi)
    assert (OPTIONS[number].at_min_length, OPTIONS[number].at_max_length) == (lo, hi)


@pytest.mark.parametrize(
    ("number", "name", "hi"),
    [
        (6, "Observe", 3),
        (23, "Block2", 3),
        (27, "Block1", 3),
        (28, "Size2", 4),
        (258, "No-Response", 1),
    ],
)
def test_extension_options_are_uints_outside_the_notes_table(
    number: int, name: str, hi: int
) -> None:
    d = OPTIONS[number]
    assert (d.name, d.format, d.min_length, d.max_length) == (name, OptionFormat.UINT, 0, hi)
    assert number not in AT_OPTION_LENGTHS
    assert d.at_max_length is None


def test_registry_holds_exactly_the_twenty_options() -> None:
    assert sorted(OPTIONS) == sorted(int(n) for n in OptionNumber)
    assert len(OPTIONS) == 20


@pytest.mark.parametrize(
    ("number", "critical", "unsafe", "no_cache_key"),
    [
        (1, True, False, False),  # If-Match
        (3, True, True, False),  # Uri-Host
        (4, False, False, False),  # ETag
        (6, False, True, False),  # Observe
        (11, True, True, False),  # Uri-Path
        (14, False, True, False),  # Max-Age
        (23, True, True, False),  # Block2
        (28, False, False, True),  # Size2
        (35, True, True, False),  # Proxy-Uri
        (60, False, False, True),  # Size1
        (258, False, True, False),  # No-Response
    ],
)
def test_properties_are_derived_from_the_number_bits(
    number: int, critical: bool, unsafe: bool, no_cache_key: bool
) -> None:
    # RFC 7252 section 5.4.6 and Table 4's C/U/N columns.
    d = OPTIONS[number]
    assert (d.critical, d.unsafe, d.no_cache_key) == (critical, unsafe, no_cache_key)
    assert (is_critical(number), is_unsafe(number), is_no_cache_key(number)) == (
        critical,
        unsafe,
        no_cache_key,
    )


@pytest.mark.parametrize(
    ("number", "repeatable"),
    [
        (1, True),
        (4, True),
        (8, True),
        (11, True),
        (15, True),
        (20, True),
        (3, False),
        (12, False),
        (23, False),
    ],
)
def test_repeatable_options_match_table_4(number: int, repeatable: bool) -> None:
    assert OPTIONS[number].repeatable is repeatable


def test_option_name_of_an_unknown_number() -> None:
    assert option_name(11) == "Uri-Path"
    assert option_name(2049) == "Option 2049"


@pytest.mark.parametrize(
    ("value", "wire"), [(0, ""), (1, "01"), (255, "ff"), (256, "0100"), (2**24, "01000000")]
)
def test_uint_minimal_encoding(value: int, wire: str) -> None:
    assert encode_uint(value) == bytes.fromhex(wire)


def test_uint_decoding_accepts_leading_zeros() -> None:
    assert decode_uint(b"\x00\x00\x32") == 50
    assert decode_uint(b"") == 0


# -- Content-Formats --------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "media_type"),
    [
        (0, "text/plain; charset=utf-8"),
        (40, "application/link-format"),
        (41, "application/xml"),
        (42, "application/octet-stream"),
        (47, "application/exi"),
        (50, "application/json"),
        (51, "application/json-patch+json"),
        (52, "application/merge-patch+json"),
        (60, "application/cbor"),
        (61, "application/cwt"),
        (18, 'application/cose; cose-type="cose-sign1"'),
        (98, 'application/cose; cose-type="cose-sign"'),
        (101, "application/cose-key"),
        (110, "application/senml+json"),
        (111, "application/sensml+json"),
        (112, "application/senml+cbor"),
        (113, "application/sensml+cbor"),
        (114, "application/senml-exi"),
        (115, "application/sensml-exi"),
        (11542, "application/vnd.oma.lwm2m+tlv"),
        (11543, "application/vnd.oma.lwm2m+json"),
        (11544, "application/vnd.oma.lwm2m+cbor"),
    ],
)
def test_content_format_numbers_match_iana(number: int, media_type: str) -> None:
    assert ContentFormat(number).media_type == media_type


def test_content_format_by_media_type_ignores_parameter_spacing() -> None:
    assert ContentFormat.by_media_type("text/plain;charset=utf-8") is ContentFormat.TEXT_PLAIN
    assert ContentFormat.by_media_type("application/json", "deflate") == 11050


def test_unregistered_content_format_is_a_pseudo_member() -> None:
    cf = ContentFormat(12345)
    assert int(cf) == 12345
    assert cf.media_type is None
    assert not cf.is_known()
    assert str(cf) == "12345"


def test_content_format_agrees_with_aiocoap_for_every_registered_number() -> None:
    from aiocoap.numbers.contentformat import ContentFormat as Theirs

    for number in (int(cf) for cf in ContentFormat):
        theirs = Theirs(number)
        assert theirs.is_known(), number
        assert theirs.media_type.replace(" ", "") == ContentFormat(number).media_type.replace(
            " ", ""
        )  # type: ignore[union-attr]

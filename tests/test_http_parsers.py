"""The HTTP procedures' parsers of module text (lpwa.http.results): malformed fields
are ProtocolError, never IndexError/ValueError/OverflowError (issue 10 item 12).
The literal lines come from the HTTP note's examples (spec/000, chapter 3) and the
issue; hypothesis feeds every parser random and near-miss text."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpwa.errors import ProtocolError
from lpwa.http import results

RESULT_NAMES = ("+QHTTPGET", "+QHTTPPOST", "+QHTTPPOSTFILE")


# -- what the note prints ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [
        ("+QHTTPGET: 0,200,601710", "+QHTTPGET", (0, 200, 601710)),  # note 3.1.1
        ("+QHTTPPOST: 0,200,177", "+QHTTPPOST", (0, 200, 177)),  # note 3.1.2.1
        ("+QHTTPPOSTFILE: 0,200,285", "+QHTTPPOSTFILE", (0, 200, 285)),  # note 3.2.2.2
        ("+QHTTPGET: 0,200", "+QHTTPGET", (0, 200, None)),  # no Content-Length
        ("+QHTTPPOST: 719", "+QHTTPPOST", (719, 0, None)),  # spec/002
    ],
)
def test_result_urcs_of_the_note(
    text: str, name: str, expected: tuple[int, int, int | None]
) -> None:
    assert results.parse_result(text, name) == expected


def test_readfile_urc_of_the_note() -> None:
    assert results.readfile_err("+QHTTPREADFILE: 0") == 0
    assert results.readfile_err("+QHTTPREADFILE: 727") == 727


# -- malformed fields are typed errors -------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "+QHTTPGET: 0,200,-5",
        "+QHTTPGET: 0,200," + "9" * 25,
        "+QHTTPGET: 0,abc",
        "+QHTTPGET: 0",
        "+QHTTPGET: ",
        "+QHTTPGET: x",
        "+QHTTPGET: 0,20",
        "+QHTTPGET: 0,2000",
        "+QHTTPGET: 0,200,1,2",
        "+QHTTPGET: 701,200",
        "+QHTTPGET: 0,²00",
        "+QHTTPGET: 0,200,١٢",
        "+QHTTPGET: 0,200,1e3",
        "+QHTTPGET 0,200",
        "+QHTTPPOST: 0,200",
    ],
)
def test_malformed_result_urcs_are_protocol_errors(text: str) -> None:
    with pytest.raises(ProtocolError):
        results.parse_result(text, "+QHTTPGET")


@pytest.mark.parametrize(
    "text", ["+QHTTPREADFILE: x", "+QHTTPREADFILE: ", "+QHTTPREADFILE: 0,1", "+QHTTPREADFILE"]
)
def test_malformed_readfile_urcs_are_protocol_errors(text: str) -> None:
    with pytest.raises(ProtocolError):
        results.readfile_err(text)


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (results.qfopen_handle, "+QFOPEN: x"),
        (results.qfopen_handle, "+QFOPEN: "),
        (results.qfopen_handle, "+QFOPEN: -1"),
        (results.qflds_space, "+QFLDS: 1"),
        (results.qflds_space, "+QFLDS: a,b"),
        (results.qfwrite_count, "+QFWRITE: 10"),
        (results.qfwrite_count, "+QFWRITE: " + "1" * 30 + ",1"),
    ],
)
def test_malformed_file_answers_are_protocol_errors(
    parse: Callable[[str], object], text: str
) -> None:
    with pytest.raises(ProtocolError):
        parse(text)


def test_qflst_finds_the_file_with_or_without_the_ufs_prefix() -> None:
    lines = ['+QFLST: "UFS:a.txt",10', '+QFLST: "b.txt",20']
    assert results.qflst_size(lines, "a.txt") == 10
    assert results.qflst_size(lines, "b.txt") == 20
    assert results.qflst_size(lines, "c.txt") is None
    with pytest.raises(ProtocolError):
        results.qflst_size(['+QFLST: "a.txt",-3'], "a.txt")


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 2000 OK",
        b"HTTP/1.1 ok",
        b"garbage",
        b"HTTP/1.1 200 OK\r\nno colon here",
        b"HTTP/1.1 200 OK\r\n: empty name",
        b"HTTP/1.1 \xb2\xb2\xb2 OK",
    ],
)
def test_malformed_heads_are_protocol_errors(head: bytes) -> None:
    with pytest.raises(ProtocolError):
        results.parse_head(head)


def test_head_of_the_note_parses() -> None:
    status, reason, pairs = results.parse_head(
        b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 601710"
    )
    assert (status, reason) == (200, "OK")
    assert pairs == [("Server", "nginx"), ("Content-Length", "601710")]


# -- fuzz: a value or ProtocolError, nothing else ----------------------------------------

_near = st.one_of(
    st.text(max_size=60),
    st.lists(
        st.one_of(
            st.integers(-(10**30), 10**30).map(str),
            st.text('0123456789-+ x"²١', max_size=20),
        ),
        max_size=5,
    ).map(",".join),
)


@settings(max_examples=400, deadline=None)
@given(name=st.sampled_from(RESULT_NAMES), body=_near, prefix=st.booleans())
def test_fuzz_result_parser(name: str, body: str, prefix: bool) -> None:
    text = f"{name}: {body}" if prefix else body
    try:
        err, status, length = results.parse_result(text, name)
    except ProtocolError:
        return
    assert 0 <= err <= 65535
    assert err != 0 or 100 <= status <= 999
    assert length is None or 0 <= length <= results.MAX_LENGTH


@settings(max_examples=300, deadline=None)
@given(body=_near)
def test_fuzz_file_and_readfile_parsers(body: str) -> None:
    for name, parse in (
        ("+QHTTPREADFILE", results.readfile_err),
        ("+QFOPEN", results.qfopen_handle),
        ("+QFLDS", results.qflds_space),
        ("+QFWRITE", results.qfwrite_count),
        ("+QHTTPCFG", results.cfg_value),
    ):
        with contextlib.suppress(ProtocolError):
            parse(f"{name}: {body}")
    with contextlib.suppress(ProtocolError):
        results.qflst_size([f"+QFLST: {body}"], "a")


@settings(max_examples=300, deadline=None)
@given(head=st.binary(max_size=300))
def test_fuzz_head_parser(head: bytes) -> None:
    try:
        status, _, pairs = results.parse_head(head)
    except ProtocolError:
        return
    assert 100 <= status <= 999
    assert all(isinstance(n, str) and isinstance(v, str) for n, v in pairs)

"""Malformed answers to files, network and ssl commands are ProtocolError, never a
stray IndexError/ValueError/OverflowError (issue 10, item 12).

Each parser gets real information lines (as the simulator and the captures print
them) and random ones; whatever it gets, it returns a well-formed value or raises
ProtocolError.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpwa import files, network, ssl_config
from lpwa.at.channel import Reply
from lpwa.errors import ProtocolError


def _reply(command: str, *lines: str) -> Reply:
    return Reply(command, tuple(lines))


Parser = Callable[[Reply], Any]

PARSERS: dict[str, tuple[str, Parser]] = {
    "+QFUPL": ('AT+QFUPL="a",3,60', lambda r: files.parse_transfer(r, "+QFUPL")),
    "+QFDWL": ('AT+QFDWL="a"', lambda r: files.parse_transfer(r, "+QFDWL")),
    "+QFLST": ('AT+QFLST="*"', files.parse_qflst),
    "+QFLDS": ('AT+QFLDS="UFS"', files.parse_qflds),
    "+QFOPEN": ('AT+QFOPEN="a",2', files.parse_qfopen),
    "+CPIN": ("AT+CPIN?", network.parse_cpin),
    "+CEREG": ("AT+CEREG?", network.parse_cereg),
    "+QIACT": ("AT+QIACT?", network.parse_qiact),
    "+QIDNSCFG": ("AT+QIDNSCFG=1", network.parse_qidnscfg),
    "+QSSLCFG": ('AT+QSSLCFG="seclevel",1', lambda r: ssl_config.parse_qsslcfg(r, "seclevel", 1)),
}

GOOD: list[tuple[str, str, Any]] = [
    ("+QFUPL", "+QFUPL: 34,613e", (34, "613e")),
    ("+QFDWL", "+QFDWL: 10,0", (10, "0")),
    ("+QFLST", '+QFLST: "update1.bin",100412', [files.FileInfo("update1.bin", 100412)]),
    ("+QFLDS", "+QFLDS: 8000000,8388608", (8000000, 8388608)),
    ("+QFOPEN", "+QFOPEN: 1024", 1024),
    ("+CPIN", "+CPIN: READY", "READY"),
    ("+CEREG", "+CEREG: 0,5", network.Registration(5)),
    ("+QIACT", '+QIACT: 1,1,1,"10.7.157.1"', [network.PDPContext(1, True, 1, "10.7.157.1")]),
    ("+QIDNSCFG", '+QIDNSCFG: 1,"8.8.8.8","1.1.1.1"', ["8.8.8.8", "1.1.1.1"]),
    ("+QSSLCFG", '+QSSLCFG: "seclevel",1,2', ["2"]),
]

BAD: list[tuple[str, str]] = [
    ("+QFUPL", "+QFUPL: 34"),
    ("+QFUPL", "+QFUPL: -5,613e"),
    ("+QFUPL", "+QFUPL: 34,xyz"),
    ("+QFUPL", "+QFUPL: 34,12345"),
    ("+QFUPL", "+QFUPL: " + "9" * 25 + ",0"),
    ("+QFDWL", "+QFDWL: ,"),
    ("+QFLST", '+QFLST: "a"'),
    ("+QFLST", '+QFLST: "a",abc'),
    ("+QFLST", '+QFLST: "",3'),
    ("+QFLST", '+QFLST: "a",1,2'),
    ("+QFLDS", "+QFLDS: 5"),
    ("+QFLDS", "+QFLDS: 10,5"),
    ("+QFLDS", "+QFLDS: 1e3,5000"),
    ("+QFOPEN", "+QFOPEN: x"),
    ("+QFOPEN", "+QFOPEN: "),
    ("+CPIN", "+CPIN: "),
    ("+CEREG", "+CEREG: 1"),
    ("+CEREG", "+CEREG: 0,abc"),
    ("+CEREG", "+CEREG: 0," + "1" * 30),
    ("+QIACT", "+QIACT: 1,1"),
    ("+QIACT", '+QIACT: 17,1,1,"1.2.3.4"'),
    ("+QIACT", '+QIACT: 1,2,1,"1.2.3.4"'),
    ("+QIACT", '+QIACT: one,1,1,"1.2.3.4"'),
    ("+QIDNSCFG", '+QIDNSCFG: x,"8.8.8.8"'),
    ("+QSSLCFG", '+QSSLCFG: "seclevel",1'),
    ("+QSSLCFG", '+QSSLCFG: "cacert",1,"ca.pem"'),
    ("+QSSLCFG", '+QSSLCFG: "seclevel",2,1'),
    ("+QSSLCFG", '+QSSLCFG: "seclevel",x,1'),
]


@pytest.mark.parametrize(("name", "line", "expected"), GOOD, ids=[g[0] for g in GOOD])
def test_real_answers_parse(name: str, line: str, expected: Any) -> None:
    command, parse = PARSERS[name]
    assert parse(_reply(command, line)) == expected


@pytest.mark.parametrize(("name", "line"), BAD, ids=[f"{b[0]} {b[1][:30]}" for b in BAD])
def test_malformed_answers_are_protocol_errors(name: str, line: str) -> None:
    command, parse = PARSERS[name]
    with pytest.raises(ProtocolError):
        parse(_reply(command, line))


@pytest.mark.parametrize("name", list(PARSERS))
def test_a_missing_answer_line_is_a_protocol_error(name: str) -> None:
    command, parse = PARSERS[name]
    if name in ("+QFLST", "+QIACT"):
        assert parse(_reply(command)) == []  # no line: no files, no active context
    else:
        with pytest.raises(ProtocolError):
            parse(_reply(command, "OK-ish noise"))


_FIELD = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.text(alphabet='0123456789abcdefxX-+ ",.:\x00é', max_size=30),
    st.sampled_from(["", '""', '"seclevel"', "1", "0", "65535", "1e3", " 7 "]),
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(PARSERS)), st.lists(_FIELD, max_size=6), st.booleans())
def test_any_answer_parses_or_is_a_protocol_error(name: str, fields: list[str], two: bool) -> None:
    command, parse = PARSERS[name]
    line = f"{name}: {','.join(fields)}"
    lines = (line, line) if two else (line,)
    with contextlib.suppress(ProtocolError):
        parse(_reply(command, *lines))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(PARSERS)), st.text(max_size=60))
def test_any_text_after_the_prefix_parses_or_is_a_protocol_error(name: str, text: str) -> None:
    command, parse = PARSERS[name]
    with contextlib.suppress(ProtocolError):
        parse(_reply(command, f"{name}:{text}"))

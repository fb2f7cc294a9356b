"""The Rust tokenizer through its Python API (``lpwa.tokenizer``, design §3).

Byte-exact cases for the API surface, then hypothesis: sessions generated from
a grammar of design §2's wire shapes give the expected events however the
stream is split, random garbage never raises, and streamed bodies concatenate
to the whole body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lpwa.tokenizer import Event, Tokenizer

KINDS = ("echo", "line", "urc", "final", "connect", "prompt", "body", "invalid")


def feed_all(tok: Tokenizer, chunks: list[bytes]) -> list[Event]:
    return [event for chunk in chunks for event in tok.feed(chunk)]


# ---- API surface ------------------------------------------------------------------


def test_spec_http_read_session_with_echo_on() -> None:
    tok = Tokenizer()
    tok.sent(b"AT+QHTTPREAD=80\r", body_length=5)
    assert tok.in_flight == "+QHTTPREAD"
    events = tok.feed(b"AT+QHTTPREAD=80\r\r\nCONNECT\r\nhello\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n")
    assert events == [
        Event("echo", b"AT+QHTTPREAD=80"),
        Event("connect", b"CONNECT"),
        Event("body", b"hello", code=0),
        Event("final", b"OK"),
    ]
    assert tok.in_flight is None
    assert tok.buffered == 0


def test_event_fields_and_name() -> None:
    tok = Tokenizer()
    (recv,) = tok.feed(b"\r\n+QCOAPRECV: 0,1234,4.04,6,D204D52E814B,0,9\r\nNot Found")
    assert recv.kind == "urc"
    assert recv.data == b"+QCOAPRECV: 0,1234,4.04,6,D204D52E814B,0,9"
    assert recv.payload == b"Not Found"
    assert recv.code is None
    assert recv.more is False
    assert recv.name == "+QCOAPRECV"
    tok.sent(b"AT+QFREAD=1,3\r")
    connect, body = tok.feed(b"\r\nCONNECT 3\r\nabc")
    assert (connect.code, connect.name, body.name) == (3, None, None)


def test_kinds_are_interned_strings() -> None:
    tok = Tokenizer()
    tok.sent(b"AT+QCOAPSEND=0,1,2,1,5\r")
    events = tok.feed(b"AT+QCOAPSEND=0,1,2,1,5\r\r\n> ")
    assert [e.kind for e in events] == ["echo", "prompt"]
    assert events[1].data == b"> "
    assert events[0].kind is Tokenizer().feed(b"AT\r")[0].kind


def test_event_equality_hash_repr_and_match() -> None:
    a = Event("final", b"+CME ERROR: 10", code=10)
    assert a == Event("final", b"+CME ERROR: 10", 10)
    assert a != Event("final", b"+CME ERROR: 10")
    assert a != ("final", b"+CME ERROR: 10", 10)
    assert hash(a) == hash(Event("final", b"+CME ERROR: 10", code=10))
    assert repr(a) == "Event('final', b'+CME ERROR: 10', code=10)"
    assert repr(Event("body", b"x", more=True)) == "Event('body', b'x', more=True)"
    assert Event.__match_args__ == ("kind", "data", "code", "payload", "more")
    with pytest.raises(ValueError):
        Event("bogus", b"")
    with pytest.raises(AttributeError):
        a.code = 3  # type: ignore[misc]


def test_urc_prefixes_extend_the_default_table() -> None:
    tok = Tokenizer([b"+FOO", "HELLO"])
    tok.sent(b"AT+X\r")
    events = tok.feed(b"\r\n+FOO: 1\r\nHELLO\r\n+CPIN: READY\r\nbare\r\n")
    assert [e.kind for e in events] == ["urc", "urc", "urc", "line"]
    with pytest.raises(TypeError):
        Tokenizer(b"+FOO")
    with pytest.raises(TypeError):
        Tokenizer([1])  # type: ignore[list-item]


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError):
        Tokenizer(max_line=0)
    with pytest.raises(OverflowError):
        Tokenizer().sent(b"AT+QHTTPREAD=80\r", body_length=-1)
    with pytest.raises(TypeError):
        Tokenizer().feed("OK\r\n")  # type: ignore[arg-type]


def test_any_bytes_like_input() -> None:
    wire = b"\r\n+CPIN: READY\r\n\r\nOK\r\n"
    expected = [Event("urc", b"+CPIN: READY"), Event("final", b"OK")]
    assert Tokenizer().feed(bytearray(wire)) == expected
    assert Tokenizer().feed(memoryview(wire)) == expected
    assert Tokenizer().feed(memoryview(b"xx" + wire)[2:]) == expected


def test_in_flight_names_and_bare_info_lines() -> None:
    tok = Tokenizer()
    tok.sent(b"ATI\r")
    assert tok.in_flight == "ATI"
    assert [e.kind for e in tok.feed(b"\r\nQuectel\r\nBG96\r\n\r\nOK\r\n")] == [
        "line",
        "line",
        "final",
    ]
    tok.sent(b"Hello")  # data, not a command: only the echo to expect
    assert tok.in_flight is None


def test_reset_forgets_everything() -> None:
    tok = Tokenizer()
    tok.sent(b"AT+QHTTPREAD=80\r")
    tok.feed(b"\r\nCONNECT\r\npartial")
    assert tok.buffered == 7
    tok.reset()
    assert (tok.in_flight, tok.buffered) == (None, 0)
    assert tok.feed(b"\r\nRDY\r\n") == [Event("urc", b"RDY")]


def test_stream_bodies_is_settable() -> None:
    tok = Tokenizer()
    assert tok.stream_bodies is False
    tok.stream_bodies = True
    tok.sent(b"AT+QHTTPREAD=80\r")
    assert tok.feed(b"\r\nCONNECT\r\nabc") == [
        Event("connect", b"CONNECT"),
        Event("body", b"abc", more=True),
    ]
    assert (tok.max_line, tok.max_body) == (4096, 2 * 1_048_576)


def test_over_long_line_and_garbage_are_invalid() -> None:
    tok = Tokenizer(max_line=8)
    events = tok.feed(b"0123456789\r\nA\x00B\r\nOK\r\n")
    assert events == [
        Event("invalid", b"01234567"),
        Event("invalid", b"A\x00B"),
        Event("final", b"OK"),
    ]


def test_large_body_is_delivered_whole() -> None:
    body = bytes(range(256)) * 4096  # 1 MiB, every byte value, many CRs
    tok = Tokenizer()
    tok.sent(b"AT+QHTTPREAD=80\r", body_length=len(body))
    wire = b"\r\nCONNECT\r\n" + body + b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n"
    events = feed_all(tok, [wire[i : i + 4096] for i in range(0, len(wire), 4096)])
    assert [e.kind for e in events] == ["connect", "body", "final"]
    assert events[1].data == body
    assert events[1].code == 0


# ---- generated sessions ----------------------------------------------------------------

TRAILER = re.compile(rb"\r\nOK\r\n\r\n\+QHTTPREAD: (\d{1,12})\r\n|\r\n\+CME ERROR: (\d{1,12})\r\n")
TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=30
).map(str.encode)
TRICKY = st.sampled_from(
    [
        b"\r\nOK\r\n",
        b"\r\n",
        b"\r",
        b"\n",
        b"OK",
        b"+QHTTPREAD: 0",
        b"\r\n+CME ERROR",
        b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n",
        b"\r\n+QFDWL: 1,ab\r\n",
        b"> ",
        b"\x00\xff",
        b"AT+CPIN?\r",
        b"CONNECT\r\n",
    ]
)
CONTENT = st.lists(st.one_of(TRICKY, st.binary(max_size=12)), max_size=12).map(b"".join)
URC = st.sampled_from(
    [b'+QIURC: "pdpdeact",1', b"+CEREG: 1", b"RDY", b"APP RDY", b"+QIND: SMS DONE"]
)


def trailer_at(wire: bytes, content_len: int, by_length: bool) -> bool:
    """Is the body's own trailer the first one that may end it?"""
    for p in range(len(wire)):
        m = TRAILER.match(wire, p)
        if m is None:
            continue
        # Within a known length every trailer is body (issue 10: a server may
        # forge one); without it, the first trailer ends the body.
        if p < content_len and not by_length:
            return False
        if p >= content_len:
            return p == content_len
    return False


QFDWL_TRAILER = re.compile(rb"\r\n\+QFDWL: (\d{1,12}),[0-9A-Fa-f]{1,8}\r\n")
CME_TRAILER = re.compile(rb"\r\n\+CME ERROR: \d{1,12}\r\n")


def qfdwl_trailer_at(wire: bytes, content_len: int) -> bool:
    """Is the QFDWL trailer at content_len the first one (n = its offset)?"""
    for p in range(content_len + 1):
        if CME_TRAILER.match(wire, p):
            return False
        m = QFDWL_TRAILER.match(wire, p)
        if m and int(m.group(1)) == p:
            return p == content_len
    return False


@dataclass
class Session:
    """A generated exchange: steps (("sent", cmd, kwargs) / ("read", bytes)) and
    the events it must give."""

    steps: list[tuple[str, bytes, dict[str, object]]] = field(default_factory=list)
    expected: list[Event] = field(default_factory=list)

    def sent(self, cmd: bytes, **kw: object) -> None:
        self.steps.append(("sent", cmd, kw))

    def read(self, wire: bytes, *events: Event) -> None:
        self.steps.append(("read", wire, {}))
        self.expected.extend(events)


@st.composite
def sessions(draw: st.DrawFn) -> Session:
    s = Session()
    echo = draw(st.booleans())
    for _ in range(draw(st.integers(1, 5))):
        shape = draw(
            st.sampled_from(["info", "error", "prompt", "read", "coap", "qfdwl", "qfread", "qird"])
        )
        if draw(st.booleans()):
            urc = draw(URC)
            s.read(b"\r\n" + urc + b"\r\n", Event("urc", urc))
        cmd = {
            "info": b"AT+CPIN?",
            "error": b"AT+QHTTPGET=80",
            "prompt": b"AT+QCOAPSEND=0,1,2,1,5",
            "read": b"AT+QHTTPREAD=80",
            "coap": b"AT+QCOAPCLOSE=0",
            "qfdwl": b'AT+QFDWL="a.bin"',
            "qfread": b"AT+QFREAD=1027,100",
            "qird": b"AT+QIRD=0,1500",
        }[shape]
        kw: dict[str, object] = {}
        if shape == "read":
            content = draw(CONTENT)
            headers = draw(st.booleans())
            if headers:
                content = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(content) + content
            by_length = draw(st.booleans())
            if by_length and not headers:
                kw["body_length"] = len(content)
            kw["response_header"] = headers
            by_length = by_length or headers
        s.sent(cmd + b"\r", **kw)
        if draw(st.booleans()):  # a URC between our write and its echo (design §2)
            # (not RDY: a reboot there ends the command, see test_rdy_*)
            urc = draw(URC.filter(lambda u: u != b"RDY"))
            s.read(b"\r\n" + urc + b"\r\n", Event("urc", urc))
        if echo:
            s.read(cmd + b"\r", Event("echo", cmd))
        if shape == "info":
            s.read(b"\r\n+CPIN: READY\r\n", Event("line", b"+CPIN: READY"))
            s.read(b"\r\nOK\r\n", Event("final", b"OK"))
        elif shape == "error":
            code = draw(st.integers(0, 999))
            line = b"+CME ERROR: %d" % code
            s.read(b"\r\n" + line + b"\r\n", Event("final", line, code=code))
        elif shape == "prompt":
            s.read(b"\r\n> ", Event("prompt", b"> "))
            s.read(b"\r\nOK\r\n\r\n+QCOAPACK: 0,1,1234,0\r\n", Event("final", b"OK"))
            s.expected.append(Event("urc", b"+QCOAPACK: 0,1,1234,0"))
        elif shape == "read":
            err = draw(st.sampled_from([0, 0, 717]))
            cme = err != 0 and draw(st.booleans())
            if cme:
                trailer = b"\r\n+CME ERROR: %d\r\n" % err
                final = Event("final", trailer[2:-2], code=err)
            else:
                trailer = b"\r\nOK\r\n\r\n+QHTTPREAD: %d\r\n" % err
                final = Event("final", b"OK")
            wire = content + trailer
            if not trailer_at(wire, len(content), by_length):
                s.read(b"\r\nOK\r\n", Event("final", b"OK"))  # keep the session well formed
                continue
            s.read(b"\r\nCONNECT\r\n" + wire, Event("connect", b"CONNECT"))
            s.expected += [Event("body", content, code=err), final]
        elif shape == "coap":
            payload = draw(st.binary(max_size=40))
            line = b'+QCOAPRECV: 0,7,2.05,2,ab,1,"x,y",%d' % len(payload)
            s.read(b"\r\nOK\r\n", Event("final", b"OK"))
            s.read(b"\r\n" + line + b"\r\n" + payload, Event("urc", line, payload=payload))
        elif shape == "qfdwl":
            content = draw(CONTENT)
            tail = b"\r\n+QFDWL: %d,6c53\r\n" % len(content)
            if not qfdwl_trailer_at(content + tail, len(content)):
                s.read(b"\r\nOK\r\n", Event("final", b"OK"))
                continue
            s.read(b"\r\nCONNECT\r\n" + content + tail, Event("connect", b"CONNECT"))
            s.read(b"\r\nOK\r\n", Event("body", content))
            s.expected += [Event("line", tail[2:-2]), Event("final", b"OK")]
        elif shape == "qfread":
            content = draw(st.binary(max_size=100))
            connect = b"CONNECT %d" % len(content)
            s.read(
                b"\r\n" + connect + b"\r\n" + content, Event("connect", connect, code=len(content))
            )
            s.read(b"\r\nOK\r\n", Event("body", content), Event("final", b"OK"))
        else:  # qird
            content = draw(CONTENT)
            line = b"+QIRD: %d" % len(content)
            s.read(b"\r\n" + line + b"\r\n" + content, Event("line", line), Event("body", content))
            s.read(b"\r\n\r\nOK\r\n", Event("final", b"OK"))
    return s


def play(tok: Tokenizer, session: Session, cuts: list[int]) -> list[Event]:
    """Run a session, cutting each read at the drawn relative positions."""
    events: list[Event] = []
    for step, data, kw in session.steps:
        if step == "sent":
            tok.sent(data, **kw)  # type: ignore[arg-type]
            continue
        points = sorted({c % (len(data) + 1) for c in cuts})
        for a, b in zip([0, *points], [*points, len(data)]):
            if b > a:
                events += tok.feed(data[a:b])
    return events


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(sessions(), st.lists(st.integers(0, 10_000), max_size=12))
def test_generated_sessions_give_the_expected_events_however_split(
    session: Session, cuts: list[int]
) -> None:
    assert play(Tokenizer(), session, []) == session.expected
    assert play(Tokenizer(), session, cuts) == session.expected


@SETTINGS
@given(sessions())
def test_generated_sessions_byte_at_a_time(session: Session) -> None:
    assert play(Tokenizer(), session, list(range(1, 2000))) == session.expected


def merge_bodies(events: list[Event]) -> list[Event]:
    out: list[Event] = []
    open_body = False
    for e in events:
        if open_body and e.kind == "body":
            last = out.pop()
            e = Event("body", last.data + e.data, e.code, None, e.more)
        out.append(e)
        open_body = e.kind == "body" and e.more
    return out


@SETTINGS
@given(sessions(), st.lists(st.integers(0, 10_000), max_size=12))
def test_streamed_bodies_concatenate_to_the_whole_body(session: Session, cuts: list[int]) -> None:
    events = play(Tokenizer(stream_bodies=True), session, cuts)
    assert all(e.more is False for e in events if e.kind != "body")
    assert merge_bodies(events) == session.expected


@SETTINGS
@given(sessions(), st.lists(st.integers(0, 10_000), max_size=12), st.integers(48, 100))
def test_small_max_body_chunks_concatenate_to_the_whole_body(
    session: Session, cuts: list[int], max_body: int
) -> None:
    tok = Tokenizer(max_body=max_body)
    events = play(tok, session, cuts)
    # (max_body >= 48: header blocks end and CoAP payloads fit within one chunk.)
    assert all(len(e.data) <= max_body for e in events if e.kind == "body")
    assert merge_bodies(events) == session.expected


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(st.binary(max_size=40), TRICKY), max_size=30),
    st.lists(st.integers(0, 5000), max_size=10),
    st.sampled_from([b"AT+QHTTPREAD=80\r", b'AT+QFDWL="x"\r', b"AT+QFREAD=1,9\r", b"ATI\r"]),
    st.one_of(st.none(), st.integers(0, 50)),
    st.booleans(),
)
def test_random_garbage_never_raises_and_any_split_agrees(
    pieces: list[bytes], cuts: list[int], cmd: bytes, length: int | None, headers: bool
) -> None:
    wire = b"".join(pieces)
    whole = Tokenizer(max_line=32, max_body=64)
    whole.sent(cmd, body_length=length, response_header=headers)
    expected = whole.feed(wire)
    assert all(e.kind in KINDS for e in expected)
    split = Tokenizer(max_line=32, max_body=64)
    split.sent(cmd, body_length=length, response_header=headers)
    points = sorted({c % (len(wire) + 1) for c in cuts})
    got = feed_all(split, [wire[a:b] for a, b in zip([0, *points], [*points, len(wire)])])
    assert got == expected
    assert (split.in_flight, split.buffered) == (whole.in_flight, whole.buffered)


def test_absurd_lengths_with_a_huge_max_body_are_invalid_not_an_abort() -> None:
    # Issue 10 item 12: before, this aborted the interpreter (SIGABRT).
    tok = Tokenizer(max_body=2**40)
    events = tok.feed(b"\r\n+QCOAPRECV: 0,1,2.05,0,,0,1000000000000\r\n")
    assert [e.kind for e in events] == ["invalid"]
    tok.sent(b"AT+QHTTPREAD=80\r", body_length=10**12)
    assert [e.kind for e in tok.feed(b"\r\nCONNECT\r\nabc")] == ["connect"]

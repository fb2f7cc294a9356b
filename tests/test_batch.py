"""``Tokenizer.feed_batch``: the same events as ``feed`` in columns, for any split
and stream mode; a kind filter keeps exactly the wanted kinds without changing
the framing of the rest; bad filters are typed errors.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpwa.tokenizer import KINDS, Batch, Event, Tokenizer
from test_tokenizer import Session, sessions

ALL_KINDS = ("echo", "line", "urc", "final", "connect", "prompt", "body", "invalid")


def play(tok: Tokenizer, session: Session, cuts: list[int], feed: Any) -> list[Any]:
    """Run a session through ``feed`` (a bound method), each read cut at ``cuts``."""
    out: list[Any] = []
    for step, data, kw in session.steps:
        if step == "sent":
            tok.sent(data, **kw)  # type: ignore[arg-type]
            continue
        points = sorted({c % (len(data) + 1) for c in cuts})
        for a, b in zip([0, *points], [*points, len(data)]):
            if b > a:
                out.append(feed(data[a:b]))
    return out


def test_kinds_are_the_event_kinds_in_code_order() -> None:
    assert KINDS == ALL_KINDS


def test_columns_of_a_small_stream() -> None:
    tok = Tokenizer()
    tok.sent(b"AT+QHTTPREAD=80\r", body_length=3)
    batch = tok.feed_batch(
        b"\r\n+CEREG: 1\r\n\r\nCONNECT\r\nabc\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n"
        b'\r\n+QCOAPRECV: 0,1,2.05,2,ab,1,"x",2\r\nhi\r\n+CME ERROR: 50\r\n'
    )
    assert isinstance(batch, Batch)
    assert len(batch) == 6
    assert [KINDS[k] for k in batch.kinds] == ["urc", "connect", "body", "final", "urc", "final"]
    assert batch.data == [
        b"+CEREG: 1",
        b"CONNECT",
        b"abc",
        b"OK",
        b'+QCOAPRECV: 0,1,2.05,2,ab,1,"x",2',
        b"+CME ERROR: 50",
    ]
    assert batch.codes == {2: 0, 5: 50}
    assert batch.payloads == {4: b"hi"}
    assert batch.more == frozenset()


def test_streamed_body_chunks_are_marked_more() -> None:
    tok = Tokenizer(stream_bodies=True)
    tok.sent(b"AT+QHTTPREAD=80\r", body_length=6)
    first = tok.feed_batch(b"\r\nCONNECT\r\nabc")
    second = tok.feed_batch(b"def\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n")
    assert first.events() == [Event("connect", b"CONNECT"), Event("body", b"abc", more=True)]
    assert first.more == frozenset({1})
    assert second.events() == [Event("body", b"def", code=0), Event("final", b"OK")]


@settings(max_examples=150, deadline=None)
@given(
    sessions(),
    st.lists(st.integers(0, 10_000), max_size=12),
    st.booleans(),
    st.sets(st.sampled_from(ALL_KINDS)),
)
def test_batches_are_feed_in_columns_however_split(
    session: Session, cuts: list[int], stream: bool, wanted: set[str]
) -> None:
    plain = Tokenizer(stream_bodies=stream, max_body=64)
    whole = Tokenizer(stream_bodies=stream, max_body=64)
    filtered = Tokenizer(stream_bodies=stream, max_body=64)
    expected = play(plain, session, cuts, plain.feed)
    batches = play(whole, session, cuts, whole.feed_batch)
    kept = play(filtered, session, cuts, lambda d: filtered.feed_batch(d, kinds=wanted))
    assert [b.events() for b in batches] == expected
    assert [b.data for b in batches] == [[e.data for e in events] for events in expected]
    assert [[KINDS[k] for k in b.kinds] for b in batches] == [
        [e.kind for e in events] for events in expected
    ]
    assert [b.events() for b in kept] == [
        [e for e in events if e.kind in wanted] for events in expected
    ]
    for tok in (whole, filtered):
        assert (tok.in_flight, tok.buffered) == (plain.in_flight, plain.buffered)


def test_an_empty_filter_keeps_nothing_but_frames_everything() -> None:
    tok = Tokenizer()
    assert len(tok.feed_batch(b"AT+CSQ\r\r\n+CSQ: 1,2", kinds=())) == 0
    assert tok.in_flight == "+CSQ"
    assert tok.feed_batch(b"\r\n\r\nOK\r\n", kinds=["line"]).data == [b"+CSQ: 1,2"]
    assert tok.in_flight is None


@pytest.mark.parametrize(
    ("kinds", "error"),
    [
        ("urc", TypeError),  # one name, not an iterable of names
        ([b"urc"], TypeError),
        (["urc", "bogus"], ValueError),
        (3, TypeError),
    ],
)
def test_a_bad_filter_is_refused_before_anything_is_framed(kinds: Any, error: type) -> None:
    tok = Tokenizer()
    with pytest.raises(error):
        tok.feed_batch(b"AT+CSQ\r", kinds=kinds)
    assert tok.buffered == 0 and tok.in_flight is None

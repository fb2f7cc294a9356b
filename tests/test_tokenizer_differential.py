"""Differential: the Rust tokenizer against the pure-Python reference
(``benches/reference_tokenizer.py``, same contract) on the same streams, split
the same way: identical events, ``in_flight`` and ``buffered``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lpwa.tokenizer import Tokenizer
from test_tokenizer import TRICKY, Session, play, sessions


def _load_reference() -> Any:
    path = Path(__file__).resolve().parents[1] / "benches" / "reference_tokenizer.py"
    spec = importlib.util.spec_from_file_location("reference_tokenizer", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("reference_tokenizer", module)
    spec.loader.exec_module(module)
    return module


reference = _load_reference()


def as_tuples(events: list[Any]) -> list[tuple[Any, ...]]:
    return [(e.kind, e.data, e.code, e.payload, e.more, e.name) for e in events]


COMMANDS = st.sampled_from(
    [
        b"AT+QHTTPREAD=80\r",
        b'AT+QFDWL="x"\r',
        b"AT+QFREAD=1,9\r",
        b"AT+QIRD=0,1500\r",
        b"ATI\r",
        b"AT+CPIN?\r",
        b"payload",
    ]
)


@settings(max_examples=150, deadline=None)
@given(sessions(), st.lists(st.integers(0, 10_000), max_size=12), st.booleans())
def test_generated_sessions_match_the_reference(
    session: Session, cuts: list[int], stream: bool
) -> None:
    rust = Tokenizer(stream_bodies=stream, max_body=64)
    python = reference.Tokenizer(stream_bodies=stream, max_body=64)
    assert as_tuples(play(rust, session, cuts)) == as_tuples(play(python, session, cuts))
    assert (rust.in_flight, rust.buffered) == (python.in_flight, python.buffered)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(
            COMMANDS,
            st.one_of(st.none(), st.integers(0, 60)),
            st.booleans(),
            st.lists(st.one_of(st.binary(max_size=24), TRICKY), max_size=16).map(b"".join),
        ),
        min_size=1,
        max_size=4,
    ),
    st.lists(st.integers(1, 40), min_size=1, max_size=8),
    st.integers(1, 40),
    st.integers(1, 80),
    st.booleans(),
)
def test_garbage_matches_the_reference(
    script: list[tuple[bytes, int | None, bool, bytes]],
    sizes: list[int],
    max_line: int,
    max_body: int,
    stream: bool,
) -> None:
    kw = {"max_line": max_line, "max_body": max_body, "stream_bodies": stream}
    results = []
    for tok in (Tokenizer(**kw), reference.Tokenizer(**kw)):  # type: ignore[arg-type]
        events: list[Any] = []
        k = 0
        for cmd, length, headers, wire in script:
            tok.sent(cmd, body_length=length, response_header=headers)
            while wire:
                n = sizes[k % len(sizes)]
                k += 1
                events += tok.feed(wire[:n])
                wire = wire[n:]
        results.append((as_tuples(events), tok.in_flight, tok.buffered))
    assert results[0] == results[1]

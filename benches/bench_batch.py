"""Batch decoding for a consumer that wants only the URCs: ``Tokenizer.feed_batch``
with a kind filter against pure-Python tokenizers that frame everything and
filter, as a Python programmer would.

Run: ``pytest benches/bench_batch.py --benchmark-only --benchmark-group-by=group``.

The stream is URC-heavy: ``bench_tokenizer``'s 10 MB of mixed exchanges with a
burst of network URCs every few exchanges (``URC_SHARE`` of its events are URCs,
printed in ``extra_info``), fed in 4 KiB reads with the host's ``sent()`` calls.
Every implementation reads each wanted event's kind and data. References, same
run: ``simple`` (``simple_tokenizer.py``: ``bytearray`` + ``find``, the simplest
idiomatic Python) and ``reference`` (``reference_tokenizer.py``, the full
contract). Target: ``batch`` >= 8x ``simple``.
"""

from __future__ import annotations

import random
from typing import Any, Callable

import pytest

from bench_tokenizer import mixed_script
from lpwa.tokenizer import KINDS, Tokenizer
from reference_tokenizer import Tokenizer as ReferenceTokenizer
from simple_tokenizer import SimpleTokenizer

URC_BURSTS = (
    b'\r\n+QIURC: "pdpdeact",1\r\n',
    b'\r\n+CEREG: 5,"1A2B","01C2D3E4",9\r\n',
    b"\r\n+QIND: SMS DONE\r\n\r\n+CPIN: READY\r\n",
    b'\r\n+QNTP: 0,"2026/12/01,04:42:58+00"\r\n',
)


def urc_heavy_stream(size: int, seed: int = 11) -> bytes:
    """``mixed_script``'s exchanges, echo on (as captured, so the echoes declare the
    commands), without its HTTP reads, and a URC burst after about one exchange in three."""
    rng = random.Random(seed)
    parts = []
    for cmd, wire, length in mixed_script(size, seed=seed):
        if length is not None:
            continue  # a QHTTPREAD body: its length comes from the host, not the wire
        if cmd is not None and not wire.startswith(cmd):
            wire = cmd + wire
        parts.append(wire)
        if rng.random() < 0.3:
            parts.append(rng.choice(URC_BURSTS))
    return b"".join(parts)


STREAM = urc_heavy_stream(10_000_000)
READS = [STREAM[i : i + 4096] for i in range(0, len(STREAM), 4096)]


def run_batch(reads: list[bytes]) -> int:
    """``feed_batch(kinds=("urc",))``: only the URCs are ever materialised."""
    feed_batch = Tokenizer().feed_batch
    names = KINDS
    wanted = ("urc",)
    count = 0
    for data in reads:
        batch = feed_batch(data, wanted)
        for kind, text in zip(batch.kinds, batch.data):
            names[kind]  # the consumer reads kind and data
            text  # noqa: B018
            count += 1
    return count


def run_events(make: Callable[[], Any], reads: list[bytes]) -> int:
    """``feed()`` then filter: ``Event`` objects (Rust, or the full-contract reference)."""
    feed = make().feed
    count = 0
    for data in reads:
        for event in feed(data):
            if event.kind == "urc":
                event.data  # noqa: B018
                count += 1
    return count


def run_simple(reads: list[bytes]) -> int:
    """The simplest pure-Python tokenizer: ``(kind, data)`` tuples, then filter."""
    feed = SimpleTokenizer().feed
    count = 0
    for data in reads:
        for kind, text in feed(data):
            if kind == "urc":
                text  # noqa: B018
                count += 1
    return count


RUNS: dict[str, Callable[[], int]] = {
    "batch": lambda: run_batch(READS),
    "feed": lambda: run_events(Tokenizer, READS),
    "simple": lambda: run_simple(READS),
    "reference": lambda: run_events(ReferenceTokenizer, READS),
}
EVENTS = [(e.kind, e.data) for e in Tokenizer().feed(STREAM)]
URCS = sum(kind == "urc" for kind, _ in EVENTS)
URC_SHARE = URCS / len(EVENTS)


def test_the_simple_tokenizer_frames_this_stream_like_the_rust_one() -> None:
    """The yardstick is fair: same (kind, data) events on this stream."""
    tok = SimpleTokenizer()
    assert [event for data in READS for event in tok.feed(data)] == EVENTS


@pytest.mark.parametrize("impl", list(RUNS))
def test_urcs_only_4k_reads(benchmark: Any, impl: str) -> None:
    benchmark.group = "URC consumer, URC-heavy 7.4 MB stream, 4 KiB reads"
    count = benchmark.pedantic(
        RUNS[impl], rounds=5 if impl in ("batch", "feed") else 2, iterations=1, warmup_rounds=1
    )
    assert count == URCS
    seconds = benchmark.stats.stats.mean
    benchmark.extra_info["MB_per_s"] = round(len(STREAM) / seconds / 1e6, 1)
    benchmark.extra_info["events"] = len(EVENTS)
    benchmark.extra_info["urc_share"] = round(URC_SHARE, 3)
    benchmark.extra_info["ns_per_event"] = round(seconds / len(EVENTS) * 1e9, 1)
